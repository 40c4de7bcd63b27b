"""Xiaohongshu (小红书) search through a logged-in browser, reading the JSON of the page's own signed API calls.

The web app signs its calls (X-s/X-t) with its own JavaScript and answers only a logged-in session, so, like the
browser-based peers (NanmiCoder/MediaCrawler `media_platform/xhs/core.py` and `login.py`: a saved login state, a
login button or modal means "not logged in"), the spider opens the search page in Chromium with a logged-in
Playwright storage state and listens to its `search/notes` responses (`page.on("response")`) while scrolling; then
it opens each note's page with its `xsec_token` and reads the `feed` answer for the full text, the exact time and
the IP location. No signature is computed here. A login modal, a -101 answer, 461/471 (captcha) or a missing
storage state are blocks.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy.http import Response

from core.mention import Mention
from crawlers.browser import BROWSER_SETTINGS, chromium_executable
from crawlers.context import CrawlContext
from crawlers.parsers import xiaohongshu as parser
from crawlers.parsers.common import Blocked, ParseError
from crawlers.spiders.base import GroundswellSpider, as_flag

_context_ids = itertools.count(1)
NO_PROFILE = ("no logged-in browser profile: set GROUNDSWELL_XHS_STORAGE_STATE (or platforms.xiaohongshu."
              "storage_state) to a Playwright storage-state file saved from a logged-in xiaohongshu.com session")


class XiaohongshuSpider(GroundswellSpider):
    """`scrapy crawl xiaohongshu -a keyword=K [-a base_url=URL] [-a max_pages=N] [-a scroll_wait=SECONDS]
    [-a details=0]`.

    max_pages bounds the search API answers read (20 notes each): the first, then one per scroll. Each crawl gets
    its own browser context (with the storage state), closed with its page as soon as the notes are read.
    """

    name = "xiaohongshu"
    platform = parser.PLATFORM
    base_url_setting = "XIAOHONGSHU_BASE_URL"
    default_base_url = parser.PUBLIC_ROOT
    public_root = parser.PUBLIC_ROOT
    custom_settings = {**BROWSER_SETTINGS, "CONCURRENT_REQUESTS": 2}  # noqa: RUF012 (Scrapy: instance var)

    def __init__(self, scroll_wait: float | str = 5.0, details: str | int = 1, **kwargs: Any):
        super().__init__(**kwargs)
        try:
            self.scroll_wait = float(scroll_wait)
        except (TypeError, ValueError):
            raise ValueError(f"xiaohongshu: scroll_wait must be seconds, got {scroll_wait!r}") from None
        self.with_details = as_flag(details)
        self.storage_state: str | None = None
        self._payloads: list[Any] = []
        self._api_block: str | None = None

    def _configure(self, crawler: Any) -> None:
        super()._configure(crawler)
        chromium_executable()  # fail now, saying how to install it, rather than on the first page
        self.storage_state = CrawlContext.of(crawler).config.platforms.xiaohongshu.storage_state

    async def start(self) -> AsyncIterator[Any]:
        await self.load_cursor()
        if not self.storage_state:
            self.blocked(f"{self.platform}: {NO_PROFILE}")
        if not Path(self.storage_state).is_file():
            self.blocked(f"{self.platform}: the browser profile {self.storage_state} does not exist; {NO_PROFILE}")
        yield scrapy.Request(
            parser.search_url(self.base, self.keyword),
            callback=self.parse_search,
            errback=self.page_failed,
            dont_filter=True,
            meta={
                "playwright": True,
                "playwright_include_page": True,
                "playwright_context": f"xiaohongshu-{next(_context_ids)}",
                "playwright_context_kwargs": {"storage_state": self.storage_state},
                "playwright_page_event_handlers": {"response": "on_response"},
                "playwright_page_goto_kwargs": {"wait_until": "domcontentloaded"},
            },
        )

    async def on_response(self, response: Any) -> None:
        """Every response the page receives: keep the search API's JSON, note a captcha status."""
        if parser.SEARCH_API not in response.url:
            return
        signal = parser.api_block(response.status, response.url)
        if signal:
            self._api_block = self._api_block or signal
            return
        try:
            self._payloads.append(await response.json())
        except Exception as exc:  # a body that is not JSON (a cut connection): the parser will say what is missing
            self._payloads.append({"code": None, "msg": f"unreadable answer: {exc}"})

    async def _wait_for(self, count: int) -> bool:
        """Whether the page has received more than `count` search answers (or was refused) within scroll_wait."""
        deadline = time.monotonic() + self.scroll_wait
        while time.monotonic() < deadline:
            if len(self._payloads) > count or self._api_block:
                return True
            await asyncio.sleep(0.1)
        return False

    async def scroll(self, page: Any) -> int:
        """Scroll for more answers until max_pages answers, the last page (has_more false) or scroll_wait passes."""
        done = 0
        while len(self._payloads) < self.max_pages and not self._api_block:
            last = self._payloads[-1] if self._payloads else {}
            data = last.get("data") if isinstance(last, dict) else None
            if not isinstance(data, dict) or not data.get("has_more"):
                break
            count = len(self._payloads)
            await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            if not await self._wait_for(count):
                break
            done += 1
        return done

    async def parse_search(self, response: Response) -> AsyncIterator[Any]:
        """Wait for the first answer (or the login modal), scroll, read each note's page, close the page."""
        page = response.meta.get("playwright_page")
        result = None
        try:
            if page is None:
                self.parse_failed(ParseError("xiaohongshu search: no browser page (playwright off?)"), response)
                return
            await self._wait_for(0)
            if await page.locator(parser.LOGIN_MODAL_SELECTOR).count():
                self.blocked(f"{self.platform}: login modal on the search page: the browser profile "
                             f"{self.storage_state} is not logged in (any more); {NO_PROFILE}")
            if not self._payloads and not self._api_block:
                self.parse_failed(ParseError("xiaohongshu search: the page made no search/notes call"), response)
                return
            self._inc("groundswell/scrolls", await self.scroll(page))
            if self._api_block:
                self.blocked(self._api_block)
            result = parser.parse_search(self._payloads[: self.max_pages], self.now(), self.site, self.explicit_brand)
            if self.with_details:
                for mention in result.mentions:
                    await self._detail(page, mention)
        except Blocked as exc:
            self.refused(exc)
        except ParseError as exc:
            self.parse_failed(exc, response)
            return
        finally:
            await self.close_page(page)
        self.paging.track_newest(result.mentions)
        for mention in self.emit(result, response):
            yield mention

    async def _detail(self, page: Any, mention: Mention) -> None:
        """Open the note's page (with its xsec_token) and complete the note from the page's feed answer."""
        from playwright.async_api import Error as PlaywrightError

        url = parser.note_url(self.base, mention.source_id or "", mention.extra.get("xsec_token"))
        try:
            async with page.expect_response(lambda r: parser.FEED_API in r.url,
                                            timeout=self.scroll_wait * 1000) as answer:
                await page.goto(url, wait_until="domcontentloaded")
            feed = await answer.value
            signal = parser.api_block(feed.status, feed.url)
            if signal:
                raise Blocked(signal)
            parser.apply_detail(mention, await feed.json())
        except (PlaywrightError, ParseError, ValueError) as exc:
            self.logger.warning("note %s: page not read (%s): kept as the search card shows it", mention.source_id,
                                str(exc).splitlines()[0])
            self._inc("groundswell/details_failed")
