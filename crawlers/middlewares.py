"""Downloader middlewares that keep retries polite: honour `Retry-After` on 429/503, and back off between retries.

Scrapy's RetryMiddleware retries 429 at once and ignores the header. RetryAfterMiddleware sees responses before it:
it waits what the site asked (capped, so a hostile header cannot park the crawl for a day) and re-sends the
request, at most RETRY_AFTER_TIMES times; after that the response goes on to the retries and the spider's errback.

Scrapy's own retries (5xx, timeouts, dropped connections) also go out at once, which hits a struggling site again
while it struggles. BackoffRetryMiddleware, which replaces it, waits RETRY_BACKOFF_BASE * 2^(n-1) seconds
(at most RETRY_BACKOFF_MAX) before the n-th retry.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater

from core import backoff

log = logging.getLogger(__name__)


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None when absent or bad."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryAfterMiddleware:
    def __init__(self, max_wait: float, max_times: int, stats: Any):
        self.max_wait = max_wait
        self.max_times = max_times
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> RetryAfterMiddleware:
        s = crawler.settings
        return cls(s.getfloat("RETRY_AFTER_MAX_WAIT", 120.0), s.getint("RETRY_AFTER_TIMES", 3), crawler.stats)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status not in (429, 503):
            return response
        wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        times = int(request.meta.get("retry_after_times", 0))
        if wait is None or times >= self.max_times:
            return response
        wait = min(wait, self.max_wait)
        self.stats.inc_value("groundswell/retry_after")
        log.info("%s answered %s: waiting %.1f s as Retry-After asks", request.url, response.status, wait)
        await _pause(wait)
        retry = request.replace(dont_filter=True)
        retry.meta["retry_after_times"] = times + 1
        return retry


async def _pause(seconds: float) -> None:
    from twisted.internet import reactor  # when used: importing it installs one (pipelines.batching._reactor)

    await maybe_deferred_to_future(deferLater(reactor, seconds, lambda: None))


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, each one waited for with exponential backoff (see the module docstring)."""

    def __init__(self, settings: BaseSettings):
        super().__init__(settings)
        self.base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.cap = settings.getfloat("RETRY_BACKOFF_MAX", 30.0)

    async def _after(self, retry: Request | Response | None) -> Request | Response | None:
        if isinstance(retry, Request):
            wait = backoff.delay(int(retry.meta.get("retry_times", 1)), self.base, self.cap)
            if wait > 0:
                if self.crawler.stats is not None:
                    self.crawler.stats.inc_value("groundswell/retry_backoffs")
                await _pause(wait)
        return retry

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        result = await self._after(super().process_response(request, response))
        assert result is not None
        return result

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        return await self._after(super().process_exception(request, exception))
