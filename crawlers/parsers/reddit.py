"""Reddit API listings (oauth.reddit.com): search (`data.children[].data` are t3 posts, `data.after` the cursor)
and a post's comments (`/comments/ID`: [the post's listing, its comments' listing], t1 things with nested
`replies`). Shapes as in the Reddit API documentation (reddit.com/dev/api: /search, /comments/article)."""

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
    """Newest posts first, 100 a page, on the API host; `after` is the fullname (t3_…) of the last post seen.
    `raw_json=1` asks for text without HTML escaping."""
    url = f"{base.rstrip('/')}/search?q={quote(keyword)}&sort=new&limit=100&type=link&raw_json=1"
    return f"{url}&after={quote(after)}" if after else url


def comments_url(base: str, post_id: str) -> str:
    """A post's comments, newest first (one request: Reddit nests the replies)."""
    return f"{base.rstrip('/')}/comments/{quote(post_id)}?sort=new&limit=100&depth=3&raw_json=1"


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


def _comment(data: Any, now: datetime, post_id: str, site: str, brand: str | None) -> Mention:
    if not isinstance(data, dict):
        raise Skip("comment data is not an object")
    cid = text_id(data.get("id"))
    body = str_field(data, "body")
    if not cid:
        raise Skip("comment id missing")
    if not body.strip() or body in _GONE_AUTHORS:
        raise Skip(f"comment {cid}: no body")
    permalink = data.get("permalink")
    author = text_id(data.get("author"))
    parent = text_id(data.get("parent_id")) or ""
    score = data.get("score")
    return Mention(
        platform=PLATFORM,
        source_id=cid,
        url=f"{site.rstrip('/')}{permalink}" if isinstance(permalink, str) and permalink.startswith("/") else None,
        text=body,
        author=None if author in _GONE_AUTHORS else author,
        author_id=text_id(data.get("author_fullname")),
        brand=brand,
        published_at=from_epoch(data.get("created_utc")),
        crawled_at=now,
        likes=max(score, 0) if isinstance(score, int) and not isinstance(score, bool) else None,
        reply_to=parent.split("_", 1)[1] if parent.startswith(("t1_", "t3_")) else post_id,
        extra={"subreddit": data["subreddit"]} if isinstance(data.get("subreddit"), str) else {},
    )


def parse_comments(
    payload: Any, now: datetime, post_id: str, site: str = PUBLIC_ROOT, brand: str | None = None
) -> SearchPage:
    """Every comment of a post's answer, nested replies included (reply_to = the parent comment or the post);
    "more" stubs are left out (the spider does not expand them)."""
    what = f"reddit comments of {post_id}"
    if not isinstance(payload, list) or len(payload) < 2 or not isinstance(payload[1], dict):
        raise ParseError(f"{what}: expected [post listing, comment listing]")
    result = SearchPage()
    pending = [require(payload[1], "data.children", what, list)]
    while pending:
        for child in pending.pop():
            if not isinstance(child, dict) or child.get("kind") != "t1":
                continue
            data = child.get("data")
            try:
                result.mentions.append(_comment(data, now, post_id, site, brand))
            except Skip as exc:
                result.skipped.append(f"{what}: {exc}")
            replies = data.get("replies") if isinstance(data, dict) else None
            if isinstance(replies, dict):
                nested = replies.get("data", {}).get("children") if isinstance(replies.get("data"), dict) else None
                if isinstance(nested, list):
                    pending.append(nested)
    return result
