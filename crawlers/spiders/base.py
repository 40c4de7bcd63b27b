"""What every Groundswell spider shares: the -a arguments, the base URL, and how parse problems are reported.

Spiders only fetch and follow cursors; crawlers.parsers does the reading. Parse errors, skipped posts and
blocks end up in the crawl stats under `groundswell/…`, where the crawler-health feature looks.

Blocked is its own outcome: a platform that refuses us (risk control, no session, a refused signature, missing
credentials, a login wall) is not a changed layout. The spider records the platform's signal under
`groundswell/blocked`, logs one line and closes with reason `blocked`: no retries, no traceback.

Incremental crawls: where paging stops and resumes is crawlers.paging (pure, tested alone); the spider loads the
source's cursor before the first request and saves the next one when it finishes well. Configuration, the store
client and stats come from the crawl's one CrawlContext (crawlers.context).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar, NoReturn, Self
from urllib.parse import urlparse

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure

from core import clock
from core.brands import match
from core.config import Brand
from core.mention import Mention
from crawlers.context import CrawlContext
from crawlers.paging import (
    GAP_PAGES,
    KEEP_CURSOR,
    STOPPED_AT_CURSOR,
    Paging,
    resume_by_page_number,
    resume_by_token,
)
from crawlers.parsers.common import Blocked, LoginWall, ParseError, SearchPage, load_json, load_jsonp
from store import state
from store.client import describe_error

STAT_PARSE_ERRORS = "groundswell/parse_errors"
STAT_SKIPPED = "groundswell/skipped_posts"
STAT_LOGIN_WALL = "groundswell/login_wall"
STAT_BLOCKED = "groundswell/blocked"  # the platform's block signal (text), e.g. "weibo: HTTP 432"
STAT_OFF_BRAND = "groundswell/dropped/off_brand"  # search hits that do not name the keyword-brand
BLOCKED_REASON = "blocked"
STAT_REQUEST_FAILED = "groundswell/request_failed"
STAT_FOUND = "groundswell/mentions_found"
STAT_STOPPED_AT_CURSOR = f"groundswell/{STOPPED_AT_CURSOR}"
STAT_CURSOR_SAVED = "groundswell/cursor_saved"
STAT_GAP_PAGES = f"groundswell/{GAP_PAGES}"  # search pages fetched to fill the gap an earlier run left
STAT_GAP_LEFT = "groundswell/gap_left"  # 1: this run leaves a gap for the next one
STAT_PAGES_CLOSED = "groundswell/browser_pages_closed"  # Playwright pages (with their contexts) the spider closed
DEFAULT_MAX_PAGES = 5
DEFAULT_REVISIT_HOURS = 48.0
REVISIT_SETTING = "GROUNDSWELL_REVISIT_HOURS"


def as_flag(value: Any) -> bool:
    """-a values arrive as text: "1", "true", "yes" switch a feature on."""
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def source_key(spider: str, keyword: str, base: str, real_base: str) -> str:
    """What a cursor and a run record belong to: spider + keyword, plus the host when it is not the real
    site, so a crawl of the simulator can never move the cursor of a real source."""
    key = f"{spider}:{keyword}"
    host = urlparse(base).hostname
    return key if host == urlparse(real_base).hostname else f"{key}@{host}"




def parse_revisit_hours(value: Any) -> float:
    """Hours as given on the command line or in a setting; a bad value is refused, not silently defaulted."""
    try:
        hours = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"revisit_hours must be a number of hours, got {value!r}") from None
    if hours < 0:
        raise ValueError(f"revisit_hours must not be negative, got {hours}")
    return hours


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
    page_numbered: ClassVar[bool] = False  # search pages are numbered (a stored gap resumes one page early)
    comments_by_default: ClassVar[bool | None] = None  # spiders that can follow comments: `-a comments=0/1`
    # its requests carry all they need (signed, with their cookies) and its search stream hands its paging state
    # from page to page: several workers may share one crawl of it (crawlers.redis_scheduler)
    shares_pages: ClassVar[bool] = False
    session_ready: bool = True  # a worker joining a shared crawl takes requests once its own session is ready

    def __init__(
        self,
        keyword: str | None = None,
        base_url: str | None = None,
        max_pages: int | str = DEFAULT_MAX_PAGES,
        brand: str | None = None,
        incremental: str | int = 1,
        revisit_hours: str | float | None = None,
        comments: str | int | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        # only spiders with comments_by_default set fetch comments
        self.with_comments = bool(self.comments_by_default) if comments is None else as_flag(comments)
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
        # no brands configured: search hits must name the keyword (platform search also returns posts that do
        # not), before their comments are followed; the brand stage does the same for configured brands
        self.keyword_brand: Brand | None = None
        self._on_brand: set[str] = set()
        self._blocked: str | None = None
        self._seen: set[str] = set()
        self.incremental = as_flag(incremental)
        self._revisit_arg = None if revisit_hours is None else parse_revisit_hours(revisit_hours)
        self.revisit = timedelta(hours=self._revisit_arg if self._revisit_arg is not None else DEFAULT_REVISIT_HOURS)
        self.source_key = source_key(self.name, self.source_name(), self.base, self.default_base_url)
        self.paging = self._paging()
        self.started_at = self.now()
        self.context: CrawlContext | None = None  # set once the crawler is known (from_crawler)
        self.seeding = True  # this process sends the first requests (a worker joining a shared crawl does not)

    def _paging(self) -> Paging:
        return Paging(
            source_key=self.source_key, max_pages=self.max_pages, incremental=self.incremental, revisit=self.revisit,
            resume=resume_by_page_number if self.page_numbered else resume_by_token,
            note=lambda event: self._inc(f"groundswell/{event}"),
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider._configure(crawler)
        return spider

    def _configure(self, crawler: Crawler) -> None:
        """Resolve the base URL and the brand once the settings and the crawl's context are known."""
        self.context = CrawlContext.of(crawler)
        if self.context.shared and not self.shares_pages:
            raise ValueError(f"{self.name}: its pages cannot be shared between workers")
        setting = crawler.settings.get(self.base_url_setting) if self.base_url_setting else None
        self.base = (self._base_arg or setting or self.default_base_url).rstrip("/")
        real_host = urlparse(self.default_base_url).hostname
        self.site = self.public_root if urlparse(self.base).hostname == real_host else self.base
        if self.explicit_brand is None and self.keyword:
            brands = self.context.config.brands
            if not brands:  # no brands configured: the keyword is the brand being monitored
                self.context_brand = self.keyword
                self.keyword_brand = Brand(name=self.keyword)
            else:
                self.context_brand = self._configured_brand(brands)
        self.source_key = source_key(self.name, self.source_name(), self.base, self.default_base_url)
        if self._revisit_arg is None:
            hours = crawler.settings.get(REVISIT_SETTING) or os.environ.get(REVISIT_SETTING) or DEFAULT_REVISIT_HOURS
            self.revisit = timedelta(hours=parse_revisit_hours(hours))
        self.paging = self._paging()

    def source_name(self) -> str:
        """What this crawl follows, within the spider: the keyword."""
        return self.keyword

    def _configured_brand(self, brands: tuple[Brand, ...]) -> str | None:
        """The configured brand whose name or alias *is* the keyword, if any.

        Only comments and reviews fetched under a matched post get it (their text rarely names the brand);
        search hits keep brand None so the brand stage can still apply exclusions (小米粥 is not 小米).
        """
        wanted = self.keyword.casefold()
        for brand in brands:
            if wanted in {name.casefold() for name in (brand.name, *brand.aliases)}:
                return brand.name
        return None

    # -- incremental crawls ---------------------------------------------------------------------------------

    def _load_cursor_now(self) -> state.Cursor | None:
        if self.context is None:
            return None
        try:
            return state.load_cursor(self.context.es, self.context.prefix, self.source_key)
        except Exception as exc:  # never kill the crawl: without a cursor it is simply a full one
            self.logger.error(
                "cannot load the crawl cursor of %s (crawling everything up to max_pages): %s",
                self.source_key, describe_error(self.context.url, exc),
            )
            return None

    async def load_cursor(self) -> None:
        """Before the first request: where the last run of this source stopped (in a thread: it is I/O)."""
        self.started_at = self.now()
        if not self.incremental:
            return
        cursor = self.paging.cursor = await asyncio.to_thread(self._load_cursor_now)
        if cursor is not None:
            self.logger.info(
                "resuming %s after %s (%s); revisiting %s back",
                self.source_key, cursor.published_at.isoformat(), cursor.source_id, self.revisit,
            )

    @property
    def shared(self) -> bool:
        """Several workers share this crawl (crawlers.redis_crawl)."""
        return self.context is not None and self.context.shared

    def _stat(self, key: str) -> Any:
        if self.shared and self.context is not None and self.context.unit is not None:
            return self.context.unit.stats().get(key)  # every worker's counts, added up
        stats = self.crawler.stats if hasattr(self, "crawler") else None
        return stats.get_value(key) if stats is not None else None

    # -- shared crawls ---------------------------------------------------------------------------------------

    def claim_seeding(self) -> bool:
        """Whether this process sends the crawl's first requests: always, unless it joins a shared crawl that
        another worker seeds (the claim expires, so a new owner re-seeds a crawl whose seeder died first)."""
        unit = self.context.unit if self.shared and self.context is not None else None
        self.seeding = unit is None or unit.claim_seeding(self.context.worker_id if self.context else "")
        return self.seeding

    def seeded(self) -> None:
        """The first requests are in the shared queue (called after the last one was yielded)."""
        if self.shared and self.context is not None and self.context.unit is not None:
            self.context.unit.mark_seeded()

    def paging_meta(self) -> dict[str, Any]:
        """Meta for the next search request: the stream's paging state, for whichever worker reads it."""
        return {"gs_paging": self.paging.snapshot()} if self.shared else {}

    def resume_paging(self, response: Response) -> None:
        """Before reading a search page of a shared crawl: the paging state it was requested with."""
        given = response.meta.get("gs_paging")
        if self.shared and isinstance(given, dict):
            self.paging.restore(given)

    def paging_ended(self) -> None:
        """The search stream ended on this worker: publish where, for the owner to save the cursor from."""
        if self.shared and self.context is not None and self.context.unit is not None:
            self.context.unit.publish_paging(self.paging.snapshot())

    def closed(self, reason: str) -> None:
        """Save the cursor after a normal finish only: a login wall, a crash, a parse error or a failed
        request may have left posts unseen below the newest one, and the next run must fetch them.

        A shared crawl's cursor is saved once, by its owner, from the paging state the last search page published
        and every worker's stats; helpers save nothing."""
        if self.shared and self.context is not None:
            if not self.context.owner or self.context.unit is None:
                return
            published = self.context.unit.paging()
            if published is not None:
                self.paging.restore(published)
        if not self.incremental or self.paging.newest is None:
            return
        clean = reason == "finished" and not any(
            self._stat(k) for k in (STAT_BLOCKED, STAT_LOGIN_WALL, STAT_PARSE_ERRORS, STAT_REQUEST_FAILED)
        )
        gap = self.paging.next_gap()
        if clean and gap == KEEP_CURSOR:
            self.logger.warning("crawl of %s stopped short of the old cursor: cursor left unchanged", self.source_key)
        elif clean:
            self._save_cursor(gap if isinstance(gap, state.Gap) else None)
        else:
            self.logger.warning("crawl of %s ended %r or with errors: cursor left unchanged", self.source_key, reason)

    def _save_cursor(self, gap: state.Gap | None) -> None:
        if self.context is None:
            return
        es, prefix = self.context.es, self.context.prefix
        try:
            # another machine may have moved it meanwhile: never move a cursor backwards
            stored = state.load_cursor(es, prefix, self.source_key)
            cursor = self.paging.cursor_after(self.now(), self.name, self.keyword, gap, stored)
            if cursor is None:
                return
            state.save_cursor(es, prefix, cursor)
        except Exception as exc:
            self.logger.error(
                "cannot save the crawl cursor of %s (the next run will fetch these posts again): %s",
                self.source_key, describe_error(self.context.url, exc),
            )
            return
        if self.crawler.stats is not None:
            self.crawler.stats.set_value(STAT_CURSOR_SAVED, 1)
            if gap is not None:
                self.crawler.stats.set_value(STAT_GAP_LEFT, 1)

    # -- reporting -----------------------------------------------------------------------------------------

    def _inc(self, key: str, count: int = 1) -> None:
        if getattr(self, "crawler", None) is not None and self.crawler.stats is not None:
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
        keys = [m.source_id or m.url or "" for m in page.mentions]
        first = self._first_seen(keys, str(response.meta.get("gs_entry") or ""))
        for mention, new in zip(page.mentions, first, strict=True):
            if not new:
                continue
            if not self._names_brand(mention):
                self._inc(STAT_OFF_BRAND)
                continue
            mention.origin = response.url
            fresh.append(mention)
        if fresh:
            self._inc(STAT_FOUND, len(fresh))
        return fresh

    def _first_seen(self, keys: list[str], entry: str = "") -> list[bool]:
        """Per post key: not emitted before in this crawl (by another request of a shared crawl, on any worker)."""
        out = []
        for key in keys:
            out.append(key not in self._seen)
            self._seen.add(key)
        if self.shared and self.context is not None and self.context.unit is not None:
            wanted = [k for k, new in zip(keys, out, strict=True) if new]
            shared = iter(self.context.unit.first_seen(wanted, entry))
            out = [new and next(shared) for new in out]
        return out

    def _names_brand(self, mention: Mention) -> bool:
        """With no brands configured, whether a search hit names the keyword (or reposts or answers one that
        does); hits that arrive with a brand (comments under a matched post, reviews of its product) pass."""
        if self.keyword_brand is None or mention.brand:
            return True
        parents = {mention.repost_of, mention.reply_to} - {None}
        if match(mention.text, mention.title, (self.keyword_brand,)) is None and not parents & self._on_brand:
            return False
        mention.brand = self.keyword_brand.name
        if mention.source_id:
            self._on_brand.add(mention.source_id)
        return True

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

    def read_page(self, response: Response, parse: Callable[[], SearchPage]) -> SearchPage | None:
        """Run one parser on a response: a block (a login wall too) closes the crawl, a page that lost required
        fields is counted; in both cases there is nothing to follow (None)."""
        try:
            return parse()
        except Blocked as exc:
            self.refused(exc)
        except ParseError as exc:
            self.parse_failed(exc, response)
        return None

    def blocked(self, signal: str) -> NoReturn:
        """The platform refused us: record its signal once, log one line, close the spider as `blocked`.

        Requests still in flight that come back blocked too end here as well; they are not logged again."""
        if self._blocked is None:
            self._blocked = signal
            self.logger.error("blocked: %s; stopping this source (no retries)", signal)
            if self.crawler.stats is not None:
                self.crawler.stats.set_value(STAT_BLOCKED, signal)
            if self.shared and self.context is not None and self.context.unit is not None:
                self.context.unit.stop(BLOCKED_REASON)  # every worker of the crawl stops
        raise CloseSpider(BLOCKED_REASON)

    def refused(self, exc: Blocked) -> NoReturn:
        """A parser's Blocked (or LoginWall): close the crawl as blocked."""
        if isinstance(exc, LoginWall):
            self.login_wall(exc)
        self.blocked(str(exc))

    def login_wall(self, detail: str | LoginWall) -> NoReturn:
        """The site wants a login: a block (flagged as a login wall too); retrying would only loop."""
        if self.crawler.stats is not None:
            self.crawler.stats.set_value(STAT_LOGIN_WALL, 1)
            self.crawler.stats.set_value(f"{STAT_LOGIN_WALL}/{self.name}", 1)
        text = str(detail)
        self.blocked(text if text.startswith(f"{self.platform}:") else f"{self.platform}: login wall: {text}")

    def blocked_signal(self, response: Response) -> str | None:
        """The platform's block signal in a raw response (status, redirect, headers), or None. Read by the
        BlockDetection middleware before retries and redirects, so a block is never retried. Per platform."""
        return None

    def request_failed(self, failure: Failure) -> None:
        """Errback: a request that failed after retries (HTTP error, timeout, DNS) is counted for crawler health;
        one refused with a block signal (crawlers.blocks) closes the crawl as blocked."""
        from crawlers.blocks import BlockedResponse

        if failure.check(BlockedResponse):
            self.blocked(str(failure.value))
        request = getattr(failure, "request", None)
        self.logger.error("request failed: %s: %s", getattr(request, "url", "?"), failure.getErrorMessage())
        self._inc(STAT_REQUEST_FAILED)

    async def close_page(self, page: Any) -> None:
        """Close a Playwright page and its context (each request gets its own), and count it. A page that crashed
        or a browser already gone is logged, never raised: closing must not mask what went wrong before."""
        if page is None:
            return
        from playwright.async_api import Error as PlaywrightError

        try:
            context = page.context
            await page.close()
            await context.close()
        except PlaywrightError as exc:
            self.logger.warning("could not close a browser page: %s", exc)
            return
        self._inc(STAT_PAGES_CLOSED)

    async def page_failed(self, failure: Failure) -> None:
        """Errback of browser requests: close the page Playwright may have opened, then count the failure."""
        request = getattr(failure, "request", None)
        meta = getattr(request, "meta", {}) or {}
        await self.close_page(meta.get("playwright_page"))
        self.request_failed(failure)

    @staticmethod
    def now() -> datetime:
        """Crawl time, aware: the wall clock, or the simulated clock of a demo (core.clock)."""
        return clock.now()
