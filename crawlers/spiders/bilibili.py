"""Bilibili video search (newest first), each video's likes and uploader's followers, then its comments.

Follows SocialSisterYi/bilibili-API-collect (`docs/search/search_request.md`, `docs/comment/list.md`,
`docs/misc/sign/wbi.md`, `docs/misc/buvid3_4.md`) and NanmiCoder/MediaCrawler `media_platform/bilibili/client.py`:
a visitor cookie first (`buvid3`, from `/x/frontend/finger/spi`), the WBI keys from `/x/web-interface/nav`, then
WBI-signed search and comment calls, all with a browser User-Agent and `Referer: https://www.bilibili.com/`. No
login is needed. A refused signature (v_voucher, or -403 on comments) fetches the keys again and retries once;
refused again, or -352/-412, the source is blocked.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from core.mention import Mention
from crawlers.parsers import bilibili as parser
from crawlers.parsers.common import Blocked, ParseError, SearchPage
from crawlers.platforms import bilibili_wbi
from crawlers.platforms.headers import ACCEPT_JSON, ACCEPT_LANGUAGE, DESKTOP_USER_AGENT
from crawlers.redis_scheduler import LOCAL
from crawlers.spiders.base import GroundswellSpider, as_flag

STAT_KEY_REFRESHES = "groundswell/bilibili/wbi_key_refreshes"
STAT_DETAILS_FAILED = "groundswell/details_failed"


class BilibiliSpider(GroundswellSpider):
    """`scrapy crawl bilibili -a keyword=K [-a base_url=URL] [-a max_pages=N] [-a comments=0] [-a details=0]`.

    max_pages bounds both the search pages and the comment pages of each video. Search is ordered by publication
    time, so incremental crawls stop at their cursor. `details=0` skips the per-video `view` and per-uploader
    `relation/stat` calls (likes, coins, shares, followers).
    """

    name = "bilibili"
    platform = parser.PLATFORM
    page_numbered = True  # search pages are numbered: a stored gap resumes one page early
    base_url_setting = "BILIBILI_BASE_URL"
    default_base_url = parser.API_ROOT
    public_root = parser.PUBLIC_ROOT
    comments_by_default = True
    shares_pages = True  # signed requests carry their visitor cookie; the search hands its paging state on
    custom_settings = {"USER_AGENT": DESKTOP_USER_AGENT}  # noqa: RUF012 (Scrapy: instance var)

    def __init__(self, details: str | int = 1, **kwargs: Any):
        super().__init__(**kwargs)
        self.with_details = as_flag(details)
        self.visitor: dict[str, str] = {}
        self.keys: tuple[str, str] | None = None
        self.followers: dict[str, int | None] = {}

    def _configure(self, crawler: Any) -> None:
        super()._configure(crawler)
        # api.bilibili.com serves data, www.bilibili.com the pages people open
        if self.site == self.public_root or self.base.endswith(".bilibili.com"):
            self.site = self.public_root


    # -- requests ------------------------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any], callback: Callable[..., Any], *, signed: bool,
             errback: Callable[[Failure], Any] | None = None, meta: dict[str, Any] | None = None,
             priority: int = 0, **cb_kwargs: Any) -> scrapy.Request:
        """A GET of the API with the browser headers and the visitor cookies; WBI-signed when `signed`."""
        if signed:
            assert self.keys is not None
            query = bilibili_wbi.signed_query(params, *self.keys, wts=int(time.time()))
        else:
            query = "&".join(f"{k}={v}" for k, v in params.items())
        return scrapy.Request(
            f"{self.base}{path}{'?' + query if query else ''}",
            callback=callback,
            errback=errback or self.request_failed,
            cb_kwargs=cb_kwargs,
            headers={"Referer": parser.REFERER, "Accept": ACCEPT_JSON, "Accept-Language": ACCEPT_LANGUAGE,
                     "Origin": parser.PUBLIC_ROOT},
            cookies=self._cookies(),
            meta=meta,
            priority=priority,
            dont_filter=True,  # a re-signed retry has a new URL anyway; nav is fetched again on purpose
        )

    def _cookies(self) -> dict[str | bytes, str | bytes | bool | float | int] | None:
        """The visitor cookies for Scrapy's jar (kept there for later requests too)."""
        return {k: v for k, v in self.visitor.items()} or None

    def search_request(self, page: int, refreshed: bool = False) -> scrapy.Request:
        # search pages first: each one opens a page of videos to fetch (and says whether paging goes on)
        return self._get(parser.SEARCH_PATH, parser.search_params(self.keyword, page), self.parse_search,
                         signed=True, meta=self.paging_meta(), priority=1, page=page, refreshed=refreshed)

    def replies_request(self, aid: str, bvid: str, offset: str, page: int, refreshed: bool = False) -> scrapy.Request:
        return self._get(parser.REPLIES_PATH, parser.replies_params(aid, offset), self.parse_replies, signed=True,
                         aid=aid, bvid=bvid, offset=offset, page=page, refreshed=refreshed)

    def nav_request(self, then: Callable[[], scrapy.Request | None]) -> scrapy.Request:
        """Fetch the WBI keys, then make the request `then` builds (signed with them). The session's requests
        stay with the worker that makes them (LOCAL): each worker of a shared crawl has its own session."""
        return self._get(parser.NAV_PATH, {}, self.parse_nav, signed=False, meta={LOCAL: True}, then=then)

    async def start(self) -> AsyncIterator[Any]:
        if self.claim_seeding():
            await self.load_cursor()
        self.session_ready = False
        yield self._get(parser.SPI_PATH, {}, self.parse_spi, signed=False, meta={LOCAL: True})

    def _first_search(self) -> scrapy.Request | None:
        """Once the session is ready: the first search page, from the worker that seeds the crawl."""
        self.session_ready = True
        return self.search_request(1) if self.seeding else None

    def blocked_signal(self, response: Response) -> str | None:
        if response.status == 412:
            return f"{self.platform}: HTTP 412 (request intercepted) at {response.url.split('?')[0]}"
        return None

    # -- session -------------------------------------------------------------------------------------------

    def parse_spi(self, response: Response) -> Iterator[Any]:
        """The visitor cookie every search needs; then the WBI keys, then the first search page."""
        try:
            self.visitor = parser.parse_visitor(self.json_body(response, "bilibili finger/spi"))
        except Blocked as exc:
            self.refused(exc)
        except ParseError as exc:
            self.blocked(f"{self.platform}: no visitor cookie (buvid3): {exc}")
        yield self.nav_request(self._first_search)

    def parse_nav(self, response: Response, then: Callable[[], scrapy.Request | None]) -> Iterator[Any]:
        """Cache the WBI keys (the nav answers code -101 when not logged in: that is expected)."""
        try:
            self.keys = bilibili_wbi.keys_from_nav(self.json_body(response, "bilibili nav"))
        except (ParseError, bilibili_wbi.WbiKeysMissing) as exc:
            self.blocked(f"{self.platform}: no WBI keys: {exc}")
        request = then()
        if request is not None:
            yield request
        if then == self._first_search and self.seeding:
            self.seeded()

    def _read(self, response: Response, parse: Callable[[], SearchPage], refreshed: bool,
              retry: Callable[[], scrapy.Request]) -> tuple[SearchPage | None, scrapy.Request | None]:
        """Parse a signed answer; a refused signature fetches the keys once more and retries, then blocks."""
        try:
            return parse(), None
        except parser.SignatureRefused as exc:
            if refreshed:
                self.blocked(f"{exc}, again after fetching new WBI keys")
            self.logger.info("%s; fetching the WBI keys again", exc)
            self._inc(STAT_KEY_REFRESHES)
            return None, self.nav_request(retry)
        except Blocked as exc:  # a login wall too
            self.refused(exc)
        except ParseError as exc:
            self.parse_failed(exc, response)
            return None, None

    # -- search, details, comments -------------------------------------------------------------------------

    def parse_search(self, response: Response, page: int, refreshed: bool = False) -> Iterator[Any]:
        """Videos of one search page (with their details and comments) and the next page, up to max_pages."""
        self.resume_paging(response)
        result, retry = self._read(
            response,
            lambda: parser.parse_search(
                self.json_body(response, "bilibili search"), self.now(), page, self.site, self.explicit_brand
            ),
            refreshed, lambda: self.search_request(page, refreshed=True),
        )
        if retry is not None:
            yield retry
        if result is None:
            return
        for video in self.emit(self.paging.unseen(result), response):
            yield from self._video_requests(video)
        # order=pubdate: stops at the cursor (or gap floor)
        token = self.paging.follow(result.mentions, result.next_page)
        if token is not None:
            yield self.search_request(int(token))
        else:
            self.paging_ended()

    def _video_requests(self, video: Mention) -> Iterator[Any]:
        aid = video.extra.get("aid")
        if self.with_comments and aid and video.source_id and video.comments != 0:
            yield self.replies_request(str(aid), video.source_id, "", 1)
        if self.with_details and aid:
            yield self._get(parser.VIEW_PATH, {"aid": aid}, self.parse_view, signed=False,
                            errback=self.details_failed, video=video)
        else:
            yield video

    def parse_view(self, response: Response, video: Mention) -> Iterator[Any]:
        """Likes, coins, shares: then the uploader's followers (once per uploader), then the video itself."""
        try:
            stat = parser.parse_view(self.json_body(response, "bilibili view"))
        except Blocked as exc:
            self.refused(exc)
        except ParseError as exc:
            yield from self._without_details(video, str(exc))
            return
        video.likes = stat["like"] if stat["like"] is not None else video.likes
        video.reposts = stat["share"]
        video.extra.update({k: stat[k] for k in ("coin", "favorite") if stat[k] is not None})
        mid = video.author_id
        if mid and mid not in self.followers:
            yield self._get(parser.RELATION_PATH, {"vmid": mid}, self.parse_followers, signed=False,
                            errback=self.details_failed, video=video)
            return
        video.author_followers = self.followers.get(mid) if mid else None
        yield video

    def parse_followers(self, response: Response, video: Mention) -> Iterator[Any]:
        try:
            followers = parser.parse_followers(self.json_body(response, "bilibili relation/stat"))
        except Blocked as exc:
            self.refused(exc)
        except ParseError as exc:
            yield from self._without_details(video, str(exc))
            return
        if video.author_id:
            self.followers[video.author_id] = followers
        video.author_followers = followers
        yield video

    def details_failed(self, failure: Failure) -> Iterator[Any]:
        """A detail request that failed: the video is kept without those counts (a block still stops the crawl)."""
        from crawlers.blocks import BlockedResponse

        if failure.check(BlockedResponse):
            self.blocked(str(failure.value))
        request = getattr(failure, "request", None)
        video = request.cb_kwargs.get("video") if request is not None else None
        if isinstance(video, Mention):
            yield from self._without_details(video, failure.getErrorMessage())

    def _without_details(self, video: Mention, why: str) -> Iterator[Mention]:
        self.logger.warning("details of %s not read (%s): kept without them", video.source_id, why)
        self._inc(STAT_DETAILS_FAILED)
        yield video

    def parse_replies(self, response: Response, aid: str, bvid: str, offset: str, page: int,
                      refreshed: bool = False) -> Iterator[Any]:
        """One page of a video's comments (newest first) and the next offset, up to max_pages."""
        result, retry = self._read(
            response,
            lambda: parser.parse_replies(
                self.json_body(response, "bilibili replies"), self.now(), bvid, self.site, self.context_brand
            ),
            refreshed, lambda: self.replies_request(aid, bvid, offset, page, refreshed=True),
        )
        if retry is not None:
            yield retry
        if result is None:
            return
        yield from self.emit(result, response)
        if result.next_page is not None and page < self.max_pages:
            yield self.replies_request(aid, bvid, str(result.next_page), page + 1)
