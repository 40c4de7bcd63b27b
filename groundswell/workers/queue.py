"""Crawl units waiting for workers, and who crawls what: Redis lists and sorted sets, Lua for each atomic step.

- `units:ready` (list): units the scheduler enqueued (`groundswell run`, or `enqueue` directly), oldest first;
- `units:leases` (sorted set, scored by deadline on Redis's clock) and `units:owner` (hash): which worker owns each
  unit being crawled. The owner renews its lease while it crawls; a unit whose owner died goes back to the front
  of `units:ready` once its lease is past, and the next worker to ask takes it over (a shared unit's requests are
  still in its queue; an unshared one is crawled again from its cursor, which only a finished crawl moves);
- `units:open` (sorted set): shared units being crawled, which idle workers join as helpers;
- `workers` (hash): every worker's last heartbeat, for `groundswell status` and the scheduler's warnings.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis

from crawlers.redis_crawl import CrawlUnit, UnitSpec, text

# KEYS: ready, leases, owner; ARGV: lease ms, worker. Expired leases back to the front, then take the oldest.
_TAKE = """
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, id in ipairs(redis.call('zrangebyscore', KEYS[2], '-inf', now)) do
  redis.call('zrem', KEYS[2], id)
  redis.call('hdel', KEYS[3], id)
  redis.call('rpush', KEYS[1], id)
end
local id = redis.call('rpop', KEYS[1])
if not id then return nil end
redis.call('zadd', KEYS[2], now + tonumber(ARGV[1]), id)
redis.call('hset', KEYS[3], id, ARGV[2])
return id
"""
# KEYS: leases, owner; ARGV: lease ms, worker, ids. Renew the leases this worker still owns.
_RENEW = """
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local kept = {}
for i = 3, #ARGV do
  if redis.call('hget', KEYS[2], ARGV[i]) == ARGV[2] then
    redis.call('zadd', KEYS[1], now + tonumber(ARGV[1]), ARGV[i])
    table.insert(kept, ARGV[i])
  end
end
return kept
"""
# KEYS: leases, owner, ready; ARGV: worker, id, requeue (1/0). Give a unit up: done, or back to the front.
_RELEASE = """
if redis.call('hget', KEYS[2], ARGV[2]) ~= ARGV[1] then return 0 end
redis.call('zrem', KEYS[1], ARGV[2])
redis.call('hdel', KEYS[2], ARGV[2])
if ARGV[3] == '1' then redis.call('rpush', KEYS[3], ARGV[2]) end
return 1
"""


@dataclass(frozen=True)
class WorkerInfo:
    worker_id: str
    host: str
    pid: int
    seen_seconds_ago: float
    running: list[str]


class UnitQueue:
    """The deployment's crawl units (see the module docstring)."""

    def __init__(self, client: redis.Redis, key_prefix: str, lease_seconds: float = 30.0) -> None:
        self.client = client
        self.prefix = key_prefix
        self.lease_ms = int(lease_seconds * 1000)
        self.ready, self.leases, self.owner = (f"{key_prefix}:units:ready", f"{key_prefix}:units:leases",
                                               f"{key_prefix}:units:owner")
        self.open_key = f"{key_prefix}:units:open"
        self.workers_key = f"{key_prefix}:workers"
        self._take = client.register_script(_TAKE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def unit(self, unit_id: str) -> CrawlUnit:
        return CrawlUnit(self.client, self.prefix, unit_id)

    # -- the scheduler's side --------------------------------------------------------------------------------

    def enqueue(self, spec: UnitSpec) -> CrawlUnit:
        unit = self.unit(spec.unit_id)
        unit.create(spec)
        self.client.lpush(self.ready, spec.unit_id)
        return unit

    def waiting(self) -> int:
        return int(self.client.llen(self.ready))

    # -- the workers' side -----------------------------------------------------------------------------------

    def take(self, worker_id: str) -> UnitSpec | None:
        """The oldest ready unit (or one whose owner died), now leased to this worker."""
        found = self._take(keys=[self.ready, self.leases, self.owner], args=[self.lease_ms, worker_id])
        if found is None:
            return None
        unit_id = found.decode() if isinstance(found, bytes) else str(found)
        spec = self.unit(unit_id).spec()
        if spec is None:  # its keys expired (an old unit): nothing to crawl
            self.release(worker_id, unit_id, requeue=False)
        return spec

    def renew(self, worker_id: str, unit_ids: list[str]) -> set[str]:
        """Renew this worker's leases; the ids it still owns."""
        if not unit_ids:
            return set()
        kept = self._renew(keys=[self.leases, self.owner], args=[self.lease_ms, worker_id, *unit_ids])
        return {k.decode() if isinstance(k, bytes) else str(k) for k in kept}

    def release(self, worker_id: str, unit_id: str, requeue: bool) -> bool:
        """Done with a unit (requeue=False), or hand it to another worker first in line (a clean stop)."""
        self.client.zrem(self.open_key, unit_id)
        return bool(self._release(keys=[self.leases, self.owner, self.ready],
                                  args=[worker_id, unit_id, "1" if requeue else "0"]))

    def open(self, unit_id: str) -> None:
        """A shared unit being crawled: idle workers may join it."""
        self.client.zadd(self.open_key, {unit_id: time.time()}, nx=True)

    def close(self, unit_id: str) -> None:
        self.client.zrem(self.open_key, unit_id)

    def open_units(self) -> list[str]:
        return [u.decode() if isinstance(u, bytes) else str(u) for u in self.client.zrange(self.open_key, 0, -1)]

    # -- who is there ----------------------------------------------------------------------------------------

    def heartbeat(self, worker_id: str, info: dict[str, Any]) -> None:
        self.client.hset(self.workers_key, worker_id, json.dumps({**info, "seen": time.time()}))

    def leave(self, worker_id: str) -> None:
        self.client.hdel(self.workers_key, worker_id)

    def workers(self, alive_within: float = 30.0) -> list[WorkerInfo]:
        """Workers seen in the last `alive_within` seconds (hosts' clocks are assumed to agree to a second)."""
        out = []
        now = time.time()
        for wid, raw in self.client.hgetall(self.workers_key).items():
            info = json.loads(raw)
            age = now - float(info.get("seen", 0))
            if age <= alive_within:
                out.append(WorkerInfo(text(wid), info.get("host", "?"), int(info.get("pid", 0)), age,
                                      list(info.get("running", []))))
        return sorted(out, key=lambda w: w.worker_id)
