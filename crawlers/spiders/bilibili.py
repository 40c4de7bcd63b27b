"""Bilibili video search, then the comments of each video found."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawlers.parsers import bilibili as parser
from crawlers.spiders.base import GroundswellSpider


class BilibiliSpider(GroundswellSpider):
    """`scrapy crawl bilibili -a keyword=K [-a base_url=URL] [-a max_pages=N] [-a comments=0]`.

    max_pages bounds both the search pages and the comment pages of each video. Search results come by
    relevance, so incremental crawls record the cursor but never stop paging early on it.
    """

    name = "bilibili"
    platform = parser.PLATFORM
    base_url_setting = "BILIBILI_BASE_URL"
    default_base_url = "https://api.bilibili.com"
    public_root = parser.PUBLIC_ROOT
    comments_by_default = True

    def _configure(self, crawler: Any) -> None:
        super()._configure(crawler)
        # api.bilibili.com serves data, www.bilibili.com the pages people open
        if self.site == self.public_root or self.base.endswith(".bilibili.com"):
            self.site = self.public_root

    def search_request(self, page: int) -> scrapy.Request:
        """The request for one search page."""
        return scrapy.Request(
            parser.search_url(self.base, self.keyword, page),
            callback=self.parse_search,
            errback=self.request_failed,
            cb_kwargs={"page": page},
        )

    def replies_request(self, aid: str, bvid: str, cursor: int | str, page: int) -> scrapy.Request:
        """The request for one page of a video's comments."""
        return scrapy.Request(
            parser.replies_url(self.base, aid, cursor),
            callback=self.parse_replies,
            errback=self.request_failed,
            cb_kwargs={"aid": aid, "bvid": bvid, "page": page},
        )

    async def start(self) -> AsyncIterator[Any]:
        await self.load_cursor()
        yield self.search_request(1)

    def parse_search(self, response: Response, page: int) -> Iterator[Any]:
        """Videos of one search page, their comments and the next page, up to max_pages."""
        result = self.read_page(
            response,
            lambda: parser.parse_search(
                self.json_body(response, "bilibili search"), self.now(), page, self.site, self.explicit_brand
            ),
        )
        if result is None:
            return
        mentions = self.emit(result, response)
        yield from mentions
        if self.with_comments:
            for video in mentions:
                aid = video.extra.get("aid")
                if aid and video.source_id and video.comments != 0:
                    yield self.replies_request(str(aid), video.source_id, 0, 1)
        # search is ordered by relevance, not time: the cursor is tracked, but old pages never stop paging
        self.track_newest(result.mentions)
        if result.next_page is not None and page < self.max_pages:
            yield self.search_request(page + 1)

    def parse_replies(self, response: Response, aid: str, bvid: str, page: int) -> Iterator[Any]:
        """One page of a video's comments and the next cursor, up to max_pages."""
        result = self.read_page(
            response,
            lambda: parser.parse_replies(
                self.json_body(response, "bilibili replies"), self.now(), bvid, self.site, self.context_brand
            ),
        )
        if result is None:
            return
        yield from self.emit(result, response)
        if result.next_page is not None and page < self.max_pages:
            yield self.replies_request(aid, bvid, result.next_page, page + 1)
