"""Bilibili as bilibili-API-collect documents it, and enforcing what the site enforces.

- `/x/frontend/finger/spi` hands out the visitor cookie (`b_3` -> `buvid3`; docs/misc/buvid3_4.md); the home page
  `/` sets it too (sites.server).
- `/x/web-interface/nav` answers code -101 (not logged in) with `data.wbi_img` (docs/login/login_info.md).
- `/x/web-interface/wbi/search/type` and `/x/v2/reply/wbi/main` check, in this order: a browser User-Agent, a
  Referer under `.bilibili.com` and the `buvid3` cookie (else code -412, "请求被拦截"), then the WBI signature
  (docs/misc/sign/wbi.md: missing or wrong gets `{"code":0,"data":{"v_voucher":...}}` from search and code -403
  from comments, docs/comment/list.md). The keys rotate with the `wbi_key_epoch` fault.
- `/x/web-interface/view` (stat) and `/x/relation/stat` (follower) are unsigned, as documented.
The old unsigned `/x/web-interface/search/type` and `/x/v2/reply/main` are gone.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from sites.clock import epoch
from sites.core import Env, Request, Response, is_malformed_page, json_response, truncated_json_response
from sites.world import Post

PAGE_SIZE = 20
_B58 = "fZodR9XQDSUm21yCkr6zBqiveYah8bt4xsWpHnJE7jL5VG3guMTKNPAwcF"
_MIXIN = (46, 47, 18, 2, 53, 8, 23, 32, 15, 50, 10, 31, 58, 3, 45, 35, 27, 43, 5, 49, 33, 9, 42, 19, 29, 28, 14, 39,
          12, 38, 41, 13, 37, 48, 7, 16, 24, 55, 40, 61, 26, 17, 0, 1, 60, 51, 30, 4, 22, 25, 54, 21, 56, 59, 6, 63,
          57, 62, 11, 36, 20, 34, 44, 52)


def bvid(aid: int) -> str:
    """A BV id that looks real and is unique per aid (not Bilibili's actual transform)."""
    n, out = aid * 7 + 177451812, []
    for _ in range(9):
        n, r = divmod(n, 58)
        out.append(_B58[r])
    return "BV1" + "".join(out)


def wbi_keys(env: Env) -> tuple[str, str]:
    """The simulator's current img_key and sub_key (32 hex characters each), rotated by the wbi_key_epoch fault."""
    def key(kind: str) -> str:
        return hashlib.md5(f"sim-{kind}-{env.world.seed}-{env.faults.wbi_key_epoch}".encode()).hexdigest()

    return key("img"), key("sub")


def buvid3(n: int) -> str:
    """A visitor id in buvid3's shape (UUID + 5 digits + "infoc")."""
    h = hashlib.md5(f"buvid-{n}".encode()).hexdigest().upper()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}{n % 100000:05d}infoc"


def visitor_cookies(n: int) -> list[str]:
    """Set-Cookie values of the home page (docs/misc/buvid3_4.md, 从响应头获取)."""
    return [f"buvid3={buvid3(n)}; path=/", "b_nut=1721975923; path=/"]


def signature_ok(req: Request, env: Env) -> bool:
    """Recompute `w_rid` over every other parameter (sorted, `!'()*` dropped, encodeURIComponent-style)."""
    given, wts = req.arg("w_rid"), req.arg("wts")
    if not given or not wts.isdigit():
        return False
    img, sub = wbi_keys(env)
    mixin = "".join((img + sub)[i] for i in _MIXIN)[:32]
    params = sorted((k, v.translate(str.maketrans("", "", "!'()*"))) for k, v in req.query.items() if k != "w_rid")
    return hashlib.md5((urlencode(params, quote_via=quote) + mixin).encode()).hexdigest() == given


def refused(req: Request) -> Response | None:
    """-412 for a client that does not look like the web page: a bot User-Agent, a foreign Referer, no buvid3."""
    referer = urlsplit(req.header("Referer")).hostname or ""
    if not req.browser_like() or not (referer == "bilibili.com" or referer.endswith(".bilibili.com")):
        return json_response({"code": -412, "message": "请求被拦截", "ttl": 1, "data": None})
    if not req.cookies.get("buvid3"):
        return json_response({"code": -412, "message": "请求被拦截", "ttl": 1, "data": None})
    return None


def _voucher(req: Request) -> str:
    h = hashlib.md5(req.raw_target.encode()).hexdigest()
    return f"voucher_{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def spi(req: Request, env: Env) -> Response:
    n = env.world.seed * 1000 + len(req.raw_target)
    return json_response({"code": 0, "data": {"b_3": buvid3(n), "b_4": f"{buvid3(n + 1)[:-5]}-024072309-sim=="},
                          "message": "ok"})


def nav(req: Request, env: Env) -> Response:
    img, sub = wbi_keys(env)
    return json_response({"code": -101, "message": "账号未登录", "ttl": 1, "data": {"isLogin": False, "wbi_img": {
        "img_url": f"https://i0.hdslb.com/bfs/wbi/{img}.png", "sub_url": f"https://i0.hdslb.com/bfs/wbi/{sub}.png"}}})


