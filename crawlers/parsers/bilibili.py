"""Bilibili video search, video details and comment responses (`{"code": 0, "data": ...}`).

Requests follow SocialSisterYi/bilibili-API-collect: `docs/search/search_request.md` (分类搜索,
`/x/web-interface/wbi/search/type`, `order=pubdate` for newest first), `docs/comment/list.md` (懒加载,
`/x/v2/reply/wbi/main`, `mode=2` for newest first, `pagination_str` paging), `docs/video/info.md`
(`/x/web-interface/view`, `stat.like`), `docs/user/status_number.md` (`/x/relation/stat`, `data.follower`),
`docs/misc/buvid3_4.md` (`/x/frontend/finger/spi`, `data.b_3`) and `docs/misc/sign/v_voucher.md`; as
NanmiCoder/MediaCrawler `media_platform/bilibili/client.py` sends them. Fixtures in tests/data/responses are
transcribed from those documents' samples.

Block signals (raised as Blocked): a refused WBI signature answers code 0 with `data.v_voucher` (search) or code
-403 (comments), risk control -352, missing cookies or a bot-like client -412.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial
from typing import Any

from core.mention import Mention
from crawlers.parsers.common import (
    Blocked,
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
API_ROOT = "https://api.bilibili.com"
REFERER = "https://www.bilibili.com/"
SEARCH_PATH = "/x/web-interface/wbi/search/type"
REPLIES_PATH = "/x/v2/reply/wbi/main"
NAV_PATH = "/x/web-interface/nav"
SPI_PATH = "/x/frontend/finger/spi"
VIEW_PATH = "/x/web-interface/view"
RELATION_PATH = "/x/relation/stat"
NOT_LOGGED_IN = -101
COMMENTS_CLOSED = 12002
NEWEST_FIRST = 2  # reply mode: 2 = by time only, 3 = by heat (the API's default)
_BLOCK_CODES = {-352: "risk control", -412: "request intercepted"}


class SignatureRefused(Blocked):
    """The WBI signature was refused (stale keys or a wrong signature): fetch the keys again, then it is a block."""


def search_params(keyword: str, page: int) -> dict[str, Any]:
    """Video search, newest first (so an incremental crawl can stop at its cursor); to be WBI-signed."""
    return {"search_type": "video", "keyword": keyword, "order": "pubdate", "page": page}


def replies_params(aid: int | str, offset: str = "") -> dict[str, Any]:
    """Top-level comments of a video by `aid`, newest first; `offset` is the last answer's
    `cursor.pagination_reply.next_offset` ("" for the first page); to be WBI-signed."""
    pagination = json.dumps({"offset": offset}, separators=(",", ":"), ensure_ascii=False)
    return {"oid": aid, "type": 1, "mode": NEWEST_FIRST, "pagination_str": pagination, "plat": 1,
            "web_location": 1315875}


def _check_code(payload: Any, what: str) -> bool:
    """True if the API answered normally; False for 'comments closed'; raise on a block or an API error."""
    if not isinstance(payload, dict):
        raise ParseError(f"{what}: response is {type(payload).__name__}, expected an object")
    code = payload.get("code")
    if isinstance(code, bool) or not isinstance(code, int | str):
        raise ParseError(f"{what}: API code {code!r} is not a number")
    data = payload.get("data")
    voucher = data.get("v_voucher") if isinstance(data, dict) else None
    if code == 0 and voucher:
        raise SignatureRefused(f"{PLATFORM}: signature refused (v_voucher) at {what}")
    if code == -403 and what.startswith("bilibili replies"):
        raise SignatureRefused(f"{PLATFORM}: signature refused (code -403) at {what}")
    if code in _BLOCK_CODES:
        raise Blocked(f"{PLATFORM}: code {code} ({_BLOCK_CODES[code]}{', v_voucher' if voucher else ''}) at {what}")
    if code == 0:
        return True
    if code == NOT_LOGGED_IN:
        raise LoginWall(f"{PLATFORM}: login required (code -101) at {what}")
    if code == COMMENTS_CLOSED:
        return False
    raise ParseError(f"{what}: API error code {code!r}: {payload.get('message')!r}")


def parse_visitor(payload: Any) -> dict[str, str]:
    """The visitor cookies (`buvid3`, `buvid4`) from a `/x/frontend/finger/spi` answer."""
    what = "bilibili finger/spi"
    _check_code(payload, what)
    data = require(payload, "data", what, dict)
    b3 = text_id(data.get("b_3"))
    if not b3:
        raise ParseError(f"{what}: data.b_3 missing")
    b4 = text_id(data.get("b_4"))
    return {"buvid3": b3, **({"buvid4": b4} if b4 else {})}


def parse_view(payload: Any) -> dict[str, int | None]:
    """Counts search rows lack, from `/x/web-interface/view`: likes, coins, shares, favorites."""
    what = "bilibili view"
    _check_code(payload, what)
    stat = require(payload, "data.stat", what, dict)
    return {k: parse_count(stat.get(k)) for k in ("like", "coin", "share", "favorite", "reply")}


def parse_followers(payload: Any) -> int | None:
    """The uploader's follower count from `/x/relation/stat`."""
    what = "bilibili relation/stat"
    _check_code(payload, what)
    return parse_count(require(payload, "data", what, dict).get("follower"))


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
        likes=parse_count(row.get("like")),  # absent from real search rows: the spider asks view for it
        comments=parse_count(row.get("review")),
        extra={k: v for k, v in (
            ("aid", aid), ("play", parse_count(row.get("play"))), ("danmaku", parse_count(row.get("video_review"))),
            ("favorites", parse_count(row.get("favorites"))), ("tags", str_field(row, "tag") or None),
        ) if v is not None},
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
    previews); next_page is `data.cursor.pagination_reply.next_offset` until `is_end`. Closed comments are an
    empty last page."""
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
    pagination = cursor.get("pagination_reply")
    offset = pagination.get("next_offset") if isinstance(pagination, dict) else None
    if rows and not cursor.get("is_end") and isinstance(offset, str) and offset:
        result.next_page = offset
    return result
