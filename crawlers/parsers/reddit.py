"""Reddit search listings (`search.json`): `data.children[].data` are posts, `data.after` the cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from core.mention import Mention
from crawlers.parsers.common import (
    ParseError,
    SearchPage,
    Skip,
    collect,
    from_epoch,
    parse_count,
    require,
    str_field,
    text_id,
)

PLATFORM = "reddit"
PUBLIC_ROOT = "https://www.reddit.com"
_GONE_AUTHORS = {"[deleted]", "[removed]"}


def search_url(base: str, keyword: str, after: str | None = None) -> str:
    """Newest posts first, 100 a page; `after` is the fullname (t3_…) of the last post seen."""
    url = f"{base.rstrip('/')}/search.json?q={quote(keyword)}&sort=new&limit=100"
    return f"{url}&after={quote(after)}" if after else url


def _post(data: Any, now: datetime, site: str, brand: str | None) -> Mention:
    if not isinstance(data, dict):
        raise Skip("child data is not an object")
    post_id = text_id(data.get("id"))
    if not post_id:
        raise Skip("id missing")
    title = str_field(data, "title")
    body = str_field(data, "selftext")
    if not (title.strip() or body.strip()):
        raise Skip(f"post {post_id}: no title or text")
    permalink = data.get("permalink")
    author = text_id(data.get("author"))
    crosspost = text_id(data.get("crosspost_parent"))
    score = data.get("score")
    return Mention(
        platform=PLATFORM,
        source_id=post_id,
        url=f"{site.rstrip('/')}{permalink}" if isinstance(permalink, str) and permalink.startswith("/") else None,
        title=title or None,
        text=body if body.strip() else title,  # link posts have only a title
        author=None if author in _GONE_AUTHORS else author,
        author_id=text_id(data.get("author_fullname")),
        brand=brand,
        published_at=from_epoch(data.get("created_utc")),
        crawled_at=now,
        likes=max(score, 0) if isinstance(score, int) and not isinstance(score, bool) else None,
        comments=parse_count(data.get("num_comments")),
        repost_of=crosspost.removeprefix("t3_") if crosspost else None,
        extra={"subreddit": data["subreddit"]} if isinstance(data.get("subreddit"), str) else {},
    )


def parse_search(payload: Any, now: datetime, site: str = PUBLIC_ROOT, brand: str | None = None) -> SearchPage:
    """Posts of one listing page; next_page is `data.after` (None on the last page).

    Scores can be negative on Reddit; likes keep only the non-negative part (the store wants a count).
    """
    what = "reddit search"
    if not isinstance(payload, dict):
        raise ParseError(f"{what}: response is {type(payload).__name__}, expected an object")
    if "error" in payload and "data" not in payload:
        raise ParseError(f"{what}: API error {payload.get('error')!r}: {payload.get('message')!r}")
    children = require(payload, "data.children", what, list)
    result = collect(
        children,
        lambda child: _post(child.get("data") if isinstance(child, dict) else None, now, site, brand),
        what,
        wanted=lambda child: not isinstance(child, dict) or child.get("kind") in (None, "t3"),
    )
    after = payload["data"].get("after")
    result.next_page = after if isinstance(after, str) and after and children else None
    return result
