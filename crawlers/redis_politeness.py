"""Politeness across workers: per-domain pacing, Retry-After and rate-limit windows shared in Redis.

Each Scrapy process paces itself (AutoThrottle, CONCURRENT_REQUESTS_PER_DOMAIN, DOWNLOAD_DELAY), but four workers
pacing themselves send four times what one would. In a worker's crawl this downloader middleware adds what they
share, per host (`<prefix>:domain:<host>`, a hash):
- `next`: the earliest time the next request may go. Each request reserves its slot, DOWNLOAD_DELAY after the last
  one reserved by any worker (Reddit's 1 s: 60 requests a minute for the whole deployment, not per worker);
- `not_before`: a 429/503's `Retry-After`, or an exhausted `X-Ratelimit` window (crawlers.ratelimit), seen by one
  worker holds every worker back until then;
- `throttle`: the delay AutoThrottle learned for the host (from its latency). A worker that starts crawling the
  host starts there instead of at AUTOTHROTTLE_START_DELAY, so a worker joining a crawl does not spend its first
  seconds relearning what the others know (it keeps adapting on its own from then on).
Times are Redis's own clock (TIME inside the script), so hosts' clocks do not matter. A crawl outside a worker
(`groundswell crawl`, `groundswell run` without workers) does not use it.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Self

import redis
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

from crawlers.context import CrawlContext
from crawlers.middlewares import _pause, retry_after_seconds
from crawlers.ratelimit import _number, pause_before_next
from crawlers.redis_conn import key_prefix

log = logging.getLogger(__name__)

STAT_WAITS = "groundswell/shared_politeness_waits"

# KEYS: domain hash; ARGV: interval ms. Reserve the next slot; returns ms to wait before sending.
_RESERVE = """
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local at = math.max(now, tonumber(redis.call('hget', KEYS[1], 'not_before') or 0),
                    tonumber(redis.call('hget', KEYS[1], 'next') or 0))
if tonumber(ARGV[1]) > 0 then redis.call('hset', KEYS[1], 'next', at + tonumber(ARGV[1])) end
redis.call('pexpire', KEYS[1], 3600000)
return at - now
"""
# KEYS: domain hash; ARGV: pause ms. Nobody sends to this host before now + pause.
_HOLD = """
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ = now + tonumber(ARGV[1])
if until_ > tonumber(redis.call('hget', KEYS[1], 'not_before') or 0) then
  redis.call('hset', KEYS[1], 'not_before', until_)
end
redis.call('pexpire', KEYS[1], 3600000)
return until_
"""


class SharedPoliteness:
    """Downloader middleware of worker crawls (see the module docstring)."""

    def __init__(self, crawler: Crawler, client: redis.Redis, prefix: str, max_wait: float) -> None:
        self.crawler = crawler
        self.prefix = prefix
        self.max_wait = max_wait
        self.client = client
        self._reserve = client.register_script(_RESERVE)
        self._hold = client.register_script(_HOLD)
        self._complained = False
        self.autothrottle = crawler.settings.getbool("AUTOTHROTTLE_ENABLED")
        self._started: set[str] = set()  # download slots given the shared delay
        self._published = 0.0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        context = CrawlContext.of(crawler)
        if context.unit is None:
            raise NotConfigured("not a worker's crawl")
        return cls(crawler, context.redis, key_prefix(context.config),
                   crawler.settings.getfloat("RETRY_AFTER_MAX_WAIT", 120.0))

    def _key(self, request: Request) -> str:
        return f"{self.prefix}:domain:{urlparse_cached(request).hostname or ''}"

    def _interval(self) -> float:
        spider: Any = self.crawler.spider
        delay = getattr(spider, "download_delay", None)
        return float(delay if delay is not None else self.crawler.settings.getfloat("DOWNLOAD_DELAY", 0.0))

    def _slot(self, key: str | None) -> Any:
        downloader = getattr(self.crawler.engine, "downloader", None)
        return downloader.slots.get(key) if downloader is not None and key is not None else None

    def _learned_delay(self, request: Request) -> None:
        """Start this worker's download slot at the delay AutoThrottle learned on any worker."""
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        slot = self._slot(key)
        if slot is None or key in self._started:
            return
        self._started.add(key)
        shared = self.client.hget(self._key(request), "throttle")
        if shared is not None and float(shared) / 1000 < slot.delay:
            slot.delay = float(shared) / 1000

    async def process_request(self, request: Request) -> None:
        try:
            if self.autothrottle:
                self._learned_delay(request)
            wait_ms = int(self._reserve(keys=[self._key(request)], args=[int(self._interval() * 1000)]))
        except redis.RedisError as exc:  # pace ourselves only, as a single machine does
            self._complain(exc)
            return
        if wait_ms > 0:
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value(STAT_WAITS)
            await _pause(min(wait_ms / 1000, self.max_wait))

    def process_response(self, request: Request, response: Response) -> Response:
        slot = self._slot(request.meta.get("download_slot")) if self.autothrottle else None
        if slot is not None and time.monotonic() - self._published > 1.0:
            self._published = time.monotonic()
            try:  # AutoThrottle has adjusted the slot on this response already (response_downloaded)
                self.client.hset(self._key(request), "throttle", int(slot.delay * 1000))
            except redis.RedisError as exc:
                self._complain(exc)
        pause = 0.0
        if response.status in (429, 503):
            pause = retry_after_seconds(response.headers.get(b"Retry-After")) or 0.0
        remaining = _number(response.headers.get(b"X-Ratelimit-Remaining"))
        if remaining is not None and remaining < 1:
            pause = max(pause, pause_before_next(remaining, _number(response.headers.get(b"X-Ratelimit-Reset")),
                                                 self.max_wait))
        if pause > 0:
            try:
                self._hold(keys=[self._key(request)], args=[int(min(pause, self.max_wait) * 1000)])
            except redis.RedisError as exc:
                self._complain(exc)
        return response

    def _complain(self, exc: Exception) -> None:
        if not self._complained:
            log.error("shared politeness off (Redis does not answer: %s); this worker paces itself only", exc)
            self._complained = True
