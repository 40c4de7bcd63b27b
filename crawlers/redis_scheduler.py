"""The Scrapy scheduler of a shared crawl unit: every worker crawling the unit pushes and pops the same Redis queue.

Why not scrapy-redis's Scheduler: it pops destructively (a killed worker loses what it held) and, unless told to
persist, its close() flushes the shared queue and dupe filter under the other workers' feet. Its dupe filter
(`scrapy_redis.dupefilter.RFPDupeFilter`) and request encoding work with Scrapy 2.19 and are used as they are; the
queue is crawlers.redis_queue (reliable, with a visibility timeout), the glue is this class.

A request popped here is held until its work is durable, then acknowledged. Scrapy keeps a request in the engine's
in-progress set until its callback's output went through (its items past every pipeline stage, its new requests
scheduled); once it left that set, the next checkpoint (every second) asks the buffering stages to make their items
durable (the `checkpoint` signal: the Elasticsearch stage writes or spools what it holds), then adds this worker's
stats and acknowledges those requests in one transaction. A worker killed at any point leaves its unacknowledged
requests in flight; their deadline passes and any worker puts them back. Their items may be written twice: mention
ids make that a no-op.

Requests that cannot travel (a closure in their callback arguments; anything marked `gs_local`, such as a worker's
own session requests) stay in this worker's memory, as Scrapy's disk queues keep unserializable requests in memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any, Self

import redis
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy_redis.dupefilter import RFPDupeFilter
from twisted.internet.task import LoopingCall

from crawlers.context import CrawlContext
from crawlers.redis_crawl import CrawlUnit
from crawlers.redis_queue import ReliableQueue
from crawlers.signals import checkpoint

log = logging.getLogger(__name__)

LOCAL = "gs_local"  # meta flag: this request stays with the worker that made it
ENTRY = "gs_entry"  # meta: the queue entry a popped request came from
# stats that are not counts of work: never added up across workers
_NOT_ADDITIVE = ("start_time", "finish_time", "finish_reason", "elapsed_time_seconds", "memusage/", "log_count/")


def stats_delta(now: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """What a worker counted since its last checkpoint: numbers as differences, texts when they changed."""
    out: dict[str, Any] = {}
    for key, value in now.items():
        if key.startswith(_NOT_ADDITIVE) or isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            diff = value - before.get(key, 0)
            if diff:
                out[key] = diff
        elif isinstance(value, str) and before.get(key) != value:
            out[key] = value
    return out


class RedisScheduler:
    """Scrapy scheduler over the unit's reliable queue (see the module docstring)."""

    def __init__(self, crawler: Crawler, unit: CrawlUnit, visibility: float, owner: str, every: float) -> None:
        self.crawler = crawler
        self.unit = unit
        self.visibility = visibility
        self.owner = owner
        self.every = every
        self.local: deque[Request] = deque()
        self.held: dict[str, Request] = {}
        self.queue: ReliableQueue | None = None
        self.df: RFPDupeFilter | None = None
        self.pushed_stats: dict[str, Any] = {}
        self._done_cache: tuple[float, bool] = (0.0, False)
        self._loop: LoopingCall | None = None
        self._stopping = False
        self._complained = False
        self._complained_engine = False
        self._closing: asyncio.Future[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        context = CrawlContext.of(crawler)
        unit = context.unit
        if unit is None:
            raise ValueError("RedisScheduler needs a crawl unit (the GROUNDSWELL_UNIT setting): workers set it")
        cfg = context.config.redis
        owner = crawler.settings.get("GROUNDSWELL_WORKER_ID") or "worker"
        return cls(crawler, unit, cfg.visibility_seconds, owner, crawler.settings.getfloat("GROUNDSWELL_CHECKPOINT",
                                                                                           1.0))

    # -- Scrapy's scheduler interface ------------------------------------------------------------------------

    def open(self, spider: Spider) -> None:
        self.queue = ReliableQueue(self.unit.client, spider, self.unit.queue_key, self.visibility, self.owner)
        self.df = RFPDupeFilter(self.unit.client, key=self.unit.dupefilter_key,
                                debug=self.crawler.settings.getbool("DUPEFILTER_DEBUG"))
        self._loop = LoopingCall(self.checkpoint)
        self._loop.start(self.every, now=False).addErrback(lambda f: log.error("checkpoint loop: %s", f.value))

    def close(self, reason: str) -> None:
        """The pipelines have flushed: acknowledge what this worker finished, hand back what it did not."""
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        try:
            self._checkpoint(flush=False)
            if self.held and self.queue is not None:
                released = self.queue.release(list(self.held))
                log.info("%s: %d request(s) handed back to the other workers", self.unit.unit_id, released)
                self.held.clear()
        except redis.RedisError as exc:
            log.error("%s: cannot reach Redis at close (%s); what this worker held goes back to the queue after "
                      "the visibility timeout", self.unit.unit_id, exc)
        if self.local:
            log.warning("%s: %d local request(s) not crawled (closed: %s)", self.unit.unit_id, len(self.local),
                        reason)

    def has_pending_requests(self) -> bool:
        if self.local:
            return True
        return not self._unit_done()

    def enqueue_request(self, request: Request) -> bool:
        assert self.queue is not None and self.df is not None
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.crawler.spider)
            return False
        request.meta.pop(ENTRY, None)  # a retry or redirect of a held request is a request of its own
        if request.meta.get(LOCAL):
            self.local.append(request)
            return True
        try:
            data = self.queue.encode(request)
        except Exception as exc:  # a closure or a live object in it: it stays here (Scrapy does the same on disk)
            log.warning("%s cannot be shared with other workers (%s: %s); crawling it here", request.url,
                        type(exc).__name__, exc)
            self._inc("groundswell/unshared_requests")
            self.local.append(request)
            return True
        self.queue.push_encoded(data, request.priority)
        self._inc("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        if self.local:
            return self.local.popleft()
        if self._stopping or self.queue is None or not getattr(self.crawler.spider, "session_ready", True):
            return None
        try:
            found = self.queue.pop_entry()
        except redis.RedisError as exc:
            self._complain(exc)
            return None
        if found is None:
            return None
        entry, request = found
        request.meta[ENTRY] = entry
        self.held[entry] = request
        self._inc("scheduler/dequeued/redis")
        return request

    # -- checkpoints -----------------------------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Every second: durable items, acknowledged requests, renewed deadlines, dead workers' requests back."""
        try:
            self._checkpoint(flush=True)
            assert self.queue is not None
            self.queue.renew(list(self.held))
            self.queue.requeue_expired()
            self._follow_unit()
        except redis.RedisError as exc:
            self._complain(exc)

    def _checkpoint(self, flush: bool) -> None:
        """flush=False: at close, when the engine has let every request it started finish."""
        slot = getattr(self.crawler.engine, "_slot", None)
        # Scrapy's own bookkeeping: a request leaves the engine's in-progress set once its output is processed.
        # Should a Scrapy version keep it elsewhere, nothing is acknowledged before the close (safe, only later).
        busy: set[Request] | None = getattr(slot, "inprogress", None)
        if busy is None and flush and not self._complained_engine:
            self._complained_engine = True
            log.error("this Scrapy keeps no engine in-progress set: requests are acknowledged only at the close")
        if busy is None:
            busy = set(self.held.values()) if flush else set()
        settled = [entry for entry, request in self.held.items() if request not in busy]
        if flush:
            self.crawler.signals.send_catch_log(checkpoint)
        current = dict(self.crawler.stats.get_stats()) if self.crawler.stats is not None else {}
        delta = stats_delta(current, self.pushed_stats)
        if not settled and not delta:
            return
        assert self.queue is not None
        pipe = self.unit.client.pipeline(transaction=True)
        self.unit.add_stats(delta, pipe)
        self.queue.ack(settled, pipe)
        pipe.execute()
        self.pushed_stats = current
        for entry in settled:
            del self.held[entry]

    def _unit_done(self) -> bool:
        at, done = self._done_cache
        if time.monotonic() - at < 0.25:
            return done
        try:
            done = self.unit.done()
        except redis.RedisError as exc:
            self._complain(exc)
            done = False
        self._done_cache = (time.monotonic(), done)
        return done

    def _follow_unit(self) -> None:
        """Close when the unit was stopped (a block, the time limit); wake the engine when work is waiting."""
        reason = self.unit.stop_reason()
        if reason and not self._stopping:
            self._stopping = True
            log.info("%s: stopped (%s); closing this worker's part", self.unit.unit_id, reason)
            self._closing = asyncio.ensure_future(self.crawler.engine.close_spider_async(reason=reason))
            return
        pending, _ = self.unit.outstanding()
        slot = getattr(self.crawler.engine, "_slot", None)
        # the engine asks an empty scheduler again only every few seconds (its heartbeat): wake it when work is
        # waiting, and when the unit is done, so that it closes now rather than at its next heartbeat
        self._done_cache = (0.0, False)
        if slot is not None and ((pending and not self.crawler.engine.needs_backout()) or self._unit_done()):
            slot.nextcall.schedule()

    def _inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

    def _complain(self, exc: Exception) -> None:
        if not self._complained:
            log.error("%s: Redis does not answer (%s); requests held here go back to the queue after the "
                      "visibility timeout", self.unit.unit_id, exc)
            self._complained = True
