"""JD.com product reviews: products from the real search page (or `-a product_ids=1,2`), then their reviews.

Follows Dimlitter/jd_AutoComment `jdspider.py` (see crawlers.parsers.jd): the search page with a login cookie and a
browser's headers, the image-comment list with the item page as Referer. JD sends clients without a login to
passport.jd.com: that is a block ("set GROUNDSWELL_COOKIES_JD"), never parsed as a page. The cookie comes from the
account pool (`GROUNDSWELL_COOKIES_JD="thor=...; pin=..."` or `accounts.jd`, crawlers.accounts).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawlers.parsers import jd as parser
from crawlers.parsers.common import ParseError
from crawlers.platforms.headers import ACCEPT_JSON, ACCEPT_LANGUAGE, DESKTOP_USER_AGENT
from crawlers.spiders.base import GroundswellSpider, source_key

LOGIN_HINT = "set GROUNDSWELL_COOKIES_JD (or accounts.jd) to the cookie of a logged-in jd.com session"
REDIRECTS = (301, 302, 303, 307, 308)


def login_redirect(response: Response) -> bool:
    """JD's answer to a client without a login: a redirect to passport.jd.com (its login page)."""
    location = (response.headers.get("Location") or b"").decode("latin-1")
    return response.status in REDIRECTS and ("passport.jd.com" in location or "/new/login.aspx" in location)


class JdSpider(GroundswellSpider):
    """`scrapy crawl jd -a keyword=K | -a product_ids=1,2 [-a base_url=URL] [-a max_pages=N]`.

    max_pages bounds the review pages per product. Reviews are about the product found by the keyword, so
    they get the brand when the keyword is a configured brand (their text rarely names it). Incremental crawls
    keep one cursor per keyword (or product list), not per product: a product whose reviews all predate the
    revisit window is read one page deep. base_url stands in for the search, review and login hosts alike.
    """

    name = "jd"
    platform = parser.PLATFORM
    base_url_setting = "JD_BASE_URL"
    default_base_url = parser.CLUB_ROOT
    public_root = parser.PUBLIC_ROOT
    keyword_required = False
    custom_settings = {"USER_AGENT": DESKTOP_USER_AGENT}  # noqa: RUF012 (Scrapy: instance var)

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
        real = self.base == parser.CLUB_ROOT
        self.search_root = parser.SEARCH_ROOT if real else self.base
        if self.base.endswith(".jd.com"):
            self.site = self.public_root

    def blocked_signal(self, response: Response) -> str | None:
        if login_redirect(response):
            return f"{self.platform}: login required ({response.url.split('?')[0]} redirects to passport.jd.com); " \
                   f"{LOGIN_HINT}"
        if response.status == 403:
            return f"{self.platform}: HTTP 403 at {response.url.split('?')[0]} (refused: item-page Referer and login " \
                   "cookie needed)"
        return None

    def reviews_request(self, product: parser.Product, page: int) -> scrapy.Request:
        """The request for one review page of a product, from its item page."""
        return scrapy.Request(
            parser.reviews_url(self.base, product.product_id, page),
            callback=self.parse_reviews,
            errback=self.request_failed,
            cb_kwargs={"product": product, "page": page},
            headers={"Referer": parser.item_url(product.product_id), "Accept": ACCEPT_JSON,
                     "Accept-Language": ACCEPT_LANGUAGE},
        )

    async def start(self) -> AsyncIterator[Any]:
        await self.load_cursor()
        if self.product_ids:
            for pid in self.product_ids:
                yield self.reviews_request(parser.Product(pid), 1)
            return
        yield scrapy.Request(
            parser.products_url(self.search_root, self.keyword), callback=self.parse_products,
            errback=self.request_failed, meta={"dont_redirect": True},
            headers={"Accept": "text/html,application/xhtml+xml", "Accept-Language": ACCEPT_LANGUAGE,
                     "Referer": "https://www.jd.com/"},
        )

    def parse_products(self, response: Response) -> Iterator[Any]:
        """The products a keyword search found: one review crawl each."""
        try:
            products, skipped = parser.parse_products(self.body_text(response, "jd search"))
        except ParseError as exc:
            self.parse_failed(exc, response)
            return
        for reason in skipped:
            self.logger.warning("skipped a malformed product at %s: %s", response.url, reason)
        for product in products:
            yield self.reviews_request(product, 1)

    def parse_reviews(self, response: Response, product: parser.Product, page: int) -> Iterator[Any]:
        """One review page and the next, until a short page or max_pages."""
        result = self.read_page(
            response,
            lambda: parser.parse_reviews(
                self.json_body(response, "jd reviews"), self.now(), product, page, self.site, self.context_brand
            ),
        )
        if result is None:
            return
        yield from self.emit(result, response)
        # sortType=5 is newest first: older pages hold older reviews
        last = page >= self.max_pages
        more = self.paging.keep_paging(result.mentions, last_allowed=last and result.next_page is not None)
        if more and result.next_page is not None and not last:
            yield self.reviews_request(product, page + 1)
