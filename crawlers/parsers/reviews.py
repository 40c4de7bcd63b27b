"""Any server-rendered review page: its schema.org `Review` markup first (crawlers.parsers.schema_reviews: JSON-LD,
microdata, RDFa), else CSS or XPath selectors given per site (parsel, which Scrapy ships). Dates are read as pages
print them, localized or relative ("2024年3月5日", "March 5, 2024", "3天前"; crawlers.parsers.dates).

The selectors are groundswell.config.ReviewSelectors, from a configured source or from spider arguments; each is
compiled to XPath once. A field selector that picks text or an attribute (`::text`, `::attr(name)`, `/text()`,
`/@name`) is taken as is; one that picks an element gives its text content. An item selector that finds nothing on
a page that answered 200 means the site changed its layout: that is a LayoutChanged error, never a quiet empty page.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache, partial
from typing import Any
from urllib.parse import urljoin, urlsplit

from parsel import Selector
from pydantic import ValidationError

from core.config import ReviewSelectors
from core.mention import Mention
from crawlers.parsers.common import ParseError, SearchPage, Skip, collect, html_text, parse_count, text_id
from crawlers.parsers.dates import printed_date
from crawlers.parsers.schema_reviews import structured_reviews

PLATFORM = "reviews"
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)?")
_OFFSET_RE = re.compile(r"^([+-])(\d{1,2}):?(\d{2})?$")

# the simulator's classic layout (sites/reviews.py), used when no selectors are given
CLASSIC = ReviewSelectors(
    item="div.review", text=".text", author=".author", time="time::attr(datetime)", rating=".rating",
    next="a.next::attr(href)", id="::attr(id)", likes=".helpful",
)


class LayoutChanged(ParseError):
    """The item selector found nothing on a page that loaded fine: the site was redesigned."""


def with_overrides(base: ReviewSelectors, values: dict[str, Any]) -> ReviewSelectors:
    """`base` with some fields replaced (from -a arguments or a file); a bad selector or an unknown name (a typo
    would silently do nothing) is a ValueError naming the key."""
    known = set(ReviewSelectors.model_fields)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown selector name(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    merged = {**base.model_dump(), **{k: v for k, v in values.items() if v is not None}}
    try:
        return ReviewSelectors.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg'].removeprefix('Value error, ')} (got {e.get('input')!r})"
            for e in exc.errors()
        )
        raise ValueError(f"bad selectors: {problems}") from None


@lru_cache(maxsize=64)
def compiled(selectors: ReviewSelectors) -> dict[str, str]:
    """Each non-empty selector as XPath (they were validated, so this cannot fail)."""
    return {
        name: ReviewSelectors.to_xpath(getattr(selectors, name))
        for name in ReviewSelectors.selector_names()
        if getattr(selectors, name)
    }


def parse_timezone(value: str | None) -> tzinfo:
    """'UTC', '+08:00', '-0500': the zone of times printed without one (normalize refuses naive times)."""
    text = (value or "").strip()
    if not text or text.upper() in {"UTC", "Z"}:
        return UTC
    match = _OFFSET_RE.match(text)
    if not match:
        raise ValueError(f"timezone must be UTC or an offset like +08:00, got {value!r}")
    sign = -1 if match.group(1) == "-" else 1
    return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0)))


def field_value(node: Selector, xpath: str | None) -> str:
    """One field: the first match, as is when it is text or an attribute, else its text content; "" if none."""
    if not xpath:
        return ""
    found = node.xpath(xpath)
    if not found:
        return ""
    first = found[0]
    raw = first.root if not hasattr(first.root, "tag") else first.xpath("string()").get("")
    return " ".join(str(raw).split())


def parse_time(value: str, tz: tzinfo, now: datetime | None = None) -> datetime:
    """ISO 8601, epoch seconds/milliseconds, or a date as the page prints it ("2024年3月5日", "3天前", relative to
    `now`); times without a zone are `tz`'s; always aware."""
    return printed_date(value, now or datetime.now(UTC), tz)


