"""Weibo (m.weibo.cn) search, long-text and comment responses: cards with `card_type == 9` carry a post under
`mblog`.

Shapes and fields as NanmiCoder/MediaCrawler `media_platform/weibo/client.py` (search `getIndex`, `hotflow` with
`max_id`/`max_id_type` passed back) and dataabc/weibo-crawler `weibo.py` (long posts, `pics`, topics as
`span.surl-text`, `user.verified`) read them; a long post (`isLongText`) comes truncated and its full text is
`data.longTextContent` of `/statuses/extend?id=` (as peers fetch it). `region_name` ("发布于 北京") is the IP region
Weibo shows under a post.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from core.mention import Mention
from crawlers.parsers.common import (
    CHINA_TZ,
    LoginWall,
    ParseError,
    SearchPage,
    Skip,
    collect,
    essentials,
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
_TOPIC = re.compile(r'<span class="surl-text">#([^#<]+)#</span>')
_PLAIN_TOPIC = re.compile(r"#([^#\s<>][^#<>]{0,40})#")


def search_url(base: str, keyword: str, page: int) -> str:
    """The mobile site's search API; the keyword travels inside the (percent-encoded) container id."""
    containerid = quote(f"100103type=61&q={keyword}", safe="")
    return f"{base.rstrip('/')}/api/container/getIndex?containerid={containerid}&page_type=searchall&page={page}"


def comments_url(base: str, mid: str, max_id: int | str | None = None, max_id_type: int | str = 0) -> str:
    """Hot comments of one post; `max_id` and `max_id_type` are the cursor the previous page returned (passed back
    together, as MediaCrawler's get_note_all_comments does; max_id absent on the first page)."""
    url = f"{base.rstrip('/')}/comments/hotflow?id={mid}&mid={mid}&max_id_type={max_id_type}"
    return f"{url}&max_id={max_id}" if max_id else url


def long_text_url(base: str, mid: str) -> str:
    """The full text of a long post."""
    return f"{base.rstrip('/')}/statuses/extend?id={mid}"


def parse_long_text(payload: Any) -> str:
    """`data.longTextContent` of a `/statuses/extend` answer (HTML, like `text`)."""
    what = "weibo long text"
    if not _answered(payload, what):
        raise ParseError(f"{what}: ok={payload.get('ok')!r}")
    text = require(payload, "data.longTextContent", what, str)
    if not text.strip():
        raise ParseError(f"{what}: data.longTextContent is empty")
    return text


def comment_cursor(payload: Any) -> tuple[str, int] | None:
    """(max_id, max_id_type) of a hotflow answer, to pass back; None at the end (max_id 0)."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict) or not data.get("max_id"):
        return None
    kind = data.get("max_id_type")
    return str(data["max_id"]), kind if isinstance(kind, int) and not isinstance(kind, bool) else 0


def topics(html_text: str) -> list[str]:
    """The #topics# a post takes part in (linked as `span.surl-text`, or plain in the text)."""
    found = _TOPIC.findall(html_text) or _PLAIN_TOPIC.findall(re.sub(r"<[^>]+>", "", html_text))
    return list(dict.fromkeys(t.strip() for t in found if t.strip()))


def images(mblog: dict[str, Any]) -> list[str]:
    """Large image URLs of `pics` (video entries skipped), as weibo-crawler's get_pics keeps them."""
    out = []
    for pic in mblog.get("pics") or []:
        if isinstance(pic, dict) and pic.get("type") != "video":
            large = pic.get("large")
            url = large.get("url") if isinstance(large, dict) else pic.get("url")
            if isinstance(url, str) and url:
                out.append(url)
    return out


def region(mblog: dict[str, Any]) -> str | None:
    """The IP region Weibo prints under a post: `region_name` "发布于 北京" -> "北京"."""
    name = mblog.get("region_name")
    if not isinstance(name, str) or not name.strip():
        return None
    return name.strip().removeprefix("发布于").strip() or None


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
    try:
        if m := _MINUTES_AGO.match(raw):
            return local_now - timedelta(minutes=int(m.group(1)))
        if m := _HOURS_AGO.match(raw):
            return local_now - timedelta(hours=int(m.group(1)))
    except OverflowError:  # "99999999999小时前" reaches before the year 1
        raise Skip(f"bad created_at {value[:40]!r}") from None
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


