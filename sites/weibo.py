"""Weibo's mobile API (m.weibo.cn): keyword search as a card list, long posts' full text (`/statuses/extend`), hot
comments with a `max_id` + `max_id_type` cursor, and what the site enforces:

- HTTP 432 for a client without a browser-like session: a browser User-Agent, a Referer on m.weibo.cn, and either
  the visitor cookie the home page sets (`_T_WM`) or a login cookie (`SUB`), as peers (MediaCrawler's weibo client,
  weibo-crawler) send them;
- the login wall an expired `SUB` cookie runs into (faults: login_wall, require_cookie, expired_cookie);
- a comment cursor passed back with another `max_id_type` than it came with ends the comments (`ok: 0`).
Long posts come truncated with `isLongText` (every seventh post here); posts carry `region_name`, `pics` and the
author's `verified` flag as on the site.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote

from sites.clock import weibo_time
from sites.core import Env, Request, Response, html_response, is_malformed_page, json_response, truncated_json_response
from sites.world import Comment, Post

PAGE_SIZE = 10
COMMENT_PAGE = 20
CURSOR_BASE = 4_000_000_000_000  # max_id = CURSOR_BASE + offset: opaque-looking, never 0 until the end
TRUNCATE_AT = 60  # characters of a long post that the search shows
REGIONS = ("北京", "上海", "广东", "浙江", "江苏", "四川", "湖北", "福建")

_TOPIC = re.compile(r"#([^#\n]+)#")
_EMOTICON = re.compile(r"\[([\u4e00-\u9fff\w]{1,4})\]")


def render_text(text: str) -> str:
    """Plain text -> Weibo's HTML: topic links, emoticon images, `<br />` for newlines."""
    out = html.escape(text, quote=False)
    out = _TOPIC.sub(
        lambda m: f'<a href="https://m.weibo.cn/search?containerid=231522type%3D1%26q%3D%23{quote(m[1])}%23">'
        f'<span class="surl-text">#{m[1]}#</span></a>', out)
    out = _EMOTICON.sub(
        lambda m: f'<span class="url-icon"><img alt="[{m[1]}]" src="https://h5.sinaimg.cn/m/emoticon/icon/default/'
        f'd_{quote(m[1])}.png" style="width:1em; height:1em;" /></span>', out)
    return out.replace("\n", "<br />")


def is_long(post: Post) -> bool:
    return post.index % 7 == 3 and not post.viral


def full_text(post: Post) -> str:
    """A long post's whole text: the generated one, and a second paragraph only the full view shows."""
    if not is_long(post):
        return post.text
    return f"{post.text}\n补充一下：已经联系了三次客服，每次都让等48小时，到现在也没有结果。大家有类似情况吗？"


def _shown_text(post: Post) -> str:
    if not is_long(post):
        return render_text(post.text)
    return (render_text(post.text[:TRUNCATE_AT]) + f'...<a href="/status/{post.id}">全文</a>')


def mblog(post: Post, now: datetime) -> dict[str, Any]:
    pics = [{"pid": f"{post.id:x}{j}", "url": f"https://wx1.sinaimg.cn/orj360/{post.id:x}{j}.jpg",
             "large": {"url": f"https://wx1.sinaimg.cn/large/{post.id:x}{j}.jpg"}} for j in range(post.index % 3)]
    data: dict[str, Any] = {
        "id": str(post.id), "mid": str(post.id), "bid": f"N{post.id % 10**9:09d}",
        "text": _shown_text(post), "created_at": weibo_time(post.created), "source": "微博 weibo.com",
        "attitudes_count": post.likes(now), "comments_count": post.comments(now), "reposts_count": post.shares(now),
        "isLongText": is_long(post), "pic_num": len(pics), "pics": pics,
        "region_name": f"发布于 {REGIONS[post.author.id % len(REGIONS)]}",
        "user": {"id": post.author.id, "screen_name": post.author.name, "followers_count": post.author.followers,
                 "verified": post.author.followers >= 1_000_000,
                 "profile_url": f"https://m.weibo.cn/u/{post.author.id}"},
    }
    if post.repost_of is not None:
        data["retweeted_status"] = mblog(post.repost_of, now)
    return data


def _card(post: Post, now: datetime) -> dict[str, Any]:
    return {"card_type": 9, "itemid": f"seqid:{post.id}", "scheme": f"https://m.weibo.cn/status/{post.id}",
            "mblog": mblog(post, now)}


def visitor_cookies(n: int) -> list[str]:
    """What a first visit of m.weibo.cn sets: a visitor session (`_T_WM`) and its XSRF token."""
    return [f"_T_WM={n * 7919 % 10**11:011d}; path=/", f"XSRF-TOKEN={n * 104729 % 16**6:06x}; path=/",
            "WEIBOCN_FROM=1110006030; path=/", "MLOGIN=0; path=/"]


def no_session(req: Request) -> Response | None:
    """432 for a client that is not a browser session (see the module docstring)."""
    referer = req.header("Referer")
    session = bool(req.cookies.get("_T_WM") or req.cookies.get("SUB"))
    if req.browser_like() and session and (referer.startswith("https://m.weibo.cn") or "/detail/" in referer):
        return None
    return Response(432, b"", "text/html; charset=utf-8")


