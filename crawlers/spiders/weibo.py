"""Weibo search (and, with `-a comments=1`, hot comments) through the mobile site's JSON API, as a browser session.

Follows NanmiCoder/MediaCrawler `media_platform/weibo/client.py` and `core.py` (a mobile browser User-Agent,
`Referer`/`Origin` of m.weibo.cn, the session's cookies; `hotflow` with `max_id` and `max_id_type` passed back and
the post's page as Referer) and dataabc/weibo-crawler `weibo.py` (long posts, images, topics, verified authors).
The session is warmed up with a GET of the home page, which sets the visitor cookies, unless the cookie pool
(`GROUNDSWELL_COOKIES_WEIBO` / `accounts.weibo`, crawlers.accounts) supplies logged-in ones. HTTP 432 (no
browser-like session) and a redirect to the passport login are blocks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from core.mention import Mention
from crawlers.parsers import weibo as parser
from crawlers.parsers.common import Blocked, ParseError, SearchPage, load_json
from crawlers.platforms.headers import ACCEPT_JSON, ACCEPT_LANGUAGE, MOBILE_USER_AGENT
from crawlers.spiders.base import GroundswellSpider

REDIRECTS = [301, 302, 303, 307, 308]
MAX_REDIRECTS = 3


class WeiboSpider(GroundswellSpider):
    """`scrapy crawl weibo -a keyword=K [-a base_url=URL] [-a max_pages=N] [-a comments=1]`.

    Redirects are handled here rather than by Scrapy so that a redirect to the login page is seen as a
    login wall instead of being followed (and parsed as a broken page).
    """

    name = "weibo"
    platform = parser.PLATFORM
    page_numbered = True  # search pages are numbered: a stored gap resumes one page early
    base_url_setting = "WEIBO_BASE_URL"
    default_base_url = "https://m.weibo.cn"
    public_root = parser.PUBLIC_ROOT
    comments_by_default = False
    custom_settings = {"USER_AGENT": MOBILE_USER_AGENT}  # noqa: RUF012 (Scrapy: instance var)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._long_pending: set[str] = set()

    def _request(self, url: str, callback: Any, referer: str = "", errback: Any = None,
                 **cb_kwargs: Any) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=callback,
            errback=errback or self.request_failed,
            cb_kwargs=cb_kwargs,
            meta={"dont_redirect": True, "handle_httpstatus_list": REDIRECTS},
            headers={"Accept": ACCEPT_JSON, "Accept-Language": ACCEPT_LANGUAGE, "X-Requested-With": "XMLHttpRequest",
                     "Referer": referer or f"{parser.PUBLIC_ROOT}/", "Origin": parser.PUBLIC_ROOT,
                     "MWeibo-Pwa": "1"},
        )

    def search_request(self, page: int) -> scrapy.Request:
        """The request for one search page."""
        return self._request(parser.search_url(self.base, self.keyword, page), self.parse_search, page=page)

    async def start(self) -> AsyncIterator[Any]:
        await self.load_cursor()
        # warm-up: the home page sets the visitor session's cookies (Scrapy's cookie jar keeps them)
        yield scrapy.Request(f"{self.base}/", callback=self.warmed_up, errback=self.request_failed,
                             meta={"dont_redirect": True, "handle_httpstatus_list": REDIRECTS},
                             headers={"Accept": "text/html,application/xhtml+xml", "Accept-Language": ACCEPT_LANGUAGE},
                             dont_filter=True)

    def warmed_up(self, response: Response) -> Iterator[Any]:
        if response.status in REDIRECTS:
            follow = self._redirect(response)
            if follow is not None:
                yield follow
            return
        yield self.search_request(1)

    def blocked_signal(self, response: Response) -> str | None:
        if response.status == 432:
            return f"{self.platform}: HTTP 432 (no browser-like session) at {response.url.split('?')[0]}"
        return None

    def _redirect(self, response: Response) -> scrapy.Request | None:
        """Follow an ordinary redirect ourselves; a redirect to the login page is a login wall."""
        location = (response.headers.get("Location") or b"").decode("latin-1")
        target = response.urljoin(location) if location else ""
        if not target or parser.is_login_url(target):
            self.login_wall(f"{response.url} redirects to {target or 'nowhere'!r} (HTTP {response.status})")
        hops = response.meta.get("gs_redirects", 0) + 1
        if hops > MAX_REDIRECTS:
            self.logger.error("too many redirects from %s", response.url)
            return None
        request = response.request
        assert request is not None
        return request.replace(url=target, meta={**request.meta, "gs_redirects": hops})

    def _payload(self, response: Response, what: str) -> Any:
        """Decoded JSON, after checking for the login wall in every form Weibo shows it."""
        if parser.is_login_url(response.url):
            self.login_wall(f"landed on the login page {response.url}")
        return load_json(self.body_text(response, what), what)

    def _read(
        self, response: Response, what: str, parse: Callable[[Any], SearchPage]
    ) -> tuple[SearchPage | None, scrapy.Request | None]:
        """Every callback's start: a redirect to follow (or a login wall, which closes the crawl), else the page
        parsed from the checked payload (None when it lost required fields)."""
        if response.status in REDIRECTS:
            return None, self._redirect(response)
        return self.read_page(response, lambda: parse(self._payload(response, what))), None


    def parse_search(self, response: Response, page: int) -> Iterator[Any]:
        """One search page: its posts, their comment pages (if asked) and the next page, up to max_pages."""
        result, follow = self._read(
            response, "weibo search",
            lambda payload: parser.parse_search(payload, self.now(), page, self.site, self.explicit_brand),
        )
        if follow is not None:
            yield follow
        if result is None:
            return
        page_now = self.paging.unseen(result)
        # long posts are read whole first: whether one names the brand may be in the part the search cut off
        long_posts = [m for m in page_now.mentions if m.extra.get("truncated") and m.source_id]
        for post in long_posts:
            if post.source_id not in self._long_pending:
                self._long_pending.add(post.source_id or "")
                yield self._request(parser.long_text_url(self.base, post.source_id or ""), self.parse_long_text,
                                    referer=f"{parser.PUBLIC_ROOT}/detail/{post.source_id}",
                                    errback=self.long_text_failed, post=post)
        short = [m for m in page_now.mentions if not any(m is p for p in long_posts)]
        mentions = self.emit(SearchPage(short, skipped=page_now.skipped), response)
        yield from mentions
        if self.with_comments:
            yield from self._comment_requests(mentions)
        # newest first: stops at the cursor (or gap floor)
        token = self.paging.follow(result.mentions, result.next_page)
        if token is not None:
            yield self.search_request(int(token))

    def parse_long_text(self, response: Response, post: Mention) -> Iterator[Any]:
        """The full text of a long post replaces its truncated one; without it the post is kept as it came."""
        if response.status in REDIRECTS:
            follow = self._redirect(response)
            if follow is not None:
                yield follow
            return
        try:
            post.text = parser.parse_long_text(self._payload(response, "weibo long text"))
            post.extra.pop("truncated", None)
        except Blocked as exc:
            self.refused(exc)
        except ParseError as exc:
            self.logger.warning("full text of %s not read (%s): kept truncated", post.source_id, exc)
            self._inc("groundswell/long_text_failed")
        yield from self._emit_post(post, response)

    def _emit_post(self, post: Mention, response: Response) -> Iterator[Any]:
        emitted = self.emit(SearchPage([post]), response)
        yield from emitted
        if self.with_comments:
            yield from self._comment_requests(emitted)

    def long_text_failed(self, failure: Any) -> Iterator[Any]:
        """The extend request failed: a block still stops the crawl, else the truncated post is kept."""
        from crawlers.blocks import BlockedResponse

        if failure.check(BlockedResponse):
            self.blocked(str(failure.value))
        request = getattr(failure, "request", None)
        post = request.cb_kwargs.get("post") if request is not None else None
        self.logger.warning("full text not read (%s): kept truncated", failure.getErrorMessage())
        self._inc("groundswell/long_text_failed")
        if isinstance(post, Mention) and request is not None:
            yield from self._emit_post(post, Response(request.url, request=request))

    def _comment_requests(self, mentions: list[Mention]) -> Iterator[scrapy.Request]:
        for mention in mentions:
            if mention.source_id and mention.comments:
                yield self.comments_request(mention.source_id, None, 0, 1)

    def comments_request(self, mid: str, max_id: str | None, max_id_type: int, page: int) -> scrapy.Request:
        return self._request(parser.comments_url(self.base, mid, max_id, max_id_type), self.parse_comments,
                             referer=f"{parser.PUBLIC_ROOT}/detail/{mid}", mid=mid, page=page)

    def parse_comments(self, response: Response, mid: str, page: int) -> Iterator[Any]:
        """One page of a post's hot comments; passes `max_id` and `max_id_type` back, up to max_pages."""
        cursor: list[tuple[str, int] | None] = [None]

        def parse(payload: Any) -> SearchPage:
            cursor[0] = parser.comment_cursor(payload)
            return parser.parse_comments(payload, self.now(), mid, self.site, self.context_brand)

        result, follow = self._read(response, "weibo comments", parse)
        if follow is not None:
            yield follow
        if result is None:
            return
        yield from self.emit(result, response)
        if result.next_page is not None and cursor[0] is not None and page < self.max_pages:
            yield self.comments_request(mid, cursor[0][0], cursor[0][1], page + 1)
