"""Honour `X-Ratelimit-Remaining` / `X-Ratelimit-Reset`, the headers Reddit's API sends with every answer.

Reddit's API rules (github.com/reddit/reddit/wiki/API): at most 60 requests a minute per OAuth client; every
response says how many are left in the current window (`X-Ratelimit-Remaining`) and in how many seconds it
resets (`X-Ratelimit-Reset`). Running into the limit earns a 429, which Groundswell treats as a block. So when
few requests are left, the rest are spread over what remains of the window, and none is sent once it is used
up until it resets. Responses without the headers change nothing.
"""

from __future__ import annotations

import time
from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from crawlers.middlewares import _pause

SPREAD_BELOW = 10.0  # with fewer requests left than this, spread them over the rest of the window
STAT_WAITS = "groundswell/ratelimit_waits"


def _number(value: bytes | str | None) -> float | None:
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    try:
        number = float(text.strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def pause_before_next(remaining: float | None, reset: float | None, cap: float) -> float:
    """Seconds to wait before the next request, from the two headers (None: absent or unreadable)."""
    if remaining is None or reset is None:
        return 0.0
    if remaining < 1:
        return min(cap, reset)
    if remaining < SPREAD_BELOW:
        return min(cap, reset / remaining)
    return 0.0


class RateLimitHeaders:
    """Downloader middleware: no request goes out before the pause the last rate-limit headers asked for."""

    def __init__(self, crawler: Crawler, cap: float):
        self.crawler = crawler
        self.cap = cap
        self.not_before = 0.0  # time.monotonic() instant

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler, crawler.settings.getfloat("RATELIMIT_MAX_WAIT", 600.0))

    async def process_request(self, request: Request) -> None:
        wait = self.not_before - time.monotonic()
        if wait > 0:
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value(STAT_WAITS)
            await _pause(wait)

    def process_response(self, request: Request, response: Response) -> Response:
        remaining = _number(response.headers.get(b"X-Ratelimit-Remaining"))
        pause = pause_before_next(remaining, _number(response.headers.get(b"X-Ratelimit-Reset")), self.cap)
        if pause > 0:
            self.not_before = max(self.not_before, time.monotonic() + pause)
        return response
