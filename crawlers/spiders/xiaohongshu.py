"""Xiaohongshu (小红书) search through a real browser: the notes are rendered by the page's own script on scroll."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawlers.browser import BROWSER_SETTINGS, chromium_executable
from crawlers.parsers import xiaohongshu as parser
from crawlers.parsers.common import ParseError
from crawlers.spiders.base import GroundswellSpider

_context_ids = itertools.count(1)


class XiaohongshuSpider(GroundswellSpider):
    """`scrapy crawl xiaohongshu -a keyword=K [-a base_url=URL] [-a max_pages=N] [-a scroll_wait=SECONDS]`.

    Opens the search page in Chromium and scrolls to the bottom at most max_pages times, stopping early when no
    new `section.note-item` appears within scroll_wait seconds or the page shows its end marker. Each search gets
    its own browser context, closed with its page as soon as the HTML is read.
    """

    name = "xiaohongshu"
    platform = parser.PLATFORM
    base_url_setting = "XIAOHONGSHU_BASE_URL"
    default_base_url = "https://www.xiaohongshu.com"
    public_root = parser.PUBLIC_ROOT
    custom_settings = {**BROWSER_SETTINGS, "CONCURRENT_REQUESTS": 2}  # noqa: RUF012 (Scrapy: instance var)

    def __init__(self, scroll_wait: float | str = 5.0, **kwargs: Any):
        super().__init__(**kwargs)
        try:
            self.scroll_wait_ms = int(float(scroll_wait) * 1000)
        except (TypeError, ValueError):
            raise ValueError(f"xiaohongshu: scroll_wait must be seconds, got {scroll_wait!r}") from None

    def _configure(self, crawler: Any) -> None:
        super()._configure(crawler)
        chromium_executable()  # fail now, saying how to install it, rather than on the first page

    async def start(self) -> AsyncIterator[Any]:
        yield scrapy.Request(
            parser.search_url(self.base, self.keyword),
            callback=self.parse_search,
            errback=self.page_failed,
            meta={
                "playwright": True,
                "playwright_include_page": True,
                "playwright_context": f"xiaohongshu-{next(_context_ids)}",
                "playwright_page_goto_kwargs": {"wait_until": "domcontentloaded"},
            },
        )

    async def scroll(self, page: Any) -> int:
        """Scroll until the end marker, no new notes within scroll_wait, or max_pages scrolls; returns scrolls done."""
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        notes, end = parser.NOTE_SELECTOR, parser.END_SELECTOR
        try:
            await page.wait_for_selector(f"{notes}, {end}", timeout=self.scroll_wait_ms)
        except PlaywrightTimeout:
            return 0  # nothing rendered: the parser decides whether the page changed
        done = 0
        while done < self.max_pages and not await page.locator(end).count():
            count = await page.locator(notes).count()
            await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            try:
                await page.wait_for_function(
                    f"n => document.querySelectorAll({notes!r}).length > n", arg=count, timeout=self.scroll_wait_ms
                )
            except PlaywrightTimeout:
                break
            done += 1
        return done

    async def parse_search(self, response: Response) -> AsyncIterator[Any]:
        """Render, scroll, read the final DOM, close the page; then parse it like any saved rendering."""
        page = response.meta.get("playwright_page")
        try:
            if page is None:  # rendered elsewhere (a test, a cache): read the body as the rendered DOM
                html = self.body_text(response, "xiaohongshu search")
            else:
                self._inc("groundswell/scrolls", await self.scroll(page))
                html = await page.content()
            result = parser.parse_search(html, self.now(), self.site, self.explicit_brand)
        except ParseError as exc:
            self.parse_failed(exc, response)
            return
        finally:
            await self.close_page(page)
        for mention in self.emit(result, response):
            yield mention