def _video(post: Post, keyword: str, now: datetime) -> dict[str, Any]:
    """A search row as documented: no `like` (that comes from view)."""
    title = html.escape(post.title).replace(html.escape(keyword), f'<em class="keyword">{html.escape(keyword)}</em>')
    aid = post.id
    return {"type": "video", "id": aid, "aid": aid, "bvid": bvid(aid), "title": title, "author": post.author.name,
            "mid": post.author.id, "typeid": "95", "typename": "数码", "pubdate": epoch(post.created),
            "senddate": epoch(post.created), "description": post.text, "play": post.likes(now) * 13 + 100,
            "video_review": post.shares(now), "favorites": post.shares(now), "review": post.comments(now),
            "tag": f"{keyword},数码,评测", "duration": f"{post.index % 9 + 1}:{post.index * 7 % 60:02d}",
            "arcurl": f"http://www.bilibili.com/video/av{aid}", "pic": f"//i0.hdslb.com/bfs/archive/{aid}.jpg"}


def search(req: Request, env: Env) -> Response:
    if (answer := refused(req)) is not None:
        return answer
    if not signature_ok(req, env):
        return json_response({"code": 0, "message": "0", "ttl": 1, "data": {"v_voucher": _voucher(req)}})
    keyword = req.arg("keyword").strip()
    page = max(1, req.int_arg("page", 1))
    now = env.world.now()
    posts = env.world.posts("bilibili", keyword) if keyword else []  # newest first
    if req.arg("order", "totalrank") != "pubdate":  # the default, "relevance": here, the most played first
        posts = sorted(posts, key=lambda p: (-p.likes(now), p.id))
    chunk = posts[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    body = {"code": 0, "message": "0", "ttl": 1, "data": {
        "seid": str(env.world.seed), "page": page, "pagesize": PAGE_SIZE, "numResults": len(posts),
        "numPages": math.ceil(len(posts) / PAGE_SIZE), "rqt_type": "search",
        "result": [_video(p, keyword, now) for p in chunk],
    }}
    if is_malformed_page(req, env, keyword, page):
        return truncated_json_response(body)
    return json_response(body)


def view(req: Request, env: Env) -> Response:
    post = env.world.find("bilibili", req.int_arg("aid", 0))
    if post is None:
        return json_response({"code": -404, "message": "啥都木有", "ttl": 1})
    now = env.world.now()
    return json_response({"code": 0, "message": "0", "ttl": 1, "data": {
        "bvid": bvid(post.id), "aid": post.id, "title": post.title, "pubdate": epoch(post.created),
        "owner": {"mid": post.author.id, "name": post.author.name},
        "stat": {"aid": post.id, "view": post.likes(now) * 13 + 100, "danmaku": post.shares(now),
                 "reply": post.comments(now), "favorite": post.shares(now), "coin": post.likes(now) // 3,
                 "share": post.shares(now) // 2, "like": post.likes(now), "dislike": 0},
    }})


def relation(req: Request, env: Env) -> Response:
    author = env.world.author("bilibili", req.int_arg("vmid", 0))
    if author is None:
        return json_response({"code": -404, "message": "啥都木有", "ttl": 1})
    return json_response({"code": 0, "message": "0", "ttl": 1, "data": {
        "mid": author.id, "following": author.id % 300, "whisper": 0, "black": 0, "follower": author.followers}})


def _cursor_of(req: Request) -> int:
    """The page asked for: `pagination_str`'s offset is the JSON the previous answer gave as next_offset."""
    try:
        offset = json.loads(req.arg("pagination_str") or "{}").get("offset") or ""
        data = json.loads(offset) if offset else {}
        return max(1, int((data.get("Data") or data.get("data") or {}).get("cursor") or 1))
    except (ValueError, TypeError, AttributeError):
        return 1


def replies(req: Request, env: Env) -> Response:
    if (answer := refused(req)) is not None:
        return answer
    if not signature_ok(req, env):
        return json_response({"code": -403, "message": "访问权限不足", "ttl": 1})
    post = env.world.find("bilibili", req.int_arg("oid", 0))
    if post is None:
        return json_response({"code": -404, "message": "啥都木有", "ttl": 1})
    size = 20
    page = _cursor_of(req)
    mode = req.int_arg("mode", 3)
    now = env.world.now()
    comments = env.world.comments(post)  # hottest first
    if mode == 2:
        comments = sorted(comments, key=lambda c: (c.created, c.id), reverse=True)
    chunk = comments[(page - 1) * size : page * size]
    is_end = page * size >= len(comments)
    next_offset = json.dumps({"type": 3 if mode == 2 else 1, "direction": 1, "Data": {"cursor": page + 1}},
                             separators=(",", ":"))
    return json_response({"code": 0, "message": "0", "ttl": 1, "data": {
        "cursor": {"is_begin": page == 1, "prev": page, "next": page + 1, "is_end": is_end, "mode": mode,
                   "all_count": post.comments(now), "support_mode": [2, 3],
                   "name": "最新评论" if mode == 2 else "热门评论",
                   "pagination_reply": {} if is_end else {"next_offset": next_offset}},
        "replies": [{"rpid": c.id, "oid": post.id, "type": 1, "mid": c.author.id, "root": 0, "parent": 0,
                     "ctime": epoch(c.created), "like": c.likes(now), "rcount": c.replies,
                     "content": {"message": c.text},
                     "member": {"mid": str(c.author.id), "uname": c.author.name}} for c in chunk],
    }})


ROUTES = {
    "/x/frontend/finger/spi": spi,
    "/x/web-interface/nav": nav,
    "/x/web-interface/wbi/search/type": search,
    "/x/v2/reply/wbi/main": replies,
    "/x/web-interface/view": view,
    "/x/relation/stat": relation,
}
