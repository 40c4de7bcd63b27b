"""One crawl unit in Redis: the crawl of one source's keyword, whichever workers share its pages.

A unit (`<prefix>:unit:<id>`) holds what its workers share:
- `spec`: what to crawl (source, spider, keyword, arguments), its status and, once done, its result;
- the request queue (crawlers.redis_queue) and scrapy-redis's dupe filter, so each page is fetched once;
- `seen`: the posts already emitted (a repost brings its original back on many pages, on any worker);
- `stats`: every worker's crawl stats, added up (each worker adds what it counted since its last checkpoint, in
  the same transaction that acknowledges the requests those counts came from, so nothing is counted twice);
- `paging`: where the search stream stopped (crawlers.paging state, handed from page to page in the requests,
  published by the worker that read the last search page): the owner saves the cursor from it;
- `stop`: a reason every worker closes for (a block, the time limit);
- `seeding`: claimed once, by the worker that sends the first requests.

The owner (the worker holding the unit's lease, groundswell.workers) finalizes: the cursor once, the run record
once, from the added-up stats. Helpers only fetch.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict, dataclass, field
from typing import Any

import redis


def text(value: Any) -> str:
    """A Redis reply as text (redis-py answers bytes unless told to decode)."""
    return value.decode() if isinstance(value, bytes) else str(value)


UNIT_TTL_SECONDS = 7 * 24 * 3600  # a finished unit's keys are kept this long (its result, for `status`)
NUMERIC = (int, float)


@dataclass(frozen=True)
class UnitSpec:
    """What to crawl: one keyword of one source (or one spider run), with its arguments."""

    unit_id: str
    spider: str
    keyword: str | None = None
    source: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    job_id: str | None = None  # the scheduler's job run this unit belongs to
    time_limit_seconds: float | None = None
    shared: bool = False  # its pages may be spread over several workers

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> UnitSpec:
        return cls(**json.loads(text))


# KEYS: seen hash (post key -> the entry that emitted it); ARGV: entry, keys. 1 where this entry emits the post.
_FIRST_SEEN = """
local out = {}
for i = 2, #ARGV do
  local by = redis.call('hget', KEYS[1], ARGV[i])
  if not by then
    redis.call('hset', KEYS[1], ARGV[i], ARGV[1])
    out[#out + 1] = 1
  elseif by == ARGV[1] and ARGV[1] ~= '' then
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
"""


class CrawlUnit:
    """Keys and state of one unit (see the module docstring)."""

    def __init__(self, client: redis.Redis, key_prefix: str, unit_id: str) -> None:
        self.client = client
        self.unit_id = unit_id
        self.key = f"{key_prefix}:unit:{unit_id}"
        self._first_seen = client.register_script(_FIRST_SEEN)

    # -- keys ------------------------------------------------------------------------------------------------

    @property
    def queue_key(self) -> str:
        return f"{self.key}:q"

    @property
    def dupefilter_key(self) -> str:
        return f"{self.key}:dupefilter"

    def _k(self, name: str) -> str:
        return f"{self.key}:{name}"

    def all_keys(self) -> list[str]:
        q = self.queue_key
        return [self._k(n) for n in ("spec", "seen", "stats", "paging", "stop", "seeding", "seeded")] + [
            self.dupefilter_key, f"{q}:pending", f"{q}:inflight", f"{q}:data", f"{q}:seq", f"{q}:data:owner",
            f"{q}:data:score"]

    # -- spec and status -------------------------------------------------------------------------------------

    def create(self, spec: UnitSpec) -> None:
        self.client.hset(self._k("spec"), mapping={"spec": spec.to_json(), "status": "queued"})

    def spec(self) -> UnitSpec | None:
        raw = self.client.hget(self._k("spec"), "spec")
        return UnitSpec.from_json(raw) if raw else None

    def status(self) -> str | None:
        raw = self.client.hget(self._k("spec"), "status")
        return raw.decode() if isinstance(raw, bytes) else raw

    def set_status(self, status: str, **fields: str) -> None:
        values: dict[str | bytes, str | bytes] = {"status": status}
        values.update(fields)
        self.client.hset(self._k("spec"), mapping=values)  # type: ignore[arg-type]

    def finish(self, result: dict[str, Any]) -> None:
        """Record the unit's result (read by the scheduler) and let its keys expire."""
        pipe = self.client.pipeline()
        pipe.hset(self._k("spec"), mapping={"status": "done", "result": json.dumps(result, default=str)})
        for key in self.all_keys():
            pipe.expire(key, UNIT_TTL_SECONDS)
        pipe.execute()

    def result(self) -> dict[str, Any] | None:
        raw = self.client.hget(self._k("spec"), "result")
        return json.loads(raw) if raw else None

    # -- seeding, stopping, done -----------------------------------------------------------------------------

    def owner(self) -> str | None:
        raw = self.client.hget(self._k("spec"), "owner")
        return None if raw is None else text(raw)

    def claim_seeding(self, owner: str, ttl_seconds: int = 300) -> bool:
        """Whether `owner` sends the first requests. The claim expires: should its worker die before the unit is
        seeded, the next owner seeds it."""
        if self.seeded():
            return False
        return bool(self.client.set(self._k("seeding"), owner, nx=True, ex=ttl_seconds))

    def mark_seeded(self) -> None:
        self.client.set(self._k("seeded"), 1)

    def seeded(self) -> bool:
        return bool(self.client.exists(self._k("seeded")))

    def stop(self, reason: str) -> None:
        """Every worker of the unit closes (the first reason given wins)."""
        self.client.set(self._k("stop"), reason, nx=True)

    def stop_reason(self) -> str | None:
        raw = self.client.get(self._k("stop"))
        return raw.decode() if isinstance(raw, bytes) else raw

    def outstanding(self) -> tuple[int, int]:
        """(pending, in flight) requests, all workers together."""
        pipe = self.client.pipeline()
        pipe.zcard(f"{self.queue_key}:pending")
        pipe.zcard(f"{self.queue_key}:inflight")
        pending, inflight = pipe.execute()
        return int(pending), int(inflight)

    def done(self) -> bool:
        """Seeded, and no request pending or in flight anywhere (a stopped unit is done too)."""
        if self.stop_reason():
            return True
        return self.seeded() and self.outstanding() == (0, 0)

    # -- shared crawl state ----------------------------------------------------------------------------------

    def first_seen(self, keys: list[str], entry: str = "") -> list[bool]:
        """For each post key, whether this request (queue entry) is the one that emits it in this unit: the first
        to see it, or the same request again (its worker died before acknowledging it, so its items may not have
        been stored: they are emitted again, not lost)."""
        if not keys:
            return []
        return [bool(x) for x in self._first_seen(keys=[self._k("seen")], args=[entry, *keys])]

    def add_stats(self, delta: dict[str, Any], pipe: Any) -> None:
        """Add one worker's counts (numbers are summed, texts kept) inside the caller's transaction."""
        numbers = {k: v for k, v in delta.items() if isinstance(v, NUMERIC) and not isinstance(v, bool) and v}
        texts = {k: str(v) for k, v in delta.items() if isinstance(v, str)}
        for k, v in numbers.items():
            if isinstance(v, int):
                pipe.hincrby(self._k("stats"), k, v)
            else:
                pipe.hincrbyfloat(self._k("stats"), k, v)
        if texts:
            pipe.hset(self._k("stats") + ":text", mapping=texts)

    def stats(self) -> dict[str, Any]:
        """Every worker's stats, added up."""
        out: dict[str, Any] = {}
        for k, v in self.client.hgetall(self._k("stats")).items():
            number = text(v)
            out[text(k)] = float(number) if "." in number else int(number)
        for k, v in self.client.hgetall(self._k("stats") + ":text").items():
            out[text(k)] = text(v)
        return out

    def publish_paging(self, state: dict[str, Any]) -> None:
        self.client.set(self._k("paging"), pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))

    def paging(self) -> dict[str, Any] | None:
        raw = self.client.get(self._k("paging"))
        # written by our own workers (see crawlers.redis_conn on trusting the Redis)
        loaded = pickle.loads(bytes(raw)) if isinstance(raw, bytes) else None
        return loaded if isinstance(loaded, dict) else None
