"""JD (京东): a keyword -> product list, and product reviews as JSONP `fetchJSON_comment98({...});`."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from sites.clock import china_time
from sites.core import Env, Request, Response, is_malformed_page, json_response
from sites.world import Post

_COLORS = ("曜石黑", "冰川白", "远山蓝")
_LEVELS = ("PLUS会员", "金牌会员", "银牌会员", "注册会员")


def _mask(name: str) -> str:
    """JD shows nicknames masked: first and last character only."""
    return f"{name[0]}***{name[-1]}" if len(name) > 2 else f"{name[0]}***"


def _comment(post: Post, product: str, name: str, now: datetime) -> dict[str, Any]:
    return {"id": post.id, "guid": f"{post.id:x}", "content": post.text, "creationTime": china_time(post.created),
            "nickname": _mask(post.author.name), "score": post.rating, "usefulVoteCount": post.likes(now),
            "replyCount": post.comments(now), "productColor": _COLORS[post.index % len(_COLORS)],
            "productSize": "", "referenceId": product, "referenceName": name,
            "userLevelName": _LEVELS[post.index % len(_LEVELS)]}


def product_search(req: Request, env: Env) -> Response:
    keyword = req.arg("keyword").strip()
    keywords = [keyword] if keyword else ["小米", "苹果", "华为"]  # no keyword: the fixed catalogue
    return json_response({"products": [{"productId": pid, "name": name}
                                       for kw in keywords for pid, name in env.world.products(kw)]})


def comments(req: Request, env: Env) -> Response:
    product = req.arg("productId").strip()
    page = max(0, req.int_arg("page", 0))  # JD numbers pages from 0
    size = min(max(1, req.int_arg("pageSize", 10)), 10)
    callback = req.arg("callback") or "fetchJSON_comment98"
    now = env.world.now()
    posts = env.world.posts("jd", product) if product else []
    name = env.world.product_name(product)
    chunk = posts[page * size : (page + 1) * size]
    good = sum(p.rating >= 4 for p in posts)
    body = {
        "productAttr": None,
        "productCommentSummary": {"productId": product, "commentCount": len(posts), "goodCount": good,
                                  "poorCount": sum(p.rating <= 2 for p in posts),
                                  "goodRateShow": round(100 * good / len(posts)) if posts else 100},
        "maxPage": math.ceil(len(posts) / size), "score": 0, "soType": 6,
        "comments": [_comment(p, product, name, now) for p in chunk],
    }
    text = json.dumps(body, ensure_ascii=False)
    if is_malformed_page(req, env, env.world.product_keyword(product), page):
        text = text[: len(text) // 2]
    return Response(200, f"{callback}({text});".encode(), "application/javascript; charset=utf-8")


ROUTES = {
    "/comment/productPageComments.action": comments,
    "/search": product_search,
}
