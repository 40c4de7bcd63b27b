"""Weibo (m.weibo.cn) search and comment responses: cards with `card_type == 9` carry a post under `mblog`."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from crawlers.items import Mention
from crawlers.parsers.common import (
    CHINA_TZ,
    LoginWall,
    ParseError,
    SearchPage,
    Skip,
    parse_count,
    require,
    text_id,
)

PLATFORM = "weibo"
PUBLIC_ROOT = "https://m.weibo.cn"
POST_CARD = 9
_MINUTES_AGO = re.compile(r"^(\d+)\s*分钟前$")
_HOURS_AGO = re.compile(r"^(\d+)\s*小时前$")
_DAY_TIME = re.compile(r"^(今天|昨天)\s*(\d{1,2}):(\d{2})$")
_MONTH_DAY = re.compile(r"^(\d{1,2})-(\d{1,2})$")


def search_url(base: str, keyword: str, page: int) -> str:
    """The mobile site's search API; the keyword travels inside the (percent-encoded) container id."""
    containerid = quote(f"100103type=61&q={keyword}", safe="")
    return f"{base.rstrip('/')}/api/container/getIndex?containerid={containerid}&page_type=searchall&page={page}"


def comments_url(base: str, mid: str, max_id: int | str | None = None) -> str:
    """Hot comments of one post; `max_id` is the cursor the previous page returned (absent on the first)."""
    url = f"{base.rstrip('/')}/comments/hotflow?id={mid}&mid={mid}&max_id_type=0"
    return f"{url}&max_id={max_id}" if max_id else url


def is_login_url(url: str) -> bool:
    """Weibo sends logged-out clients to passport.weibo.cn/signin/login or /login: a wall, not content."""
    return bool(re.search(r"/(signin/)?login\b|passport\.weibo", url))


def parse_time(value: Any, now: datetime) -> datetime:
    """Weibo's time formats: 'Tue Nov 24 10:00:00 +0800 2026', and the relative ones search pages show
    ('刚刚', '5分钟前', '2小时前', '今天 10:00', '昨天 10:00', '11-24', '2025-11-24'), read in China time."""
    if not isinstance(value, str) or not value.strip():
        raise Skip(f"bad created_at {value!r}")
    raw = value.strip()
    try:
        return datetime.strptime(raw, "%a %b %d %H:%M:%S %z %Y")
    except ValueError:
        pass
    local_now = now.astimezone(CHINA_TZ)
    if raw == "刚刚":
        return local_now
    if m := _MINUTES_AGO.match(raw):
        return local_now - timedelta(minutes=int(m.group(1)))
    if m := _HOURS_AGO.match(raw):
        return local_now - timedelta(hours=int(m.group(1)))
    try:
        if m := _DAY_TIME.match(raw):
            day = local_now - timedelta(days=1 if m.group(1) == "昨天" else 0)
            return day.replace(hour=int(m.group(2)), minute=int(m.group(3)), second=0, microsecond=0)
        if m := _MONTH_DAY.match(raw):
            return local_now.replace(
                month=int(m.group(1)), day=int(m.group(2)), hour=0, minute=0, second=0, microsecond=0
            )
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=CHINA_TZ)
    except ValueError:
        raise Skip(f"bad created_at {value!r}") from None


def _check_wall(payload: Any, what: str) -> None:
    if isinstance(payload, dict) and payload.get("ok") == -100:
        raise LoginWall(f"{what}: login required (ok=-100, url={payload.get('url')!r})")


def _user(user: Any) -> tuple[str | None, str | None, int | None]:
    if not isinstance(user, dict):
        return None, None, None
    return text_id(user.get("screen_name")), text_id(user.get("id")), parse_count(user.get("followers_count"))


def _post(mblog: Any, now: datetime, site: str, brand: str | None) -> Mention:
    """One mblog to a Mention; raise Skip naming what is wrong with it."""
    if not isinstance(mblog, dict):
        raise Skip("mblog is not an object")
    mid = text_id(mblog.get("id")) or text_id(mblog.get("mid"))
    if not mid:
        raise Skip("mblog.id missing")
    text = mblog.get("text")
    if not isinstance(text, str) or not text.strip():
        raise Skip(f"post {mid}: text missing")
    author, author_id, followers = _user(mblog.get("user"))
    return Mention(
        platform=PLATFORM,
        source_id=mid,
        url=f"{site.rstrip('/')}/detail/{mid}",
        author=author,
        author_id=author_id,
        author_followers=followers,
        text=text,
        brand=brand,
        published_at=parse_time(mblog.get("created_at"), now),
        crawled_at=now,
        likes=parse_count(mblog.get("attitudes_count")),
        comments=parse_count(mblog.get("comments_count")),
        reposts=parse_count(mblog.get("reposts_count")),
        extra={"truncated": True} if mblog.get("isLongText") else {},
    )


