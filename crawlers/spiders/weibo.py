"""Weibo search (and, with `-a comments=1`, hot comments) through the mobile site's JSON API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from core.mention import Mention
from crawlers.parsers import weibo as parser
from crawlers.parsers.common import SearchPage, load_json
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
    base_url_setting = "WEIBO_BASE_URL"
    default_base_url = "https://m.weibo.cn"
    public_root = parser.PUBLIC_ROOT
    comments_by_default = False

    def _request(self, url: str, callback: Any, **cb_kwargs: Any) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.request_failed,
            cb_kwargs=cb_kwargs,
            meta={"dont_redirect": True, "handle_httpstatus_list": REDIRECTS},
            headers={"Accept": "application/json, text/plain, */*", "X-Requested-With": "XMLHttpRequest"},
        )

    def search_request(self, page: int) -> scrapy.Request:
        """The request for one search page."""
        return self._request(parser.search_url(self.base, self.keyword, page), self.parse_search, page=page)

    async def start(self) -> AsyncIterator[Any]:
        await self.load_cursor()
        yield self.search_request(1)

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

    def resume_token(self, stored: str, next_token: int | str) -> int | str:
        """Page numbers: new posts push the gap further down, so resume at the stored page or further; one page
        early, in case posts were deleted meanwhile (posts fetched before are not emitted again)."""
        return max(int(stored) - 1, int(next_token)) if stored.isdigit() else next_token

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
        mentions = self.emit(self.unseen(result), response)
        yield from mentions
        if self.with_comments:
            yield from self._comment_requests(mentions)
        token = self.follow(result.mentions, result.next_page)  # newest first: stops at the cursor (or gap floor)
        if token is not None:
            yield self.search_request(int(token))

    def _comment_requests(self, mentions: list[Mention]) -> Iterator[scrapy.Request]:
        for mention in mentions:
            if mention.source_id and mention.comments:
                url = parser.comments_url(self.base, mention.source_id)
                yield self._request(url, self.parse_comments, mid=mention.source_id, page=1)

    def parse_comments(self, response: Response, mid: str, page: int) -> Iterator[Any]:
        """One page of a post's hot comments; follows `max_id` up to max_pages."""
        result, follow = self._read(
            response, "weibo comments",
            lambda payload: parser.parse_comments(payload, self.now(), mid, self.site, self.context_brand),
        )
        if follow is not None:
            yield follow
        if result is None:
            return
        yield from self.emit(result, response)
        if result.next_page is not None and page < self.max_pages:
            url = parser.comments_url(self.base, mid, result.next_page)
            yield self._request(url, self.parse_comments, mid=mid, page=page + 1)
