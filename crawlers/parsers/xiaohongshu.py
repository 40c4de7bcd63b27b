"""Xiaohongshu (小红书) search results, read from the *rendered* DOM of `/search_result?keyword=K`.

The page's HTML holds no notes: its script fetches them and appends `section.note-item` elements on scroll. The
spider renders and scrolls in Chromium and hands the final HTML here, so a saved rendering can be tested without
a browser. Counts are read from data attributes when present, else from the visible like counter.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urljoin

from parsel import Selector

from core.mention import Mention
from crawlers.parsers.common import ParseError, SearchPage, Skip, from_epoch, html_text, parse_count, text_id

PLATFORM = "xiaohongshu"
PUBLIC_ROOT = "https://www.xiaohongshu.com"
NOTE_SELECTOR = "section.note-item"
FEEDS_SELECTOR = ".feeds-container, #feeds"
END_SELECTOR = ".end-container:not([hidden])"


def search_url(base: str, keyword: str) -> str:
    """The search page for a keyword (notes are loaded by its script)."""
    return f"{base.rstrip('/')}/search_result?keyword={quote(keyword)}"


def _text(node: Selector, css: str) -> str:
    """All text under the first match, whitespace-trimmed ("" when absent)."""
    found = node.css(css)
    return " ".join(found[0].xpath("string()").get("").split()) if found else ""


def _published(node: Selector) -> datetime:
    """data-time is epoch milliseconds; <time datetime> is the ISO fallback. Always aware."""
    millis = node.attrib.get("data-time", "").strip()
    if re.fullmatch(r"[0-9]{1,20}", millis):
        return from_epoch(int(millis) / 1000)
    iso = (node.css("time::attr(datetime)").get() or "").strip()
    if iso:
        try:
            parsed = datetime.fromisoformat(iso.replace("Z", "+00:00"))
        except ValueError:
            raise Skip(f"bad time {iso!r}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise Skip("time missing")


def _note(node: Selector, now: datetime, site: str, brand: str | None) -> Mention:
    attrs = node.attrib
    href = node.css("a.cover::attr(href), a[href*='/explore/']::attr(href)").get() or ""
    note_id = text_id(attrs.get("data-note-id")) or text_id(href.rstrip("/").rsplit("/", 1)[-1] if href else None)
    if not note_id:
        raise Skip("note id missing")
    title = _text(node, ".title")
    desc = _text(node, ".desc")
    if not title and not desc:
        raise Skip(f"note {note_id}: title and desc missing")
    author = node.css(".author .name, .author-wrapper .name")
    liked = attrs.get("data-liked") or _text(node, ".like-wrapper .count")
    collected = parse_count(attrs.get("data-collected"))
    extra: dict[str, Any] = {"collected": collected} if collected is not None else {}
    return Mention(
        platform=PLATFORM,
        source_id=note_id,
        url=urljoin(site.rstrip("/") + "/", f"explore/{note_id}"),
        title=title or None,
        text=desc or title,
        author=text_id(" ".join(author[0].xpath("string()").get("").split())) if author else None,
        author_id=text_id(author[0].attrib.get("data-user-id")) if author else None,
        brand=brand,
        published_at=_published(node),
        crawled_at=now,
        likes=parse_count(liked),
        comments=parse_count(attrs.get("data-comments")),
        reposts=parse_count(attrs.get("data-shares")),
        extra=extra,
    )


def parse_search(html: str, now: datetime, site: str = PUBLIC_ROOT, brand: str | None = None) -> SearchPage:
    """Notes of a rendered search page. No notes *and* no feed container means the page changed: ParseError.

    `next_page` is never set: more notes come from scrolling the same page, which the spider does.
    """
    what = "xiaohongshu search"
    doc = Selector(text=html_text(html))
    nodes = doc.css(NOTE_SELECTOR)
    if not nodes and not doc.css(FEEDS_SELECTOR):
        raise ParseError(f"{what}: neither {NOTE_SELECTOR} nor a feed container in the rendered page")
    result = SearchPage()
    for index, node in enumerate(nodes):
        try:
            result.mentions.append(_note(node, now, site, brand))
        except Skip as exc:
            result.skipped.append(f"{what} #{index}: {exc}")
    return result


def reached_end(html: str) -> bool:
    """The page says there are no more notes (its visible "THE END" marker)."""
    return bool(Selector(text=html).css(END_SELECTOR))
