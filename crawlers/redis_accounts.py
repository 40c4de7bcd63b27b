"""Platform accounts across workers: each account leased to one worker at a time, retired for all at a wall.

Two workers sending the same session cookie look like one account logged in twice, which platforms punish; an
account one worker saw hit the login wall is dead for every worker. So in a worker's crawl, accounts.py does not
rotate freely: the worker leases one account per platform (`SET <prefix>:accounts:<platform>:<id> token NX PX`,
renewed while used, released at the end of the crawl with compare-and-delete), uses it alone, and on a wall adds
it to the platform's retired set (`SADD`) and leases the next free one. Accounts are named by a digest of their
cookie, never the cookie itself.
"""

from __future__ import annotations

import hashlib
import time

import redis

_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def account_id(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()[:16]


class AccountLeases:
    """One worker's leases of platform accounts (see the module docstring)."""

    def __init__(self, client: redis.Redis, prefix: str, token: str, ttl_seconds: float = 120.0) -> None:
        self.client = client
        self.prefix = prefix
        self.token = token
        self.ttl_ms = int(ttl_seconds * 1000)
        self.held: dict[str, tuple[int, str, float]] = {}  # platform -> (index, account id, renewed at)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def _lease_key(self, platform: str, aid: str) -> str:
        return f"{self.prefix}:accounts:{platform}:{aid}"

    def _retired_key(self, platform: str) -> str:
        return f"{self.prefix}:accounts:{platform}:retired"

    def current(self, platform: str, cookies: list[str]) -> int | None:
        """The account this worker uses for the platform: the one it holds (renewed), else a free one it leases
        now; None when every account is leased by another worker or retired."""
        held = self.held.get(platform)
        if held is not None:
            index, aid, renewed = held
            if time.monotonic() - renewed < self.ttl_ms / 3000:
                return index
            if self._renew(keys=[self._lease_key(platform, aid)], args=[self.token, self.ttl_ms]):
                self.held[platform] = (index, aid, time.monotonic())
                return index
            self.held.pop(platform)  # expired and taken (we were frozen): pick again
        retired = {m.decode() if isinstance(m, bytes) else str(m)
                   for m in self.client.smembers(self._retired_key(platform))}
        for index, cookie in enumerate(cookies):
            aid = account_id(cookie)
            if not cookie or aid in retired:
                continue
            if self.client.set(self._lease_key(platform, aid), self.token, nx=True, px=self.ttl_ms):
                self.held[platform] = (index, aid, time.monotonic())
                return index
        return None

    def retire(self, platform: str, cookie: str) -> None:
        """The account hit the login wall: dead for every worker."""
        aid = account_id(cookie)
        self.client.sadd(self._retired_key(platform), aid)
        self._release(keys=[self._lease_key(platform, aid)], args=[self.token])
        held = self.held.get(platform)
        if held is not None and held[1] == aid:
            self.held.pop(platform)

    def retired(self, platform: str, cookie: str) -> bool:
        return bool(self.client.sismember(self._retired_key(platform), account_id(cookie)))

    def release_all(self) -> None:
        for platform, (_index, aid, _at) in list(self.held.items()):
            self._release(keys=[self._lease_key(platform, aid)], args=[self.token])
        self.held.clear()
