"""One active scheduler among several: a lease in Redis, the documented single-instance Redlock pattern.

Every `groundswell run` of a deployment tries to take the lease: `SET key token NX PX ttl`. The one that gets it
runs the schedule and renews the lease every third of its time to live, with a Lua script that extends it only
while the key still holds its own token; the others stand by and try again every second. When the holder dies
its lease simply expires, and a standby takes over within `redis.lease_seconds` (plus a second). A holder that
cannot renew in time (Redis gone, the process frozen) stops scheduling before its lease can have expired, so two
schedulers never run the schedule at once; it releases the lease on a clean stop (compare-and-delete, Lua), so
that a standby takes over at once. See https://redis.io/docs/latest/develop/use/patterns/distributed-locks/.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

import redis

log = logging.getLogger("groundswell.scheduler")

# extend / delete only while the key still holds our token
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class Lease:
    """The scheduler lease of one deployment (`<key prefix>:scheduler:lease`)."""

    def __init__(self, client: redis.Redis, key: str, ttl_seconds: float) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = int(ttl_seconds * 1000)
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held_until = 0.0  # time.monotonic() by which the lease surely still is ours
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    @property
    def renew_every(self) -> float:
        return self.ttl_ms / 3000

    def acquire(self) -> bool:
        """Take the lease if nobody holds it (redis errors propagate: the caller stands by and retries)."""
        sent = time.monotonic()
        if self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            self.held_until = sent + self.ttl_ms / 1000
            return True
        return False

    def renew(self) -> bool:
        """Extend our lease; False when it is not ours any more (expired, taken over) or Redis does not answer."""
        sent = time.monotonic()
        try:
            ok = bool(self._renew(keys=[self.key], args=[self.token, self.ttl_ms]))
        except redis.RedisError as exc:
            log.warning("scheduler lease not renewed: %s", exc)
            return self.valid()
        if ok:
            self.held_until = sent + self.ttl_ms / 1000
        return ok

    def valid(self, margin: float = 1.0) -> bool:
        """Whether the lease is surely still ours for `margin` seconds (measured from when we last set it)."""
        return time.monotonic() + margin < self.held_until

    def release(self) -> None:
        try:
            self._release(keys=[self.key], args=[self.token])
        except redis.RedisError as exc:
            log.warning("scheduler lease not released (it expires by itself): %s", exc)
        self.held_until = 0.0

    def holder(self) -> str | None:
        """Who holds the lease now (host:pid:nonce), for the standby's message."""
        value = self.client.get(self.key)
        return value.decode() if isinstance(value, bytes) else value
