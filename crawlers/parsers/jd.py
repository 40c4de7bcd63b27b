"""JD.com products from the search page, and product reviews from the image-comment list peers read today.

Follows Dimlitter/jd_AutoComment `jdspider.py` (and its issues #46, #73, #77, #78 on JD closing endpoints): products
are the `li.gl-item` elements (their `data-sku`) of `https://search.jd.com/Search?keyword=K&enc=utf-8`, fetched with a
login cookie; reviews come from `https://club.jd.com/discussion/getProductPageImageCommentList.action?productId=SKU`
with the item page `https://item.jd.com/SKU.html` as Referer, answered as JSON `imgComments.imgList[].commentVo`
(the peers' older `productPageComments.action` JSONP is gone). Which endpoint works without a login today is not
confirmed (see the README's "Real platforms"): a redirect to passport.jd.com is a block that says to set a cookie.
`sortType=5` (newest first) is what peers send to the older endpoint; sent here too, so incremental crawls can stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import quote

from parsel import Selector

from core.mention import Mention
from crawlers.parsers.common import (
    ParseError,
    SearchPage,
    china_time,
    collect,
    essentials,
    html_text,
    parse_count,
    require,
    str_field,
    text_id,
)

PLATFORM = "jd"
PUBLIC_ROOT = "https://item.jd.com"
SEARCH_ROOT = "https://search.jd.com"
CLUB_ROOT = "https://club.jd.com"
REVIEWS_PATH = "/discussion/getProductPageImageCommentList.action"
PAGE_SIZE = 10


@dataclass(frozen=True)
class Product:
    """A product whose reviews to crawl."""

    product_id: str
    name: str | None = None


def products_url(search_root: str, keyword: str) -> str:
    """The search page of a keyword (HTML)."""
    return f"{search_root.rstrip('/')}/Search?keyword={quote(keyword)}&enc=utf-8"


def item_url(product_id: str) -> str:
    """The product's own page: the Referer JD wants on review requests, and where a review lives."""
    return f"{PUBLIC_ROOT}/{quote(product_id)}.html"


def reviews_url(club_root: str, product_id: str, page: int) -> str:
    """One page (1-based) of a product's reviews."""
    return (f"{club_root.rstrip('/')}{REVIEWS_PATH}?productId={quote(product_id)}&isShadowSku=0&sortType=5"
            f"&page={page}&pageSize={PAGE_SIZE}")


def parse_products(html: str) -> tuple[list[Product], list[str]]:
    """Products of a search page (`li.gl-item[data-sku]`, name from `.p-name em`) and why any was skipped.
    A page that has no product list at all is a ParseError (a changed page, or a block page)."""
    what = "jd search"
    doc = Selector(text=html_text(html), type="html")
    items = doc.css("li.gl-item")
    if not items and not doc.css("#J_goodsList"):
        raise ParseError(f"{what}: neither li.gl-item nor #J_goodsList in the page")
    products: list[Product] = []
    skipped: list[str] = []
    for index, item in enumerate(items):
        try:
            sku = text_id(item.attrib.get("data-sku"))
        except ValueError as exc:  # lxml refuses some mangled markup ("Invalid tag name")
            skipped.append(f"{what} #{index}: unreadable markup ({exc})")
            continue
        if not sku or not sku.isdigit():
            skipped.append(f"{what} #{index}: data-sku missing")
            continue
        name = " ".join(" ".join(item.css(".p-name em ::text").getall()).split())
        products.append(Product(sku, name or None))
    return products, skipped


def _images(row: dict[str, Any]) -> list[str]:
    out = []
    images = row.get("images")
    for image in images if isinstance(images, list) else []:
        url = image.get("imgUrl") if isinstance(image, dict) else None
        if isinstance(url, str) and url:
            out.append(("https:" + url) if url.startswith("//") else url)
    return out


def _follow_up(row: dict[str, Any]) -> str | None:
    """The buyer's follow-up review (追评), as JD nests it."""
    for key in ("afterUserComment", "hAfterUserComment"):
        after = row.get(key)
        if isinstance(after, dict):
            nested = after.get("hAfterUserComment")
            inner: dict[str, Any] = nested if isinstance(nested, dict) else after
            text = str_field(inner, "content").strip()
            if text:
                return text
    return None


def _review(vo: Any, now: datetime, product: Product, site: str, brand: str | None) -> Mention:
    row, review_id, content = essentials(vo, "commentVo", "review", ("id", "guid"), "content")
    score = row.get("score")
    rating: float | None = None
    if isinstance(score, int | float | str) and not isinstance(score, bool):
        try:
            rating = float(score) if 1 <= float(score) <= 5 else None
        except ValueError:
            rating = None
    follow_up = _follow_up(row)
    extra: dict[str, Any] = {
        k: v for k, v in (
            ("product_id", product.product_id), ("color", text_id(row.get("productColor"))),
            ("size", text_id(row.get("productSize"))), ("images", _images(row) or None), ("follow_up", follow_up),
        ) if v
    }
    return Mention(
        platform=PLATFORM,
        source_id=review_id,
        url=f"{site.rstrip('/')}/{product.product_id}.html#comment-{review_id}",
        text=f"{content}\n追评：{follow_up}" if follow_up else content,
        author=text_id(row.get("nickname")),
        brand=brand,
        product=text_id(row.get("referenceName")) or product.name,
        rating=rating,
        published_at=china_time(row.get("creationTime")),
        crawled_at=now,
        likes=parse_count(row.get("usefulVoteCount")),
        comments=parse_count(row.get("replyCount")),
        extra=extra,
    )


def parse_reviews(
    payload: Any, now: datetime, product: Product, page: int = 1, site: str = PUBLIC_ROOT, brand: str | None = None
) -> SearchPage:
    """Reviews of one page (creationTime is China time); a short or empty page ends the product."""
    what = "jd reviews"
    if not isinstance(payload, dict):
        raise ParseError(f"{what}: response is {type(payload).__name__}, expected an object")
    block = require(payload, "imgComments", what, dict)
    rows = block.get("imgList") or []
    if not isinstance(rows, list):
        raise ParseError(f"{what}: imgComments.imgList is {type(rows).__name__}, expected list")
    result = collect(
        [r.get("commentVo") if isinstance(r, dict) else r for r in rows],
        partial(_review, now=now, product=product, site=site, brand=brand),
        f"{what} of {product.product_id} page {page}",
    )
    total = parse_count(block.get("imgCommentCount"))
    more = len(rows) >= PAGE_SIZE and (total is None or page * PAGE_SIZE < total)
    result.next_page = page + 1 if more else None
    return result