def _post_cards(cards: list[Any]) -> list[Any]:
    """Post cards in page order, including those nested in a card's card_group; other cards are layout."""
    found: list[Any] = []
    for card in cards:
        if not isinstance(card, dict):
            continue
        if card.get("card_type") == POST_CARD:
            found.append(card)
        group = card.get("card_group")
        if isinstance(group, list):
            found.extend(c for c in group if isinstance(c, dict) and c.get("card_type") == POST_CARD)
    return found


def parse_search(
    payload: Any, now: datetime, page: int = 1, site: str = PUBLIC_ROOT, brand: str | None = None
) -> SearchPage:
    """A search page: posts (a repost's original too, with `repost_of` set on the repost), next page number.

    `ok` other than 1 (Weibo's "no more results") or a page without posts ends the search; ok=-100 is a
    LoginWall; a page with ok=1 but no data.cards is a ParseError.
    """
    what = "weibo search"
    if not isinstance(payload, dict):
        raise ParseError(f"{what}: response is {type(payload).__name__}, expected an object")
    _check_wall(payload, what)
    if payload.get("ok") != 1:
        return SearchPage()
    cards = require(payload, "data.cards", what, list)
    result = SearchPage()
    seen: set[str] = set()
    for index, card in enumerate(_post_cards(cards)):
        mblog = card.get("mblog")
        try:
            mention = _post(mblog, now, site, brand)
        except Skip as exc:
            result.skipped.append(f"{what} page {page} post #{index}: {exc}")
            continue
        original = mblog.get("retweeted_status")
        if isinstance(original, dict):
            try:
                source = _post(original, now, site, brand)
                mention.repost_of = source.source_id
                if source.source_id not in seen:
                    seen.add(source.source_id or "")
                    result.mentions.append(source)
            except Skip as exc:
                # a deleted original still tells us which post this reposts
                mention.repost_of = text_id(original.get("id")) or text_id(original.get("mid"))
                result.skipped.append(f"{what} page {page} original of {mention.source_id}: {exc}")
        if mention.source_id not in seen:
            seen.add(mention.source_id or "")
            result.mentions.append(mention)
    result.next_page = page + 1 if result.mentions or result.skipped else None
    return result


def parse_comments(
    payload: Any, now: datetime, mid: str, site: str = PUBLIC_ROOT, brand: str | None = None
) -> SearchPage:
    """One page of a post's hot comments (reply_to = the post's id); next_page is `data.max_id`, 0 = end.

    Weibo answers ok=0 when a post has no (more) comments.
    """
    what = "weibo comments"
    if not isinstance(payload, dict):
        raise ParseError(f"{what}: response is {type(payload).__name__}, expected an object")
    _check_wall(payload, what)
    if payload.get("ok") != 1:
        return SearchPage()
    rows = require(payload, "data.data", what, list)
    result = SearchPage()
    for index, row in enumerate(rows):
        try:
            if not isinstance(row, dict):
                raise Skip("comment is not an object")
            cid = text_id(row.get("id"))
            if not cid:
                raise Skip("comment id missing")
            text = row.get("text")
            if not isinstance(text, str) or not text.strip():
                raise Skip(f"comment {cid}: text missing")
            author, author_id, followers = _user(row.get("user"))
            result.mentions.append(
                Mention(
                    platform=PLATFORM,
                    source_id=cid,
                    url=f"{site.rstrip('/')}/detail/{mid}?cid={cid}",
                    author=author,
                    author_id=author_id,
                    author_followers=followers,
                    text=text,
                    brand=brand,
                    published_at=parse_time(row.get("created_at"), now),
                    crawled_at=now,
                    likes=parse_count(row.get("like_count")),
                    comments=parse_count(row.get("total_number")),
                    reply_to=mid,
                )
            )
        except Skip as exc:
            result.skipped.append(f"{what} of {mid} #{index}: {exc}")
    max_id = payload["data"].get("max_id")
    result.next_page = max_id if max_id and (result.mentions or result.skipped) else None
    return result
