"""Reddit's public JSON search: a Listing of t3 things, paged with the `after` fullname."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sites.clock import epoch
from sites.core import Env, Request, Response, json_response
from sites.world import Post

_SUBS = {"negative": ("Xiaomi", "Android", "techsupport"), "positive": ("Android", "gadgets"),
         "neutral": ("technology", "gadgets"), "unrelated": ("Cooking", "Baking", "pics")}


def base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def _thing(post: Post, now: datetime) -> dict[str, Any]:
    pid = base36(2_000_000_000 + post.id % 10**9)
    subs = _SUBS[post.kind]
    sub = subs[post.index % len(subs)]
    slug = re.sub(r"[^a-z0-9]+", "_", post.title.lower()).strip("_")[:40] or "post"
    created = float(epoch(post.created))
    return {"kind": "t3", "data": {
        "id": pid, "name": f"t3_{pid}", "title": post.title, "selftext": post.text, "author": post.author.name,
        "created_utc": created, "created": created, "score": post.likes(now), "ups": post.likes(now),
        "num_comments": post.comments(now), "permalink": f"/r/{sub}/comments/{pid}/{slug}/",
        "url": f"https://www.reddit.com/r/{sub}/comments/{pid}/{slug}/", "subreddit": sub,
        "subreddit_name_prefixed": f"r/{sub}", "over_18": False, "is_self": True,
    }}


def search(req: Request, env: Env) -> Response:
    keyword = req.arg("q").strip()
    limit = min(max(1, req.int_arg("limit", 25)), 100)
    after = req.arg("after")
    now = env.world.now()
    things = [_thing(p, now) for p in env.world.posts("reddit", keyword)] if keyword else []
    start = 0
    if after:
        names = [t["data"]["name"] for t in things]
        start = names.index(after) + 1 if after in names else len(things)
    chunk = things[start : start + limit]
    more = start + limit < len(things)
    return json_response({"kind": "Listing", "data": {
        "after": chunk[-1]["data"]["name"] if more and chunk else None, "before": None,
        "dist": len(chunk), "modhash": "", "children": chunk,
    }})


ROUTES = {"/search.json": search}
