"""What every Groundswell spider shares: the -a arguments, the base URL, and how parse problems are reported.

Spiders only fetch and follow cursors; crawlers.parsers does the reading. Parse errors, skipped posts and
login walls end up in the crawl stats under `groundswell/…`, where the crawler-health feature looks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Self
from urllib.parse import urlparse

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure

from crawlers.items import Mention
from crawlers.parsers.common import LoginWall, ParseError, SearchPage, load_json, load_jsonp
from groundswell import config as gsconfig

STAT_PARSE_ERRORS = "groundswell/parse_errors"
STAT_SKIPPED = "groundswell/skipped_posts"
STAT_LOGIN_WALL = "groundswell/login_wall"
STAT_REQUEST_FAILED = "groundswell/request_failed"
DEFAULT_MAX_PAGES = 5


def as_flag(value: Any) -> bool:
    """-a values arrive as text: "1", "true", "yes" switch a feature on."""
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


class GroundswellSpider(scrapy.Spider):
    """Base for the platform spiders: `-a keyword=K -a base_url=URL -a max_pages=N [-a brand=B]`.

    `base_url` overrides the setting named by `base_url_setting`, which overrides `default_base_url`; that
    is how the local simulator and the tests stand in for the real site. Links in mentions point at the
    public site when crawling the real host, else at the base URL.
    """

    platform: ClassVar[str] = ""
    base_url_setting: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    public_root: ClassVar[str] = ""
    keyword_required: ClassVar[bool] = True

    def __init__(
        self,
        keyword: str | None = None,
        base_url: str | None = None,
        max_pages: int | str = DEFAULT_MAX_PAGES,
        brand: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.keyword = (keyword or "").strip()
        if self.keyword_required and not self.keyword:
            raise ValueError(f"{self.name}: -a keyword=... is required")
        try:
            self.max_pages = int(max_pages)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name}: max_pages must be a whole number, got {max_pages!r}") from None
        if self.max_pages < 1:
            raise ValueError(f"{self.name}: max_pages must be at least 1, got {self.max_pages}")
        self._base_arg = base_url.strip() if base_url else None
        self.explicit_brand = brand.strip() if brand and brand.strip() else None
        self.base = (self._base_arg or self.default_base_url).rstrip("/")
        self.site = self.public_root
        self.context_brand: str | None = self.explicit_brand
        self._seen: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider._configure(crawler)
        return spider

    def _configure(self, crawler: Crawler) -> None:
        """Resolve the base URL and the brand once the settings are known."""
        setting = crawler.settings.get(self.base_url_setting) if self.base_url_setting else None
        self.base = (self._base_arg or setting or self.default_base_url).rstrip("/")
        real_host = urlparse(self.default_base_url).hostname
        self.site = self.public_root if urlparse(self.base).hostname == real_host else self.base
        if self.explicit_brand is None and self.keyword:
            self.context_brand = self._configured_brand(crawler.settings.get("GROUNDSWELL_CONFIG_PATH"))

    def _configured_brand(self, config_path: str | None) -> str | None:
        """The configured brand whose name or alias *is* the keyword, if any.

        Only comments and reviews fetched under a matched post get it (their text rarely names the brand);
        search hits keep brand None so the brand stage can still apply exclusions (小米粥 is not 小米).
        """
        try:
            brands = gsconfig.load(config_path).brands
        except gsconfig.ConfigError as exc:
            self.logger.warning("cannot read the configuration for brand names: %s", exc)
            return None
        wanted = self.keyword.casefold()
        for brand in brands:
            if wanted in {name.casefold() for name in (brand.name, *brand.aliases)}:
                return brand.name
        return None

    # -- reporting -----------------------------------------------------------------------------------------

    def _inc(self, key: str, count: int = 1) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, count)
            self.crawler.stats.inc_value(f"{key}/{self.name}", count)

    def emit(self, page: SearchPage, response: Response) -> list[Mention]:
        """The page's mentions not yet emitted in this crawl (originals recur under many reposts); skipped
        posts are logged with their reason and counted."""
        for reason in page.skipped:
            self.logger.warning("skipped a malformed post at %s: %s", response.url, reason)
        if page.skipped:
            self._inc(STAT_SKIPPED, len(page.skipped))
        fresh: list[Mention] = []
        for mention in page.mentions:
            key = mention.source_id or mention.url or ""
            if key in self._seen:
                continue
            self._seen.add(key)
            mention.origin = response.url
            fresh.append(mention)
        return fresh

    @staticmethod
    def body_text(response: Response, what: str) -> str:
        """The decoded body; an image or binary answer (a captcha, a block page) is a ParseError."""
        try:
            return response.text
        except AttributeError:
            content_type = response.headers.get("Content-Type")
            raise ParseError(f"{what}: not a text response (Content-Type {content_type!r})") from None

    def json_body(self, response: Response, what: str) -> Any:
        """The decoded JSON body, or ParseError."""
        return load_json(self.body_text(response, what), what)

    def jsonp_body(self, response: Response, what: str) -> Any:
        """The decoded JSONP (or JSON) body, or ParseError."""
        return load_jsonp(self.body_text(response, what), what)

    def parse_failed(self, exc: ParseError, response: Response) -> None:
        """A page that lost required fields: log it, count it, and stop following this cursor."""
        self.logger.error("parse error at %s (HTTP %s): %s", response.url, response.status, exc)
        self._inc(STAT_PARSE_ERRORS)

    def login_wall(self, detail: str | LoginWall) -> None:
        """The site wants a login: report once and close the spider; retrying would only loop."""
        self.logger.error("login wall: %s; closing the spider", detail)
        if self.crawler.stats is not None:
            self.crawler.stats.set_value(STAT_LOGIN_WALL, 1)
            self.crawler.stats.set_value(f"{STAT_LOGIN_WALL}/{self.name}", 1)
        raise CloseSpider("login_wall")

    def request_failed(self, failure: Failure) -> None:
        """Errback: a request that failed after retries (HTTP error, timeout, DNS) is counted for crawler health."""
        request = getattr(failure, "request", None)
        self.logger.error("request failed: %s: %s", getattr(request, "url", "?"), failure.getErrorMessage())
        self._inc(STAT_REQUEST_FAILED)

    @staticmethod
    def now() -> datetime:
        """Crawl time, aware."""
        return datetime.now(UTC)
