"""Downloader middleware: honour `Retry-After` on 429/503 instead of hammering a site that asked us to wait.

Scrapy's RetryMiddleware retries 429 at once and ignores the header. This one sees responses before it: it waits what
the site asked (capped, so a hostile header cannot park the crawl for a day) and re-sends the request, at
most RETRY_AFTER_TIMES times; after that the response goes on to RetryMiddleware and the spider's errback.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy import Request
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import reactor
from twisted.internet.task import deferLater

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
        await maybe_deferred_to_future(deferLater(reactor, wait, lambda: None))
        retry = request.replace(dont_filter=True)
        retry.meta["retry_after_times"] = times + 1
        return retry
