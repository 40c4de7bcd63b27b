"""Bilibili: video search (`search/type`) and the WBI comment API with its `cursor.next` / `is_end` paging."""

from __future__ import annotations

import html
import math
from datetime import datetime
from typing import Any

from sites.clock import epoch
from sites.core import Env, Request, Response, is_malformed_page, json_response, truncated_json_response
from sites.world import Post

PAGE_SIZE = 20
_B58 = "fZodR9XQDSUm21yCkr6zBqiveYah8bt4xsWpHnJE7jL5VG3guMTKNPAwcF"


def bvid(aid: int) -> str:
    """A BV id that looks real and is unique per aid (not Bilibili's actual transform)."""
    n, out = aid * 7 + 177451812, []
    for _ in range(9):
        n, r = divmod(n, 58)
        out.append(_B58[r])
    return "BV1" + "".join(out)


def _video(post: Post, keyword: str, now: datetime) -> dict[str, Any]:
    title = html.escape(post.title).replace(html.escape(keyword), f'<em class="keyword">{html.escape(keyword)}</em>')
    aid = post.id
    return {"type": "video", "id": aid, "aid": aid, "bvid": bvid(aid), "title": title, "author": post.author.name,
            "mid": post.author.id, "pubdate": epoch(post.created), "senddate": epoch(post.created),
            "description": post.text, "play": post.likes(now) * 13 + 100, "video_review": post.shares(now),
            "favorites": post.shares(now), "like": post.likes(now), "review": post.comments(now),
            "duration": f"{post.index % 9 + 1}:{post.index * 7 % 60:02d}", "arcurl": f"http://www.bilibili.com/video/av{aid}"}


def search(req: Request, env: Env) -> Response:
    keyword = req.arg("keyword").strip()
    page = max(1, req.int_arg("page", 1))
    now = env.world.now()
    posts = env.world.posts("bilibili", keyword) if keyword else []
    chunk = posts[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    body = {"code": 0, "message": "0", "ttl": 1, "data": {
        "page": page, "pagesize": PAGE_SIZE, "numResults": len(posts), "numPages": math.ceil(len(posts) / PAGE_SIZE),
        "result": [_video(p, keyword, now) for p in chunk],
    }}
    if is_malformed_page(req, env, keyword, page):
        return truncated_json_response(body)
    return json_response(body)


def replies(req: Request, env: Env) -> Response:
    oid = req.int_arg("oid", 0)
    post = env.world.find("bilibili", oid)
    if post is None:
        return json_response({"code": -404, "message": "啥都木有", "ttl": 1})
    size = min(max(1, req.int_arg("ps", 20)), 30)
    page = max(1, req.int_arg("next", 0))  # next=0 and next=1 both mean the first page, as on the site
    now = env.world.now()
    comments = env.world.comments(post)
    chunk = comments[(page - 1) * size : page * size]
    is_end = page * size >= len(comments)
    return json_response({"code": 0, "message": "0", "ttl": 1, "data": {
        "cursor": {"is_begin": page == 1, "is_end": is_end, "next": page + 1, "prev": page, "mode": 3,
                   "all_count": post.comments(now)},
        "replies": [{"rpid": c.id, "oid": oid, "type": 1, "ctime": epoch(c.created), "like": c.likes(now),
                     "rcount": c.replies, "content": {"message": c.text},
                     "member": {"mid": str(c.author.id), "uname": c.author.name}} for c in chunk],
    }})


ROUTES = {
    "/x/web-interface/search/type": search,
    "/x/v2/reply/wbi/main": replies,
    "/x/v2/reply/main": replies,
}
