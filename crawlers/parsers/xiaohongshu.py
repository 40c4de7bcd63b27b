"""Xiaohongshu (小红书) notes, read from the JSON the web app's own calls return, never from invented DOM attributes.

The search page signs its `POST /api/sns/web/v1/search/notes` calls itself (X-s/X-t, computed by its JavaScript,
behind a login): the spider drives a logged-in browser and hands the JSON bodies of those responses here. Shapes as
NanmiCoder/MediaCrawler reads them (`media_platform/xhs/client.py` get_note_by_keyword / get_note_by_id,
`store/xhs/__init__.py`): `data.items[]` with `id`, `model_type: "note"`, `xsec_token` and a `note_card`
(display_title, user, interact_info with counts as strings, corner_tag_info's publish time as printed); a note's
detail (`/api/sns/web/v1/feed`, loaded by the note page) adds `desc`, `time` (ms), `ip_location` and `tag_list`.
A note's link keeps its `xsec_token` (`/explore/ID?xsec_token=…&xsec_source=pc_search`): without it the site shows
its 404 page.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any
from urllib.parse import quote

from core.mention import Mention
from crawlers.parsers.common import (
    CHINA_TZ,
    Blocked,
    LoginWall,
    ParseError,
    SearchPage,
    Skip,
    from_epoch,
    parse_count,
    text_id,
)
from crawlers.parsers.dates import printed_date

PLATFORM = "xiaohongshu"
PUBLIC_ROOT = "https://www.xiaohongshu.com"
SEARCH_API = "/api/sns/web/v1/search/notes"
FEED_API = "/api/sns/web/v1/feed"
LOGIN_MODAL_SELECTOR = ".login-container, .login-modal"
NOT_LOGGED_IN = -101
CAPTCHA_STATUSES = (461, 471)


def search_url(base: str, keyword: str) -> str:
    """The search page for a keyword (notes are loaded by its script)."""
    return f"{base.rstrip('/')}/search_result?keyword={quote(keyword)}&source=web_search_result_notes"


def note_url(site: str, note_id: str, token: str | None) -> str:
    """A note's page, with the xsec_token the search gave (the page is a 404 without it)."""
    url = f"{site.rstrip('/')}/explore/{note_id}"
    return f"{url}?xsec_token={quote(token, safe='')}&xsec_source=pc_search" if token else url


def api_block(status: int, url: str) -> str | None:
    """The signal of a blocked API answer (461/471: captcha, risk control)."""
    if status in CAPTCHA_STATUSES:
        return f"{PLATFORM}: HTTP {status} (captcha / risk control) at {url.split('?')[0]}"
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _checked(payload: Any, what: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ParseError(f"{what}: response is {type(payload).__name__}, expected an object")
    code = payload.get("code")
    if isinstance(code, bool) or not isinstance(code, int | str | None):
        raise ParseError(f"{what}: API code {code!r} is not a number")
    if code == NOT_LOGGED_IN:
        raise LoginWall(f"{PLATFORM}: not logged in (code -101) at {what}")
    if code in CAPTCHA_STATUSES:
        raise Blocked(f"{PLATFORM}: code {code} (captcha / risk control) at {what}")
    if code != 0 and payload.get("success") is not True:
        raise ParseError(f"{what}: API error code {code!r}: {payload.get('msg')!r}")
    return payload


def _card_time(card: dict[str, Any], now: datetime) -> datetime | None:
    for tag in _list(card.get("corner_tag_info")):
        if isinstance(tag, dict) and tag.get("type") == "publish_time" and isinstance(tag.get("text"), str):
            try:
                return printed_date(tag["text"], now, CHINA_TZ)
            except Skip:
                return None
    return None


def _note(item: Any, now: datetime, site: str, brand: str | None) -> Mention:
    if not isinstance(item, dict):
        raise Skip("item is not an object")
    note_id = text_id(item.get("id"))
    card = item.get("note_card")
    if not note_id or not isinstance(card, dict):
        raise Skip("id or note_card missing")
    title = str(card.get("display_title") or card.get("title") or "").strip()
    desc = str(card.get("desc") or "").strip()
    if not title and not desc:
        raise Skip(f"note {note_id}: no title or text")
    user = _dict(card.get("user"))
    counts = _dict(card.get("interact_info"))
    token = text_id(item.get("xsec_token"))
    return Mention(
        platform=PLATFORM,
        source_id=note_id,
        url=note_url(site, note_id, token),
        title=title or None,
        text=desc or title,
        author=text_id(user.get("nickname") or user.get("nick_name")),
        author_id=text_id(user.get("user_id")),
        brand=brand,
        published_at=_card_time(card, now),
        crawled_at=now,
        likes=parse_count(counts.get("liked_count")),
        extra={"xsec_token": token} if token else {},
    )


def parse_search(payloads: list[Any], now: datetime, site: str = PUBLIC_ROOT, brand: str | None = None) -> SearchPage:
    """Notes of the search API answers the page received (in order); `model_type` other than note (ads, "hot
    queries") are passed over. next_page is never set: more answers come from scrolling, which the spider does."""
    result = SearchPage()
    for number, payload in enumerate(payloads, 1):
        what = f"xiaohongshu search answer {number}"
        data = _checked(payload, what).get("data")
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise ParseError(f"{what}: data.items missing")
        for index, item in enumerate(data["items"]):
            if isinstance(item, dict) and item.get("model_type") not in (None, "note"):
                continue
            try:
                result.mentions.append(_note(item, now, site, brand))
            except Skip as exc:
                result.skipped.append(f"{what} #{index}: {exc}")
    return result


def apply_detail(mention: Mention, payload: Any) -> None:
    """Complete a note from its page's feed answer: full text, exact time, IP location, counts, topics."""
    what = f"xiaohongshu note {mention.source_id}"
    data = _checked(payload, what).get("data")
    items = data.get("items") if isinstance(data, dict) else None
    card = items[0].get("note_card") if isinstance(items, list) and items and isinstance(items[0], dict) else None
    if not isinstance(card, dict):
        raise ParseError(f"{what}: data.items[0].note_card missing")
    desc = str(card.get("desc") or "").strip()
    if desc:
        mention.text = desc
    millis = card.get("time")
    if isinstance(millis, int) and not isinstance(millis, bool) and millis > 0:
        with contextlib.suppress(Skip):  # a time out of the calendar: keep the one the search answer gave
            mention.published_at = from_epoch(millis / 1000).astimezone(CHINA_TZ)
    counts = _dict(card.get("interact_info"))
    mention.likes = parse_count(counts.get("liked_count")) if counts.get("liked_count") is not None else mention.likes
    mention.comments = parse_count(counts.get("comment_count"))
    mention.reposts = parse_count(counts.get("share_count"))
    extra = {
        "ip_location": text_id(card.get("ip_location")),
        "collected": parse_count(counts.get("collected_count")),
        "topics": [t["name"] for t in _list(card.get("tag_list"))
                   if isinstance(t, dict) and t.get("type") == "topic" and isinstance(t.get("name"), str)] or None,
    }
    mention.extra.update({k: v for k, v in extra.items() if v is not None})
