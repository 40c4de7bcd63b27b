"""Reddit search (newest first) and the comments of each post found, through the OAuth2 API.

Follows Reddit's API wiki pages `OAuth2` and `API` (see crawlers.platforms.reddit_oauth): an app token from
`www.reddit.com/api/v1/access_token` (client id and secret; a username/password pair for a script app), then
`oauth.reddit.com/search` and `/comments/ID` with `Authorization: bearer …`, a `<platform>:<app>:<version> (by
/u/<user>)` User-Agent, one request a second at most (60/min) and the `X-Ratelimit-*` headers honoured. Without app
credentials the crawl ends `blocked` at once, saying which variables to set; a 403 ("Blocked") or 429 ends it too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawlers.context import CrawlContext
from crawlers.parsers import reddit as parser
from crawlers.parsers.common import ParseError
from crawlers.platforms import reddit_oauth
from crawlers.spiders.base import GroundswellSpider


class RedditSpider(GroundswellSpider):
    """`scrapy crawl reddit -a keyword=K [-a base_url=URL] [-a max_pages=N] [-a comments=0]`.

    base_url stands in for both the API host and the token endpoint's host (the simulator serves both).
    """

    name = "reddit"
    platform = parser.PLATFORM
    base_url_setting = "REDDIT_BASE_URL"
    default_base_url = reddit_oauth.API_ROOT
    public_root = parser.PUBLIC_ROOT
    comments_by_default = True
    # the API allows 60 requests a minute per client: one a second, one at a time
    custom_settings = {"DOWNLOAD_DELAY": 1.0, "CONCURRENT_REQUESTS_PER_DOMAIN": 1}  # noqa: RUF012

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.app: reddit_oauth.App | None = None
        self.token: str | None = None

    def _configure(self, crawler: Any) -> None:
        super()._configure(crawler)
        # www/oauth/old.reddit.com are the real site: link to www
        if self.base.endswith("reddit.com"):
            self.site = self.public_root
        self.token_root = reddit_oauth.TOKEN_ROOT if self.base == reddit_oauth.API_ROOT else self.base
        self.app = reddit_oauth.app_from_config(CrawlContext.of(crawler).config)

    def _headers(self) -> dict[str, str]:
        assert self.app is not None and self.token is not None
        return {"Authorization": reddit_oauth.bearer(self.token), "User-Agent": reddit_oauth.user_agent(self.app)}

    def search_request(self, after: str | None, page: int) -> scrapy.Request:
        """The request for one listing page."""
        return scrapy.Request(
            parser.search_url(self.base, self.keyword, after), callback=self.parse_search,
            errback=self.request_failed, cb_kwargs={"page": page}, headers=self._headers(),
        )

    async def start(self) -> AsyncIterator[Any]:
        await self.load_cursor()
        if self.app is None:
            self.blocked(f"{self.platform}: {reddit_oauth.MISSING}")
        app = self.app
        yield scrapy.FormRequest(
            f"{self.token_root}{reddit_oauth.TOKEN_PATH}", formdata=reddit_oauth.token_form(app),
            headers={"Authorization": reddit_oauth.basic_auth(app), "User-Agent": reddit_oauth.user_agent(app)},
            callback=self.parse_token, errback=self.request_failed, dont_filter=True,
        )

    def blocked_signal(self, response: Response) -> str | None:
        path = response.url.split("?")[0]
        if response.status == 401 and path.endswith(reddit_oauth.TOKEN_PATH):
            return f"{self.platform}: the token endpoint refused the app credentials (HTTP 401)"
        if response.status == 401:
            return f"{self.platform}: HTTP 401 (the OAuth token was refused) at {path}"
        if response.status == 403:
            return f"{self.platform}: HTTP 403 Blocked at {path} (OAuth token and User-Agent required)"
        if response.status == 429:
            reset = (response.headers.get(b"X-Ratelimit-Reset") or b"?").decode("latin-1")
            return f"{self.platform}: HTTP 429 (rate limit exceeded; the window resets in {reset} s)"
        return None

    def parse_token(self, response: Response) -> Iterator[Any]:
        """Keep the bearer token (never logged), then the first search page."""
        try:
            self.token, _ = reddit_oauth.parse_token(self.json_body(response, "reddit token"))
        except (ParseError, reddit_oauth.TokenRefused) as exc:
            self.blocked(f"{self.platform}: no OAuth token: {exc}")
        yield self.search_request(None, 1)

    def parse_search(self, response: Response, page: int) -> Iterator[Any]:
        """Posts of one listing page, their comments, and the next page (by `after`), up to max_pages."""
        result = self.read_page(
            response,
            lambda: parser.parse_search(
                self.json_body(response, "reddit search"), self.now(), self.site, self.explicit_brand
            ),
        )
        if result is None:
            return
        for post in self.emit(self.paging.unseen(result), response):
            yield post
            if self.with_comments and post.source_id and post.comments:
                yield scrapy.Request(
                    parser.comments_url(self.base, post.source_id), callback=self.parse_comments,
                    errback=self.request_failed, cb_kwargs={"post_id": post.source_id}, headers=self._headers(),
                )
        # sort=new: stops at the cursor (or gap floor)
        token = self.paging.follow(result.mentions, result.next_page)
        if token is not None:
            yield self.search_request(str(token), page + 1)

    def parse_comments(self, response: Response, post_id: str) -> Iterator[Any]:
        """All comments of a post (one answer holds the nested replies)."""
        result = self.read_page(
            response,
            lambda: parser.parse_comments(
                self.json_body(response, "reddit comments"), self.now(), post_id, self.site, self.context_brand
            ),
        )
        if result is not None:
            yield from self.emit(result, response)
