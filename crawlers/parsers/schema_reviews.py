"""Reviews from a page's own schema.org markup (`Review`, `AggregateRating`), in JSON-LD, microdata or RDFa.

Most shops publish their reviews this way for search engines (schema.org/Review: reviewBody, author, datePublished,
reviewRating.ratingValue/bestRating, itemReviewed; Product.review, Product.aggregateRating), so a new review site
usually needs no selectors at all. Read with extruct (one maintained library for the three syntaxes); dates as the
page prints them (crawlers.parsers.dates), in the source's time zone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import urlsplit

from core.mention import Mention
from crawlers.parsers.common import Skip, parse_count, text_id
from crawlers.parsers.dates import printed_date

PLATFORM = "reviews"
_SCHEMA_PREFIXES = ("https://schema.org/", "http://schema.org/")


@dataclass
class Structured:
    """What a page's markup says: its reviews, the reasons any was skipped, the product's aggregate rating."""

    mentions: list[Mention] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    aggregate: dict[str, float] = field(default_factory=dict)  # ratingValue, reviewCount, bestRating


def _short(name: str) -> str:
    for prefix in _SCHEMA_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {_short(k) for k in kinds if isinstance(k, str)}


def _from_rdfa(node: dict[str, Any]) -> dict[str, Any]:
    """RDFa items as extruct gives them (full property URIs, values in lists of {"@value"}) in the plain form."""
    plain: dict[str, Any] = {"@type": [_short(t) for t in node.get("@type", []) if isinstance(t, str)]}
    for key, values in node.items():
        if key.startswith(_SCHEMA_PREFIXES) and isinstance(values, list) and values:
            first = values[0]
            plain[_short(key)] = first.get("@value", first) if isinstance(first, dict) else first
    return plain


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every object in the extracted data, nested ones included (Product.review, @graph)."""
    if isinstance(node, list):
        for item in node:
            yield from _walk(item)
    elif isinstance(node, dict):
        yield node
        for value in node.values():
            if isinstance(value, dict | list):
                yield from _walk(value)


def _text(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return " ".join(str(value).split()) if isinstance(value, str | int | float) else ""


def _number(value: Any) -> float | None:
    try:
        return float(str(_text(value)).replace(",", "."))
    except ValueError:
        return None


def _rating(review: dict[str, Any]) -> float | None:
    """reviewRating on a 5 scale (a 10- or 100-point bestRating is scaled)."""
    rating = review.get("reviewRating")
    if not isinstance(rating, dict):
        return _number(rating) if rating is not None else None
    value, best = _number(rating.get("ratingValue")), _number(rating.get("bestRating")) or 5.0
    if value is None or best <= 0:
        return None
    return round(value * 5 / best, 2) if best != 5 else value


def _review(node: dict[str, Any], page_url: str, now: datetime, tz: tzinfo, brand: str | None,
            product: str | None, languages: tuple[str, ...]) -> Mention:
    text = _text(node.get("reviewBody") or node.get("description"))
    if not text:
        raise Skip("reviewBody missing")
    published = printed_date(_text(node.get("datePublished") or node.get("dateCreated")), now, tz, languages)
    author = _text(node.get("author")) or None
    own_id = text_id(node.get("@id") if isinstance(node.get("@id"), str) and not str(node["@id"]).startswith("_:")
                     else None) or text_id(_text(node.get("url")) or None)
    if own_id is None:  # no id in the markup: a stable one from what identifies the review
        own_id = "h" + hashlib.sha1(f"{author}|{published.isoformat()}|{text}".encode()).hexdigest()[:16]
    own_id = own_id.rsplit("#", 1)[-1] if "#" in own_id else own_id
    parts = urlsplit(page_url)
    site_path = parts.path.rstrip("/") or "/"
    reviewed = node.get("itemReviewed")
    return Mention(
        platform=PLATFORM,
        source_id=f"{parts.netloc}{site_path}#{own_id}",
        url=f"{parts.scheme}://{parts.netloc}{site_path}#{own_id}",
        text=text,
        title=_text(node.get("name")) or None,
        author=author,
        brand=brand,
        product=product or (_text(reviewed) or None),
        rating=_rating(node),
        published_at=published,
        crawled_at=now,
        likes=parse_count(_text(node.get("upvoteCount"))) if node.get("upvoteCount") is not None else None,
    )


def structured_reviews(html: str, page_url: str, now: datetime, tz: tzinfo, brand: str | None = None,
                       product: str | None = None, languages: tuple[str, ...] = ("zh", "en")) -> Structured:
    """The schema.org reviews of a page (empty when it has none); a Review nested in a Product gets its name."""
    import extruct

    try:
        data = extruct.extract(html, base_url=page_url, syntaxes=["json-ld", "microdata", "rdfa"], uniform=True)
    except Exception as exc:  # extruct raises what its parsers raise; broken markup must not lose the page
        return Structured(skipped=[f"schema.org markup at {page_url} unreadable: {type(exc).__name__}: {exc}"])
    nodes = [*data.get("json-ld", []), *data.get("microdata", []),
             *(_from_rdfa(n) for n in data.get("rdfa", []) if isinstance(n, dict))]
    found = Structured()
    seen: set[str] = set()
    for node in _walk(nodes):
        kinds = _types(node)
        if "Product" in kinds and isinstance(node.get("aggregateRating"), dict):
            agg = node["aggregateRating"]
            found.aggregate = {k: v for k in ("ratingValue", "reviewCount", "bestRating")
                               if (v := _number(agg.get(k))) is not None}
        if "Review" not in kinds:
            continue
        named = product or (_text(node.get("itemReviewed")) or None)
        try:
            mention = _review(node, page_url, now, tz, brand, named, languages)
        except Skip as exc:
            found.skipped.append(f"schema.org Review at {page_url}: {exc}")
            continue
        if mention.source_id not in seen:
            seen.add(mention.source_id or "")
            found.mentions.append(mention)
    for parent in _walk(nodes):  # reviews listed under a Product are about it
        if "Product" in _types(parent) and isinstance(parent.get("review"), list | dict):
            name = _text(parent.get("name")) or None
            for mention in found.mentions:
                mention.product = mention.product or name
    return found
