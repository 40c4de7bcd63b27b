"""Retry-After parsing and the middleware's limits (pure), and the polite defaults every spider runs with."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import scrapy
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import HtmlResponse, Request
from scrapy.settings import Settings
from scrapy.utils.reactor import install_reactor, is_reactor_installed
from scrapy.utils.test import get_crawler

from core.backoff import delay as backoff_seconds
from crawlers.middlewares import BackoffRetryMiddleware, RetryAfterMiddleware, retry_after_seconds
from crawlers.spiders.bilibili import BilibiliSpider
from crawlers.spiders.jd import JdSpider
from crawlers.spiders.reddit import RedditSpider
from crawlers.spiders.reviews import ReviewsSpider
from crawlers.spiders.weibo import WeiboSpider
from crawlers.spiders.xiaohongshu import XiaohongshuSpider

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_seconds_and_http_dates() -> None:
    assert retry_after_seconds(b"7") == 7.0
    assert retry_after_seconds("Wed, 25 Nov 2026 12:00:30 GMT", NOW) == 30.0
    assert retry_after_seconds("Wed, 25 Nov 2026 11:00:00 GMT", NOW) == 0.0  # in the past: go now


def test_absent_or_garbage() -> None:
    assert retry_after_seconds(None) is None
    assert retry_after_seconds(b"soon") is None


# -- polite defaults, as every spider's crawler sees them (custom_settings applied) ---------------------------------


@pytest.mark.parametrize(
    "spider_cls", [WeiboSpider, BilibiliSpider, RedditSpider, JdSpider, XiaohongshuSpider, ReviewsSpider]
)
def test_every_spider_is_polite_by_default(spider_cls: type[scrapy.Spider]) -> None:
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    spider_cls.update_settings(settings)  # what a crawl of this spider runs with
    # a crawler expects a reactor: the one the settings name, unless an earlier test chose one in this process;
    # everything else goes to the crawler as is
    if not is_reactor_installed():
        install_reactor(settings["TWISTED_REACTOR"])
    crawler = get_crawler(scrapy.Spider, {k: v for k, v in settings.copy_to_dict().items() if k != "TWISTED_REACTOR"})
    assert settings.getbool("ROBOTSTXT_OBEY") and RobotsTxtMiddleware.from_crawler(crawler) is not None
    assert settings.getbool("AUTOTHROTTLE_ENABLED") and AutoThrottle.from_crawler(crawler) is not None
    # Reddit's API allows 60 requests a minute: one at a time, one a second
    assert settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == (1 if spider_cls is RedditSpider else 4)
    assert settings.getfloat("DOWNLOAD_DELAY") >= (1.0 if spider_cls is RedditSpider else 0.0)
    assert settings.getint("CONCURRENT_REQUESTS") <= 16
    assert settings.getfloat("DOWNLOAD_TIMEOUT") == 30 and settings.getbool("RETRY_ENABLED")
    middlewares = settings.getdict("DOWNLOADER_MIDDLEWARES")
    assert middlewares["crawlers.middlewares.RetryAfterMiddleware"] > 550  # sees a 429 before the retries
    assert middlewares["crawlers.middlewares.BackoffRetryMiddleware"] == 550  # in the place of Scrapy's own
    assert middlewares["scrapy.downloadermiddlewares.retry.RetryMiddleware"] is None
    assert BackoffRetryMiddleware.from_crawler(crawler).base == 1.0
    assert "crawlers.accounts.AccountRotation" in middlewares
    assert middlewares["crawlers.blocks.BlockDetection"] > 600  # sees a block before redirects and retries


def test_retry_after_gives_up_and_passes_the_response_on() -> None:
    stats = get_crawler(WeiboSpider).stats
    middleware = RetryAfterMiddleware(max_wait=120.0, max_times=3, stats=stats)
    request = Request("http://sim/api")
    no_header = HtmlResponse("http://sim/api", status=429, request=request)
    assert asyncio.run(middleware.process_response(request, no_header)) is no_header  # RetryMiddleware's turn
    tired = Request("http://sim/api", meta={"retry_after_times": 3})
    spent = HtmlResponse("http://sim/api", status=503, headers={"Retry-After": "1"}, request=tired)
    assert asyncio.run(middleware.process_response(tired, spent)) is spent  # asked three times: no more waiting
    fine = HtmlResponse("http://sim/api", status=200, headers={"Retry-After": "1"}, request=request)
    assert asyncio.run(middleware.process_response(request, fine)) is fine
    assert stats is not None and not stats.get_value("groundswell/retry_after")


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff_seconds(n, 1.0, 30.0) for n in (1, 2, 3, 4, 5, 6, 7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff_seconds(3, 0.0, 30.0) == 0.0  # RETRY_BACKOFF_BASE = 0: retries at once, as Scrapy does


def test_backoff_retry_gives_up_like_scrapy_without_waiting() -> None:
    crawler = get_crawler(scrapy.Spider, {"RETRY_TIMES": 1})
    crawler.spider = crawler._create_spider("t")
    middleware = BackoffRetryMiddleware.from_crawler(crawler)
    tried = Request("http://sim/api", meta={"retry_times": 1})
    failed = HtmlResponse("http://sim/api", status=503, request=tried)
    assert asyncio.run(middleware.process_response(tried, failed)) is failed  # retries spent: no wait, no retry
    ok = HtmlResponse("http://sim/api", status=200, request=tried)
    assert asyncio.run(middleware.process_response(tried, ok)) is ok
    assert asyncio.run(middleware.process_exception(tried, ValueError("not a network error"))) is None