def parse_rating(value: str) -> float | None:
    """'4', '4.5', '4,5 / 5', '★★★★☆': the first number, else the count of filled stars."""
    match = _NUMBER_RE.search(value)
    if match:
        return float(match.group(0).replace(",", "."))
    stars = value.count("★")
    return float(stars) if stars else None


def _review(node: Selector, xp: dict[str, str], page_url: str, now: datetime, tz: tzinfo, brand: str | None,
            product: str | None) -> Mention:
    text = field_value(node, xp.get("text"))
    if not text:
        raise Skip("text missing")
    author = field_value(node, xp.get("author")) or None
    published = parse_time(field_value(node, xp.get("time")), tz, now)
    own_id = text_id(field_value(node, xp.get("id")))
    if own_id is None:  # no id on the page: a stable one from what identifies the review
        digest = hashlib.sha1(f"{author}|{published.isoformat()}|{text}".encode()).hexdigest()[:16]
        own_id = f"h{digest}"
    parts = urlsplit(page_url)
    site_path = parts.path.rstrip("/") or "/"
    return Mention(
        platform=PLATFORM,
        source_id=f"{parts.netloc}{site_path}#{own_id}",
        url=f"{parts.scheme}://{parts.netloc}{site_path}#{own_id}",
        text=text,
        title=field_value(node, xp.get("title")) or None,
        author=author,
        brand=brand,
        product=product,
        rating=parse_rating(field_value(node, xp["rating"])) if "rating" in xp else None,
        published_at=published,
        crawled_at=now,
        likes=parse_count(field_value(node, xp["likes"])) if "likes" in xp else None,
    )


def parse_page(
    html: str,
    page_url: str,
    now: datetime,
    selectors: ReviewSelectors | None = None,
    tz: tzinfo = UTC,
    brand: str | None = None,
    product: str | None = None,
) -> SearchPage:
    """Reviews of one page and the absolute URL of the next (None: last page).

    The page's schema.org reviews win when it has any (its product's AggregateRating goes to each one's extra); the
    selectors read the rest. The next page is the selectors' `next` link, else the page's `rel=next` link.

    Raises LayoutChanged when the item selector matches nothing, or matches items none of which can be read (text
    or time lost): a redesign that would otherwise look like a page without reviews.
    """
    try:
        return _parse_page(html, page_url, now, selectors or CLASSIC, tz, brand, product)
    except (ParseError, Skip):
        raise
    except ValueError as exc:  # lxml refuses some mangled markup ("Invalid tag name"): not a page we can read
        raise ParseError(f"reviews at {page_url}: unreadable markup ({exc})") from None


def _parse_page(
    html: str, page_url: str, now: datetime, sel: ReviewSelectors, tz: tzinfo, brand: str | None, product: str | None
) -> SearchPage:
    xp = compiled(sel)
    doc = Selector(text=html_text(html), type="html")
    href = field_value(doc, xp.get("next")) or doc.css("link[rel=next]::attr(href), a[rel=next]::attr(href)").get("")
    structured = structured_reviews(html, page_url, now, tz, brand, product)
    if structured.mentions:
        for mention in structured.mentions:
            if structured.aggregate:
                mention.extra["aggregate_rating"] = dict(structured.aggregate)
        return SearchPage(structured.mentions, urljoin(page_url, href) if href else None, structured.skipped)
    nodes = doc.xpath(xp["item"])
    if not nodes:
        raise LayoutChanged(f"reviews at {page_url}: item selector {sel.item!r} matched nothing")
    result = collect(
        nodes, partial(_review, xp=xp, page_url=page_url, now=now, tz=tz, brand=brand, product=product),
        f"reviews at {page_url}",
    )
    if not result.mentions:
        first = result.skipped[0].rsplit(": ", 1)[-1]
        raise LayoutChanged(
            f"reviews at {page_url}: {len(nodes)} items but none readable (first: {first}; text selector "
            f"{sel.text!r}, time selector {sel.time!r})"
        )
    result.next_page = urljoin(page_url, href) if href else None
    return result