def login_wall(req: Request, env: Env) -> Response | None:
    """The expired-session answer, if this request should get one."""
    f = env.faults
    has_cookie = bool(req.cookies.get("SUB"))
    expired = bool(f.expired_cookie) and req.cookies.get("SUB") == f.expired_cookie
    if not (f.login_wall or req.forced("login") or expired or (f.require_cookie and not has_cookie)):
        return None
    if f.login_style == "redirect":
        return Response(302, b"", "text/html; charset=utf-8",
                        {"Location": f"/login?r={quote(req.raw_target or req.path, safe='')}"})
    return json_response({"ok": -100, "url": "/login", "msg": "请先登录"})


def _drop(node: Any, field: str) -> None:
    """Remove `field` from every post (mblog, and the original it reposts) in a card list, in place."""
    if isinstance(node, list):
        for item in node:
            _drop(item, field)
    elif isinstance(node, dict):
        for key in ("mblog", "retweeted_status", "card_group"):
            _drop(node.get(key), field)
        if "created_at" in node and "user" in node:  # a post
            node.pop(field, None)


def search(req: Request, env: Env) -> Response:
    if (wall := login_wall(req, env) or no_session(req)) is not None:
        return wall
    container = req.arg("containerid")
    keyword = parse_qs(container).get("q", [""])[0].strip()
    page = max(1, req.int_arg("page", 1))
    now = env.world.now()
    posts = env.world.posts("weibo", keyword) if keyword else []
    start = (page - 1) * PAGE_SIZE
    chunk = posts[start : start + PAGE_SIZE]
    if not chunk:
        return json_response({"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}})
    cards: list[dict[str, Any]] = []
    if page == 1:
        cards.append({"card_type": 11, "card_group": [{"card_type": 17, "desc": "热门搜索", "scheme": ""}]})
    direct, grouped = chunk[:-3], chunk[-3:]
    cards.extend(_card(p, now) for p in direct[:3])
    cards.append({"card_type": 4, "desc": "相关用户", "scheme": "https://m.weibo.cn/p/searchall"})
    cards.extend(_card(p, now) for p in direct[3:])
    cards.append({"card_type": 11, "card_group": [_card(p, now) for p in grouped]})
    body = {"ok": 1, "data": {
        "cardlistInfo": {"containerid": container, "page": page, "total": len(posts), "v_p": 42},
        "cards": cards,
    }}
    if env.faults.drop_field:
        _drop(cards, env.faults.drop_field)
    if is_malformed_page(req, env, keyword, page):
        return truncated_json_response(body)
    return json_response(body)


def _comment(c: Comment, now: datetime) -> dict[str, Any]:
    return {"id": c.id, "mid": str(c.id), "rootid": str(c.id), "text": render_text(c.text),
            "created_at": weibo_time(c.created), "like_count": c.likes(now), "total_number": c.replies,
            "user": {"id": c.author.id, "screen_name": c.author.name, "followers_count": c.author.followers}}


def cursor_type(offset: int) -> int:
    """The `max_id_type` Weibo gives with a cursor: 0 on the first pages, 1 further down."""
    return 0 if offset < 2 * COMMENT_PAGE else 1


def long_text(req: Request, env: Env) -> Response:
    if (wall := login_wall(req, env) or no_session(req)) is not None:
        return wall
    try:
        post = env.world.find("weibo", int(req.arg("id")))
    except ValueError:
        post = None
    if post is None:
        return json_response({"ok": 0, "msg": "微博不存在或暂无查看权限!"})
    now = env.world.now()
    return json_response({"ok": 1, "data": {"ok": 1, "longTextContent": render_text(full_text(post)),
                                            "reposts_count": post.shares(now), "comments_count": post.comments(now),
                                            "attitudes_count": post.likes(now)}})


def hotflow(req: Request, env: Env) -> Response:
    if (wall := login_wall(req, env) or no_session(req)) is not None:
        return wall
    try:
        mid = int(req.arg("mid") or req.arg("id"))
    except ValueError:
        return json_response({"ok": 0, "msg": "参数错误"})
    post = env.world.find("weibo", mid)
    if post is None:
        return json_response({"ok": 0, "msg": "微博不存在或暂无查看权限!"})
    max_id = req.int_arg("max_id", 0)
    offset = max_id - CURSOR_BASE if max_id > CURSOR_BASE else 0
    if max_id and req.int_arg("max_id_type", 0) != cursor_type(offset):
        return json_response({"ok": 0, "msg": "快来发表你的评论吧"})  # a cursor not passed back whole: nothing
    now = env.world.now()
    comments = env.world.comments(post)
    chunk = comments[offset : offset + COMMENT_PAGE]
    more = offset + COMMENT_PAGE < len(comments)
    return json_response({"ok": 1, "data": {
        "data": [_comment(c, now) for c in chunk], "total_number": post.comments(now),
        "max_id": CURSOR_BASE + offset + COMMENT_PAGE if more else 0,
        "max_id_type": cursor_type(offset + COMMENT_PAGE) if more else 0,
    }})


def login_page(req: Request, env: Env) -> Response:
    return html_response("<!doctype html><html><head><meta charset=\"utf-8\"><title>登录 - 新浪微博</title></head>"
                         "<body><form class=\"login\" action=\"/login\" method=\"post\">请先登录</form></body></html>")


ROUTES = {
    "/api/container/getIndex": search,
    "/comments/hotflow": hotflow,
    "/statuses/extend": long_text,
}
PUBLIC_ROUTES = {"/login": login_page}
