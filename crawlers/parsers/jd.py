"""JD.com product search (the simulator's JSON shape) and product reviews (JSONP `fetchJSON_comment98(...)`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import quote

from core.mention import Mention
from crawlers.parsers.common import (
    ParseError,
    SearchPage,
    china_time,
    collect,
    essentials,
    parse_count,
    require,
    text_id,
)

PLATFORM = "jd"
PUBLIC_ROOT = "https://item.jd.com"


@dataclass(frozen=True)
class Product:
    """A product whose reviews to crawl."""

    product_id: str
    name: str | None = None


def products_url(base: str, keyword: str) -> str:
    """Product search for a keyword."""
    return f"{base.rstrip('/')}/search?keyword={quote(keyword)}"


def reviews_url(base: str, product_id: str, page: int) -> str:
    """One page (0-based, JD's own numbering) of a product's reviews, newest first (sortType=6)."""
    return (
        f"{base.rstrip('/')}/comment/productPageComments.action?productId={quote(product_id)}"
        f"&score=0&sortType=6&page={page}&pageSize=10"
    )


def parse_products(payload: Any) -> tuple[list[Product], list[str]]:
    """Products of a search response and the reasons for any skipped entry."""
    what = "jd search"
    rows = require(payload, "products", what, list)
    products: list[Product] = []
    skipped: list[str] = []
    for index, row in enumerate(rows):
        pid = text_id(row.get("productId")) if isinstance(row, dict) else None
        if not pid:
            skipped.append(f"{what} #{index}: productId missing")
            continue
        products.append(Product(pid, text_id(row.get("name"))))
    return products, skipped


def _review(row: Any, now: datetime, product: Product, site: str, brand: str | None) -> Mention:
    row, review_id, content = essentials(row, "comment", "review", ("id",), "content")
    score = row.get("score")
    rating: float | None = None
    if isinstance(score, int | float | str) and not isinstance(score, bool):
        try:
            rating = float(score) if 1 <= float(score) <= 5 else None
        except ValueError:
            rating = None
    color = text_id(row.get("productColor"))
    extra = {
        k: v
        for k, v in (("product_id", product.product_id), ("color", color), ("size", text_id(row.get("productSize"))))
        if v
    }
    return Mention(
        platform=PLATFORM,
        source_id=review_id,
        url=f"{site.rstrip('/')}/{product.product_id}.html#comment-{review_id}",
        text=content,
        author=text_id(row.get("nickname")),
        brand=brand,
        product=text_id(row.get("referenceName")) or product.name or color,
        rating=rating,
        published_at=china_time(row.get("creationTime")),
        crawled_at=now,
        likes=parse_count(row.get("usefulVoteCount")),
        comments=parse_count(row.get("replyCount")),
        extra=extra,
    )


def parse_reviews(
    payload: Any, now: datetime, product: Product, page: int = 0, site: str = PUBLIC_ROOT, brand: str | None = None
) -> SearchPage:
    """Reviews of one page (creationTime is China time); an empty page or `maxPage` reached ends the product."""
    what = "jd reviews"
    if not isinstance(payload, dict):
        raise ParseError(f"{what}: response is {type(payload).__name__}, expected an object")
    rows = require(payload, "comments", what, list)
    result = collect(
        rows, partial(_review, now=now, product=product, site=site, brand=brand),
        f"{what} of {product.product_id} page {page}",
    )
    max_page = payload.get("maxPage")
    more = not isinstance(max_page, int) or page + 1 < max_page
    result.next_page = page + 1 if rows and more else None
    return result
