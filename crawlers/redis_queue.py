"""A reliable request queue in Redis, shared by every worker crawling one crawl unit.

scrapy-redis's queues pop destructively (`ZRANGE` + `ZREMRANGEBYRANK`, `RPOP`): a worker killed between the pop and
the end of the request's work loses it. This queue is Redis's documented reliable-queue pattern (a processing list
beside the pending one: https://redis.io/docs/latest/commands/lmove/#pattern-reliable-queue) with a visibility
timeout, and keeps scrapy-redis's own request encoding (`scrapy_redis.queue.Base`: `request.to_dict` + pickle):

- pending: a sorted set of entry ids, ordered by Scrapy priority, then newest first (as Scrapy's own memory queue:
  a crawl goes depth first, so a chain of pages, comments after posts, finishes instead of waiting behind every
  other request); the encoded requests are in a hash;
- `pop` moves an entry to the in-flight set, scored with its deadline (Redis's own clock, so hosts' clocks do not
  matter); the worker renews the deadlines of what it holds, and `ack`s an entry once its work is durable;
- `requeue_expired` puts back in-flight entries past their deadline: their worker died; any worker runs it;
- `release` hands entries back at once (a worker stopping cleanly).

Every step is one Lua script, so it is atomic: an entry is always in exactly one of pending or in flight.
"""

from __future__ import annotations

from typing import Any

import redis
from scrapy import Request, Spider
from scrapy_redis.queue import Base

# KEYS: pending, data, seq; ARGV: score base (-priority), payload. Returns the entry id. Newest first.
_PUSH = """
local n = redis.call('incr', KEYS[3])
local id = tostring(n)
redis.call('hset', KEYS[2], id, ARGV[2])
redis.call('zadd', KEYS[1], tonumber(ARGV[1]) - n / 1e12, id)
return id
"""
# KEYS: pending, inflight, data; ARGV: visibility ms, owner. Returns {id, payload} or nil.
_POP = """
local popped = redis.call('zpopmin', KEYS[1])
if #popped == 0 then return nil end
local id = popped[1]
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('zadd', KEYS[2], now + tonumber(ARGV[1]), id)
redis.call('hset', KEYS[3] .. ':owner', id, ARGV[2])
redis.call('hset', KEYS[3] .. ':score', id, popped[2])
return {id, redis.call('hget', KEYS[3], id)}
"""
# KEYS: inflight, data; ARGV: ids. Forget entries whose work is done.
_ACK = """
local n = 0
for _, id in ipairs(ARGV) do
  n = n + redis.call('zrem', KEYS[1], id)
  redis.call('hdel', KEYS[2], id)
  redis.call('hdel', KEYS[2] .. ':owner', id)
  redis.call('hdel', KEYS[2] .. ':score', id)
end
return n
"""
# KEYS: inflight, pending, data; ARGV: ids. Back to pending at their old place.
_RELEASE = """
local n = 0
for _, id in ipairs(ARGV) do
  if redis.call('zrem', KEYS[1], id) == 1 then
    local score = redis.call('hget', KEYS[3] .. ':score', id) or '0'
    redis.call('zadd', KEYS[2], tonumber(score), id)
    redis.call('hdel', KEYS[3] .. ':owner', id)
    n = n + 1
  end
end
return n
"""
# KEYS: inflight, pending, data. In-flight entries past their deadline go back to pending.
_EXPIRED = """
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('zrangebyscore', KEYS[1], '-inf', now)
for _, id in ipairs(ids) do
  redis.call('zrem', KEYS[1], id)
  local score = redis.call('hget', KEYS[3] .. ':score', id) or '0'
  redis.call('zadd', KEYS[2], tonumber(score), id)
  redis.call('hdel', KEYS[3] .. ':owner', id)
end
return #ids
"""
# KEYS: inflight; ARGV: visibility ms, ids. Push the deadlines of entries still held (only those still in flight).
_RENEW = """
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = 0
for i = 2, #ARGV do
  n = n + redis.call('zadd', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i])
end
return n
"""


class ReliableQueue(Base):
    """The pending and in-flight requests of one crawl unit under `key` (see the module docstring)."""

    def __init__(self, server: redis.Redis, spider: Spider, key: str, visibility_seconds: float, owner: str,
                 serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self.pending, self.inflight, self.data, self.seq = (f"{key}:pending", f"{key}:inflight", f"{key}:data",
                                                            f"{key}:seq")
        self.visibility_ms = int(visibility_seconds * 1000)
        self.owner = owner
        self._push = server.register_script(_PUSH)
        self._pop = server.register_script(_POP)
        self._ack = server.register_script(_ACK)
        self._release = server.register_script(_RELEASE)
        self._expired = server.register_script(_EXPIRED)
        self._renew = server.register_script(_RENEW)

    def encode(self, request: Request) -> bytes:
        """The request as scrapy-redis stores it; raises (ValueError, pickling errors) when it cannot travel."""
        data: bytes = self._encode_request(request)
        return data

    def push_encoded(self, data: bytes, priority: int) -> str:
        entry = self._push(keys=[self.pending, self.data, self.seq], args=[-priority, data])
        return entry.decode() if isinstance(entry, bytes) else str(entry)

    def push(self, request: Request) -> str:
        return self.push_encoded(self.encode(request), request.priority)

    def pop_entry(self) -> tuple[str, Request] | None:
        found = self._pop(keys=[self.pending, self.inflight, self.data], args=[self.visibility_ms, self.owner])
        if not found:
            return None
        entry, data = found
        entry = entry.decode() if isinstance(entry, bytes) else str(entry)
        if data is None:  # acked meanwhile by a worker that held it past its deadline: nothing left to do
            self.ack([entry])
            return None
        return entry, self._decode_request(data)

    def pop(self, timeout: int = 0) -> Request | None:
        found = self.pop_entry()
        return found[1] if found else None

    def ack(self, entries: list[str], pipe: Any = None) -> None:
        if entries:
            self._ack(keys=[self.inflight, self.data], args=entries, client=pipe)

    def release(self, entries: list[str]) -> int:
        return int(self._release(keys=[self.inflight, self.pending, self.data], args=entries)) if entries else 0

    def renew(self, entries: list[str]) -> None:
        if entries:
            self._renew(keys=[self.inflight], args=[self.visibility_ms, *entries])

    def requeue_expired(self) -> int:
        return int(self._expired(keys=[self.inflight, self.pending, self.data]))

    def pending_count(self) -> int:
        return int(self.server.zcard(self.pending))

    def inflight_count(self) -> int:
        return int(self.server.zcard(self.inflight))

    def __len__(self) -> int:
        return self.pending_count()

    def clear(self) -> None:
        self.server.delete(self.pending, self.inflight, self.data, self.seq, f"{self.data}:owner",
                           f"{self.data}:score")
