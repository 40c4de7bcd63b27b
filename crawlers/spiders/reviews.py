"""A generic spider for server-rendered review pages: the page's schema.org Review markup first (JSON-LD, microdata,
RDFa, via extruct), else CSS/XPath selectors (from a configured source or spider arguments); optionally rendered in
Chromium. A shop that publishes schema.org reviews needs only `-a start_url=URL`."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

import scrapy
import yaml
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.http import Response

from core.config import Config, ReviewSelectors, Source
from crawlers.browser import BROWSER_SETTINGS, chromium_executable
from crawlers.context import CrawlContext
from crawlers.parsers import reviews as parser
from crawlers.parsers.common import ParseError
from crawlers.spiders.base import GroundswellSpider, as_flag, source_key

STAT_LAYOUT_CHANGED = "groundswell/layout_changed"
_context_ids = itertools.count(1)


def load_selectors(path: str) -> dict[str, Any]:
    """A site's selectors from a YAML or JSON file: `{item: ..., text: ..., start_url: ...}`."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) if path.endswith((".yaml", ".yml")) else (
            json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"reviews: cannot read selectors from {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"reviews: {path} must hold a mapping of selector names to CSS selectors")
    return data


def configured_source(cfg: Config[Any], name: str) -> Source:
    """The `sources:` entry called `name` (its selectors, if any, are the fallback behind schema.org markup);
    ValueError naming what is wrong."""
    source = cfg.source(name)
    if source is not None:
        return source
    where = cfg.path or "the configuration"
    names = ", ".join(s.name for s in cfg.sources) or "none"
    raise ValueError(f"reviews: no source named {name!r} in {where} (sources: {names})")


class ReviewsSpider(GroundswellSpider):
    """`scrapy crawl reviews -a source=NAME` (a configured source with `selectors:`), or
    `-a start_url=URL [-a item=div.review -a text=.text -a author=.author -a time="time::attr(datetime)"
    -a rating=.rating -a next="a.next::attr(href)" -a id=... -a likes=...] [-a selectors=site.yaml]`;
    plus `[-a browser=1] [-a timezone=+08:00] [-a product=NAME] [-a max_pages=N]`. Arguments win over the source.

    start_url may be relative to base_url; without it, `-a keyword=K` crawls `{base_url}/reviews/K`. When the item
    selector finds nothing on a page that answered 200 the site was redesigned: a parse error is counted and the
    spider closes with reason `layout_changed`, so crawler health flags it instead of seeing a quiet empty crawl.
    """

    name = "reviews"
    platform = parser.PLATFORM
    base_url_setting = "REVIEWS_BASE_URL"
    default_base_url = ""
    public_root = ""
    keyword_required = False
    # The Playwright handler only renders requests that ask for it; plain pages still use Scrapy's own handler.
    custom_settings = {**BROWSER_SETTINGS, "CONCURRENT_REQUESTS": 2}  # noqa: RUF012 (Scrapy: instance var)

    def __init__(
        self,
        start_url: str | None = None,
        browser: str | bool | None = None,
        selectors: str | None = None,
        timezone: str | None = None,
        product: str | None = None,
        source: str | None = None,
        **kwargs: Any,
    ):
        self.given = {name: kwargs.pop(name) for name in ReviewsSpider.selector_args() if name in kwargs}
        self._max_pages_given = "max_pages" in kwargs
        self.source = (source or "").strip() or None
        super().__init__(**kwargs)
        self.from_file = load_selectors(selectors) if selectors else {}
        self.start_arg = (start_url or "").strip()
        self._browser_arg, self._tz_arg = browser, timezone
        self.product = (product or "").strip() or None
        if self.source is None:
            self._resolve(parser.CLASSIC)
            if not self.start_arg and not self.keyword:
                raise ValueError("reviews: give -a source=NAME, -a start_url=URL or -a keyword=K "
                                 "(for {base_url}/reviews/K)")

    @staticmethod
    def selector_args() -> tuple[str, ...]:
        return ReviewSelectors.selector_names()

    def _resolve(self, base: ReviewSelectors) -> None:
        """Selectors, start page, browser and time zone: the arguments over the file over `base`."""
        self.selectors = parser.with_overrides(base, {**self.from_file, **self.given})
        self.start_arg = self.start_arg or (self.selectors.start_url or "").strip()
        self.browser = as_flag(self._browser_arg) if self._browser_arg is not None else self.selectors.browser
        self.tz = parser.parse_timezone(self._tz_arg or self.selectors.timezone)

    def source_name(self) -> str:
        """What a cursor and a run record belong to: the configured source, else the keyword or start page."""
        return str(getattr(self, "source", None) or self.keyword or getattr(self, "start_arg", ""))

    def _configure(self, crawler: Crawler) -> None:
        if self.source is not None:
            configured = configured_source(CrawlContext.of(crawler).config, self.source)
            if self._base_arg is None and configured.base_url:
                self._base_arg = configured.base_url.strip()
            if not self._max_pages_given:
                self.max_pages = configured.max_pages
            self._resolve(configured.selectors or parser.CLASSIC)
            if not self.start_arg and not self.keyword:
                raise ValueError(f"reviews: source {self.source!r} needs selectors.start_url (or -a keyword=K)")
        super()._configure(crawler)
        self.source_key = source_key(self.name, self.source_name(), self.base, self.default_base_url)
        if self.browser:
            chromium_executable()  # fail now, saying how to install it

    @property
    def start_url(self) -> str:
        """start_url as given when absolute, else joined to base_url."""
        if self.start_arg:
            if "://" in self.start_arg:
                return self.start_arg
            if not self.base:
                raise ValueError("reviews: a relative start_url needs -a base_url=URL")
            return urljoin(self.base + "/", self.start_arg.lstrip("/"))
        return f"{self.base}/reviews/{quote(self.keyword)}"

    def page_request(self, url: str, page: int) -> scrapy.Request:
        """One review page, through Chromium when browser=1."""
        meta: dict[str, Any] = {}
        if self.browser:
            meta = {
                "playwright": True,
                "playwright_include_page": True,
                "playwright_context": f"reviews-{next(_context_ids)}",
            }
        return scrapy.Request(url, callback=self.parse_page, errback=self.page_failed, meta=meta,
                              cb_kwargs={"page": page})

    async def start(self) -> AsyncIterator[Any]:
        yield self.page_request(self.start_url, 1)

    async def parse_page(self, response: Response, page: int) -> AsyncIterator[Any]:
        """Reviews of one page, then the next page's link up to max_pages; a redesigned page closes the spider."""
        pw_page = response.meta.get("playwright_page")
        try:
            html = await pw_page.content() if pw_page is not None else self.body_text(response, "reviews")
        except ParseError as exc:
            self.parse_failed(exc, response)
            return
        finally:
            await self.close_page(pw_page)
        try:
            result = parser.parse_page(html, response.url, self.now(), self.selectors, self.tz,
                                       self.context_brand, self.product)
        except parser.LayoutChanged as exc:
            self.parse_failed(exc, response)
            if response.status == 200:
                self._inc(STAT_LAYOUT_CHANGED)
                raise CloseSpider("layout_changed") from None
            return
        for mention in self.emit(result, response):
            yield mention
        if isinstance(result.next_page, str) and page < self.max_pages and result.next_page != response.url:
            yield self.page_request(result.next_page, page + 1)
