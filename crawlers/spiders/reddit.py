"""Reddit search (newest first) through the public `search.json` listing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawlers.parsers import reddit as parser
from crawlers.spiders.base import GroundswellSpider


class RedditSpider(GroundswellSpider):
    """`scrapy crawl reddit -a keyword=K [-a base_url=URL] [-a max_pages=N]`."""

    name = "reddit"
    platform = parser.PLATFORM
    base_url_setting = "REDDIT_BASE_URL"
    default_base_url = "https://www.reddit.com"
    public_root = parser.PUBLIC_ROOT

    def _configure(self, crawler: Any) -> None:
        super()._configure(crawler)
        # old.reddit.com and friends are the real site too: link to www
        if self.base.endswith("reddit.com"):
            self.site = self.public_root

    def search_request(self, after: str | None, page: int) -> scrapy.Request:
        """The request for one listing page."""
        return scrapy.Request(
            parser.search_url(self.base, self.keyword, after),
            callback=self.parse_search,
            errback=self.request_failed,
            cb_kwargs={"page": page},
        )

    async def start(self) -> AsyncIterator[Any]:
        await self.load_cursor()
        yield self.search_request(None, 1)

    def parse_search(self, response: Response, page: int) -> Iterator[Any]:
        """Posts of one listing page and the next page (by `after`), up to max_pages."""
        result = self.read_page(
            response,
            lambda: parser.parse_search(
                self.json_body(response, "reddit search"), self.now(), self.site, self.explicit_brand
            ),
        )
        if result is None:
            return
        yield from self.emit(self.unseen(result), response)
        token = self.follow(result.mentions, result.next_page)  # sort=new: stops at the cursor (or gap floor)
        if token is not None:
            yield self.search_request(str(token), page + 1)
