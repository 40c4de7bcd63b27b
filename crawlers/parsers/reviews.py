"""Any server-rendered review page, read with CSS selectors given per site (parsel, which Scrapy ships).

A field selector may end in `::text` or `::attr(name)` (then the first match is taken as is); otherwise the text
content of its first match is used. An item selector that finds nothing on a page that answered 200 means the
site changed its layout: that is a LayoutChanged error, never a quiet empty page.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from urllib.parse import urljoin, urlsplit

from parsel import Selector

from crawlers.items import Mention
from crawlers.parsers.common import ParseError, SearchPage, Skip, parse_count, text_id

PLATFORM = "reviews"
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)?")
_OFFSET_RE = re.compile(r"^([+-])(\d{1,2}):?(\d{2})?$")


class LayoutChanged(ParseError):
    """The item selector found nothing on a page that loaded fine: the site was redesigned."""


@dataclass(frozen=True)
class Selectors:
    """CSS selectors for one review site; the defaults match the simulator's classic layout."""

    item: str = "div.review"
    text: str = ".text"
    author: str = ".author"
    time: str = "time::attr(datetime)"
    rating: str = ".rating"
    next: str = "a.next::attr(href)"
    id: str = "::attr(id)"
    likes: str = ".helpful"
    title: str = ""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def with_overrides(self, values: dict[str, Any]) -> Selectors:
        """These selectors with some replaced (unknown names are an error: a typo would silently do nothing)."""
        unknown = sorted(set(values) - set(self.names()))
        if unknown:
            raise ValueError(f"unknown selector name(s) {', '.join(unknown)}; known: {', '.join(self.names())}")
        return replace(self, **{k: str(v).strip() for k, v in values.items() if v is not None})


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


def field_value(node: Selector, css: str) -> str:
    """One field of an item: `::text`/`::attr()` selectors as given, otherwise the match's text content."""
    if not css:
        return ""
    if "::" in css:
        return " ".join((node.css(css).get() or "").split())
    found = node.css(css)
    return " ".join(found[0].xpath("string()").get("").split()) if found else ""


def parse_time(value: str, tz: tzinfo) -> datetime:
    """ISO 8601 (with or without zone), a bare date, or epoch seconds/milliseconds; always aware."""
    text = value.strip()
    if not text:
        raise Skip("time missing")
    if text.isdigit():
        seconds = int(text) / (1000 if len(text) > 11 else 1)
        return datetime.fromtimestamp(seconds, UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Skip(f"bad time {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def parse_rating(value: str) -> float | None:
    """'4', '4.5', '4,5 / 5', '★★★★☆': the first number, else the count of filled stars."""
    match = _NUMBER_RE.search(value)
    if match:
        return float(match.group(0).replace(",", "."))
    stars = value.count("★")
    return float(stars) if stars else None


def _review(node: Selector, sel: Selectors, page_url: str, now: datetime, tz: tzinfo, brand: str | None,
            product: str | None) -> Mention:
    text = field_value(node, sel.text)
    if not text:
        raise Skip("text missing")
    author = field_value(node, sel.author) or None
    published = parse_time(field_value(node, sel.time), tz)
    own_id = text_id(field_value(node, sel.id)) if sel.id else None
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
        title=field_value(node, sel.title) or None,
        author=author,
        brand=brand,
        product=product,
        rating=parse_rating(field_value(node, sel.rating)) if sel.rating else None,
        published_at=published,
        crawled_at=now,
        likes=parse_count(field_value(node, sel.likes)) if sel.likes else None,
    )


def parse_page(
    html: str,
    page_url: str,
    now: datetime,
    selectors: Selectors | None = None,
    tz: tzinfo = UTC,
    brand: str | None = None,
    product: str | None = None,
) -> SearchPage:
    """Reviews of one page and the absolute URL of the next (None: last page).

    Raises LayoutChanged when the item selector matches nothing, or matches items none of which has text.
    """
    sel = selectors or Selectors()
    doc = Selector(text=html)
    nodes = doc.css(sel.item)
    if not nodes:
        raise LayoutChanged(f"reviews at {page_url}: item selector {sel.item!r} matched nothing")
    result = SearchPage()
    for index, node in enumerate(nodes):
        try:
            result.mentions.append(_review(node, sel, page_url, now, tz, brand, product))
        except Skip as exc:
            result.skipped.append(f"reviews at {page_url} #{index}: {exc}")
    if not result.mentions:
        raise LayoutChanged(f"reviews at {page_url}: {len(nodes)} items but none readable (text selector {sel.text!r})")
    href = field_value(doc, sel.next) if sel.next else ""
    result.next_page = urljoin(page_url, href) if href else None
    return result
