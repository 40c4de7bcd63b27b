"""JD.com product reviews: search products for the keyword (or take `-a product_ids=1,2`), then page reviews."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawlers.parsers import jd as parser
from crawlers.parsers.common import ParseError
from crawlers.spiders.base import GroundswellSpider, source_key


class JdSpider(GroundswellSpider):
    """`scrapy crawl jd -a keyword=K | -a product_ids=1,2 [-a base_url=URL] [-a max_pages=N]`.

    max_pages bounds the review pages per product. Reviews are about the product found by the keyword, so
    they get the brand when the keyword is a configured brand (their text rarely names it). Incremental crawls
    keep one cursor per keyword (or product list), not per product: a product whose reviews all predate the
    revisit window is read one page deep.
    """

    name = "jd"
    platform = parser.PLATFORM
    base_url_setting = "JD_BASE_URL"
    default_base_url = "https://club.jd.com"
    public_root = parser.PUBLIC_ROOT
    keyword_required = False

    def __init__(self, product_ids: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.product_ids = [p.strip() for p in (product_ids or "").split(",") if p.strip()]
        if not self.keyword and not self.product_ids:
            raise ValueError("jd: give -a keyword=... or -a product_ids=1,2")
        self.source_key = source_key(self.name, self.source_name(), self.base, self.default_base_url)

    def source_name(self) -> str:
        """The keyword, or the product list when products are given instead."""
        return self.keyword or "products=" + ",".join(getattr(self, "product_ids", []))

    def _configure(self, crawler: Any) -> None:
        super()._configure(crawler)
        if self.base.endswith(".jd.com"):
            self.site = self.public_root

    def reviews_request(self, product: parser.Product, page: int) -> scrapy.Request:
        """The request for one review page of a product."""
        return scrapy.Request(
            parser.reviews_url(self.base, product.product_id, page),
            callback=self.parse_reviews,
            errback=self.request_failed,
            cb_kwargs={"product": product, "page": page},
        )

    async def start(self) -> AsyncIterator[Any]:
        await self.load_cursor()
        if self.product_ids:
            for pid in self.product_ids:
                yield self.reviews_request(parser.Product(pid), 0)
            return
        yield scrapy.Request(
            parser.products_url(self.base, self.keyword), callback=self.parse_products, errback=self.request_failed
        )

    def parse_products(self, response: Response) -> Iterator[Any]:
        """The products a keyword search found: one review crawl each."""
        try:
            products, skipped = parser.parse_products(self.json_body(response, "jd search"))
        except ParseError as exc:
            self.parse_failed(exc, response)
            return
        for reason in skipped:
            self.logger.warning("skipped a malformed product at %s: %s", response.url, reason)
        for product in products:
            yield self.reviews_request(product, 0)

    def parse_reviews(self, response: Response, product: parser.Product, page: int) -> Iterator[Any]:
        """One review page and the next, until an empty page or max_pages."""
        result = self.read_page(
            response,
            lambda: parser.parse_reviews(
                self.jsonp_body(response, "jd reviews"), self.now(), product, page, self.site, self.context_brand
            ),
        )
        if result is None:
            return
        yield from self.emit(result, response)
        # sortType=6 is newest first: older pages hold older reviews
        last = page + 1 >= self.max_pages
        more = self.keep_paging(result.mentions, last_allowed=last and result.next_page is not None)
        if more and result.next_page is not None and not last:
            yield self.reviews_request(product, page + 1)
