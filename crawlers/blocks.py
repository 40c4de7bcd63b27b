"""Blocks seen in raw responses, before Scrapy retries or follows them.

A platform that blocks us answers with a status or a redirect (Weibo 432 or a passport redirect, Reddit 403/429,
JD's login redirect, Xiaohongshu 461/471). Retrying those only gets refused again (and looks more like a bot), and
following the redirect parses a login page as if it were content. So this downloader middleware sits above the
retry and redirect middlewares (responses pass middlewares from high to low numbers), asks the spider whether the
response is a block (`GroundswellSpider.blocked_signal`, per platform) and, if so, fails the request with
BlockedResponse; the spider's errback then records the signal and closes the crawl as `blocked`.
"""

from __future__ import annotations

from typing import Any, Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

STAT_BLOCKED_RESPONSES = "groundswell/blocked_responses"


class BlockedResponse(IgnoreRequest):
    """A response that carries a platform's block signal; str() is the signal ("weibo: HTTP 432 ...")."""


class BlockDetection:
    """Downloader middleware: turn a platform's block answer into BlockedResponse (see the module docstring)."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        spider: Any = self.crawler.spider
        detect = getattr(spider, "blocked_signal", None)
        signal = detect(response) if callable(detect) else None
        if not signal:
            return response
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(STAT_BLOCKED_RESPONSES)
        raise BlockedResponse(signal)
