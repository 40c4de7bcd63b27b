"""Bilibili video search and video comment responses (`{"code": 0, "data": ...}`)."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import quote

from core.mention import Mention
from crawlers.parsers.common import (
    LoginWall,
    ParseError,
    SearchPage,
    Skip,
    attempt,
    collect,
    essentials,
    from_epoch,
    parse_count,
    require,
    str_field,
    text_id,
)

PLATFORM = "bilibili"
PUBLIC_ROOT = "https://www.bilibili.com"
NOT_LOGGED_IN = -101
COMMENTS_CLOSED = 12002


def search_url(base: str, keyword: str, page: int) -> str:
    """Video search, one page of results."""
    return f"{base.rstrip('/')}/x/web-interface/search/type?search_type=video&keyword={quote(keyword)}&page={page}"


def replies_url(base: str, aid: int | str, next_cursor: int | str = 0) -> str:
    """Top-level comments of a video by `aid`, newest-cursor paging (`next` 0 = first page)."""
    return f"{base.rstrip('/')}/x/v2/reply/wbi/main?oid={aid}&type=1&mode=3&ps=20&next={next_cursor}"


def _check_code(payload: Any, what: str) -> bool:
    """True if the API answered normally; False for 'comments closed'; raise on a wall or an API error."""
    if not isinstance(payload, dict):
        raise ParseError(f"{what}: response is {type(payload).__name__}, expected an object")
    code = payload.get("code")
    if code == 0:
        return True
    if code == NOT_LOGGED_IN:
        raise LoginWall(f"{what}: login required (code -101)")
    if code == COMMENTS_CLOSED:
        return False
    raise ParseError(f"{what}: API error code {code!r}: {payload.get('message')!r}")


def _video(row: Any, now: datetime, site: str, brand: str | None) -> Mention:
    if not isinstance(row, dict):
        raise Skip("result is not an object")
    bvid = text_id(row.get("bvid"))
    aid = text_id(row.get("aid"))
    if not bvid or not aid:
        raise Skip("bvid or aid missing")
    title = str_field(row, "title")
    description = str_field(row, "description")
    if description.strip() in ("", "-"):
        description = ""
    if not (title.strip() or description):
        raise Skip(f"video {bvid}: no title or description")
    return Mention(
        platform=PLATFORM,
        source_id=bvid,
        url=f"{site.rstrip('/')}/video/{bvid}",
        title=title or None,
        text=description or title,
        author=text_id(row.get("author")),
        author_id=text_id(row.get("mid")),
        brand=brand,
        published_at=from_epoch(row.get("pubdate")),
        crawled_at=now,
        likes=parse_count(row.get("like")),
        comments=parse_count(row.get("review")),
        extra={"aid": aid, "play": parse_count(row.get("play"))},
    )


def parse_search(
    payload: Any, now: datetime, page: int = 1, site: str = PUBLIC_ROOT, brand: str | None = None
) -> SearchPage:
    """Videos of one search page (source_id = bvid, extra['aid'] for the comment API); next page or None."""
    what = "bilibili search"
    _check_code(payload, what)
    data = require(payload, "data", what, dict)
    rows = data.get("result")
    if rows is None and data.get("numResults") == 0:
        return SearchPage()  # no hits at all: Bilibili leaves `result` out
    rows = require(payload, "data.result", what, list)
    result = collect(
        rows, partial(_video, now=now, site=site, brand=brand), f"{what} page {page}",
        wanted=lambda row: not isinstance(row, dict) or row.get("type") in (None, "video"),
    )
    pages = data.get("numPages")
    more = not isinstance(pages, int) or page < pages
    result.next_page = page + 1 if rows and more else None
    return result


def _reply(row: Any, now: datetime, bvid: str, site: str, brand: str | None) -> Mention:
    row, rpid, message = essentials(row, "reply", "reply", ("rpid",), "content.message")
    member: dict[str, Any] = row["member"] if isinstance(row.get("member"), dict) else {}
    parent = text_id(row.get("parent"))
    return Mention(
        platform=PLATFORM,
        source_id=rpid,
        url=f"{site.rstrip('/')}/video/{bvid}#reply{rpid}",
        text=message,
        author=text_id(member.get("uname")),
        author_id=text_id(member.get("mid")),
        brand=brand,
        published_at=from_epoch(row.get("ctime")),
        crawled_at=now,
        likes=parse_count(row.get("like")),
        comments=parse_count(row.get("rcount")),
        reply_to=parent if parent and parent != "0" else bvid,
    )


def parse_replies(
    payload: Any, now: datetime, bvid: str, site: str = PUBLIC_ROOT, brand: str | None = None
) -> SearchPage:
    """One page of a video's comments (reply_to = the video's bvid, or the parent comment for the nested
    previews); next_page is `data.cursor.next` until `is_end`. Closed comments are an empty last page."""
    what = "bilibili replies"
    if not _check_code(payload, what):
        return SearchPage()
    cursor = require(payload, "data.cursor", what, dict)
    rows = payload["data"].get("replies") or []  # null on the page after the last
    if not isinstance(rows, list):
        raise ParseError(f"{what}: data.replies is {type(rows).__name__}, expected list")
    result = SearchPage()
    build = partial(_reply, now=now, bvid=bvid, site=site, brand=brand)
    for index, row in enumerate(rows):
        if attempt(result, build, row, f"{what} of {bvid} #{index}"):
            nested = row.get("replies")
            for child in nested if isinstance(nested, list) else []:
                attempt(result, build, child, f"{what} of {bvid} #{index} (nested)")
    next_cursor = cursor.get("next")
    if rows and not cursor.get("is_end") and isinstance(next_cursor, int | str) and str(next_cursor) not in ("", "0"):
        result.next_page = next_cursor
    return result