def _answered(payload: Any, what: str) -> bool:
    """Whether Weibo answered with data (ok=1); other ok values mean nothing (more) to show. A response that is
    not an object is a ParseError, ok=-100 a LoginWall."""
    if not isinstance(payload, dict):
        raise ParseError(f"{what}: response is {type(payload).__name__}, expected an object")
    if payload.get("ok") == -100:
        raise LoginWall(f"{what}: login required (ok=-100, url={payload.get('url')!r})")
    return payload.get("ok") == 1


def _user(user: Any) -> tuple[str | None, str | None, int | None]:
    if not isinstance(user, dict):
        return None, None, None
    return text_id(user.get("screen_name")), text_id(user.get("id")), parse_count(user.get("followers_count"))


def _mention(row: Any, kind: tuple[str, str], id_keys: tuple[str, ...], now: datetime, brand: str | None,
             url: Callable[[str], str], **counts: Any) -> Mention:
    """What a post and a comment share (id, HTML text, author, time); raise Skip naming what is wrong.

    `kind`: the row's field name and its noun, for those reasons; `counts`: the kind's own fields.
    """
    row, own_id, text = essentials(row, kind[0], kind[1], id_keys, "text")
    author, author_id, followers = _user(row.get("user"))
    return Mention(
        platform=PLATFORM,
        source_id=own_id,
        url=url(own_id),
        author=author,
        author_id=author_id,
        author_followers=followers,
        text=text,
        brand=brand,
        published_at=parse_time(row.get("created_at"), now),
        crawled_at=now,
        **counts,
    )


def _post(mblog: Any, now: datetime, site: str, brand: str | None) -> Mention:
    """One mblog to a Mention; what a brand team wants beyond the text goes to `extra`: the IP region, whether the
    author is verified, the images, the topics, and `truncated` for a long post whose full text is still to fetch."""
    row = mblog if isinstance(mblog, dict) else {}
    user: dict[str, Any] = row["user"] if isinstance(row.get("user"), dict) else {}
    verified = user.get("verified")
    extra: dict[str, Any] = {
        "region": region(row), "verified": verified if isinstance(verified, bool) else None,
        "images": images(row) or None, "topics": topics(str(row.get("text") or "")) or None,
        "truncated": True if row.get("isLongText") else None,
    }
    return _mention(
        mblog, ("mblog", "post"), ("id", "mid"), now, brand, lambda mid: f"{site.rstrip('/')}/detail/{mid}",
        likes=parse_count(row.get("attitudes_count")),
        comments=parse_count(row.get("comments_count")),
        reposts=parse_count(row.get("reposts_count")),
        extra={k: v for k, v in extra.items() if v is not None},
    )


def _comment(row: Any, now: datetime, mid: str, site: str, brand: str | None) -> Mention:
    """One hot comment to a Mention replying to post `mid`."""
    data = row if isinstance(row, dict) else {}
    return _mention(
        row, ("comment", "comment"), ("id",), now, brand, lambda cid: f"{site.rstrip('/')}/detail/{mid}?cid={cid}",
        likes=parse_count(data.get("like_count")),
        comments=parse_count(data.get("total_number")),
        reply_to=mid,
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
    if not _answered(payload, what):
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
    """One page of a post's hot comments (reply_to = the post's id); next_page is `data.max_id`, 0 = end (pass it
    back with comment_cursor's max_id_type).

    Weibo answers ok=0 when a post has no (more) comments.
    """
    what = "weibo comments"
    if not _answered(payload, what):
        return SearchPage()
    rows = require(payload, "data.data", what, list)
    result = collect(rows, lambda row: _comment(row, now, mid, site, brand), f"{what} of {mid}")
    max_id = payload["data"].get("max_id")
    result.next_page = max_id if max_id and (result.mentions or result.skipped) else None
    return result
