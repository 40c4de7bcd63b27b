"""Reddit's OAuth2 API, enforcing what Reddit enforces (its wiki pages `OAuth2` and `API`).

- `POST /api/v1/access_token` (www.reddit.com): HTTP basic auth with a known app's id and secret, and
  `grant_type=client_credentials` (or `password` with the app owner's login); anything else gets 401.
- `/search` and `/comments/ID` (oauth.reddit.com) need `Authorization: bearer TOKEN` with a token it issued and a
  User-Agent of the form `<platform>:<app id>:<version> (by /u/<user>)`; otherwise 403 "Blocked", which is also what
  the old unauthenticated `www.reddit.com/search.json` gets now.
- Every API answer carries `X-Ratelimit-Used/Remaining/Reset` for a 60-request window per token (60 s of real
  time); a request past the limit gets 429.

The simulator knows one app (DEMO_CLIENT_ID / DEMO_CLIENT_SECRET, owner DEMO_USERNAME / DEMO_PASSWORD): what the
demo and the tests configure. These are simulator-only test credentials, not secrets of any real app.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from sites.clock import epoch
from sites.core import Env, Request, Response, html_response, json_response
from sites.world import Post

DEMO_CLIENT_ID = "groundswell-demo-app"
DEMO_CLIENT_SECRET = "simulator-only-secret"
DEMO_USERNAME = "groundswell_demo"
DEMO_PASSWORD = "simulator-only-password"
RATE_LIMIT = 60
WINDOW_SECONDS = 60.0
USER_AGENT_RE = re.compile(r"^\S+:\S+:\S+ \(by /u/[\w-]+\)$")
BLOCKED_PAGE = "<!doctype html><html><head><title>Blocked</title></head><body><h1>whoa there, pardner!</h1>" \
               "<p>Your request has been blocked due to a network policy.</p></body></html>"

_SUBS = {"negative": ("Xiaomi", "Android", "techsupport"), "positive": ("Android", "gadgets"),
         "neutral": ("technology", "gadgets"), "unrelated": ("Cooking", "Baking", "pics")}
_tokens: dict[str, list[float]] = {}  # token -> [window start (monotonic), requests in the window]
_lock = threading.Lock()


def base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def post_id36(post: Post) -> str:
    return base36(2_000_000_000 + post.id % 10**9)


def _thing(post: Post, now: datetime) -> dict[str, Any]:
    pid = post_id36(post)
    subs = _SUBS[post.kind]
    sub = subs[post.index % len(subs)]
    slug = re.sub(r"[^a-z0-9]+", "_", post.title.lower()).strip("_")[:40] or "post"
    created = float(epoch(post.created))
    return {"kind": "t3", "data": {
        "id": pid, "name": f"t3_{pid}", "title": post.title, "selftext": post.text, "author": post.author.name,
        "author_fullname": f"t2_{base36(post.author.id)}", "created_utc": created, "created": created,
        "score": post.likes(now), "ups": post.likes(now), "num_comments": min(post.comments(now), 60),
        "permalink": f"/r/{sub}/comments/{pid}/{slug}/", "url": f"https://www.reddit.com/r/{sub}/comments/{pid}/{slug}/",
        "subreddit": sub, "subreddit_name_prefixed": f"r/{sub}", "over_18": False, "is_self": True,
    }}


def token(req: Request, env: Env) -> Response:
    """The token endpoint: basic auth of the known app, a grant it supports."""
    auth = req.header("Authorization")
    try:
        pair = base64.b64decode(auth.removeprefix("Basic ").encode()).decode() if auth.startswith("Basic ") else ""
    except ValueError:
        pair = ""
    form = dict(parse_qsl(req.body.decode("utf-8", "replace")))
    grant = form.get("grant_type", "")
    owner_ok = form.get("username") == DEMO_USERNAME and form.get("password") == DEMO_PASSWORD
    if pair != f"{DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET}" or not (grant == "client_credentials" or
                                                               (grant == "password" and owner_ok)):
        return json_response({"message": "Unauthorized", "error": 401}, 401)
    issued = hashlib.sha256(f"{env.world.seed}:{time.monotonic_ns()}".encode()).hexdigest()[:32]
    with _lock:
        _tokens[issued] = [time.monotonic(), 0.0]
    return json_response({"access_token": issued, "token_type": "bearer", "expires_in": 86400, "scope": "*"})


def _authorized(req: Request) -> tuple[Response | None, dict[str, str]]:
    """403 "Blocked" without a token it issued or a proper User-Agent; 429 past the window's limit; else the
    rate-limit headers for the answer."""
    auth = req.header("Authorization")
    issued = auth[7:] if auth.lower().startswith("bearer ") else ""
    with _lock:
        window = _tokens.get(issued)
        if window is None or not USER_AGENT_RE.match(req.header("User-Agent")):
            return html_response(BLOCKED_PAGE, 403), {}
        now = time.monotonic()
        if now - window[0] >= WINDOW_SECONDS:
            window[0], window[1] = now, 0.0
        window[1] += 1
        used, reset = int(window[1]), max(0, int(WINDOW_SECONDS - (now - window[0])))
    headers = {"X-Ratelimit-Used": str(used), "X-Ratelimit-Remaining": f"{max(0, RATE_LIMIT - used):.1f}",
               "X-Ratelimit-Reset": str(reset)}
    if used > RATE_LIMIT:
        return json_response({"message": "Too Many Requests", "error": 429}, 429), headers
    return None, headers


def _with(headers: dict[str, str], resp: Response) -> Response:
    resp.headers.update(headers)
    return resp


def search(req: Request, env: Env) -> Response:
    refused, headers = _authorized(req)
    if refused is not None:
        return _with(headers, refused)
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
    return _with(headers, json_response({"kind": "Listing", "data": {
        "after": chunk[-1]["data"]["name"] if more and chunk else None, "before": None,
        "dist": len(chunk), "modhash": "", "children": chunk,
    }}))


def comments(req: Request, env: Env) -> Response:
    refused, headers = _authorized(req)
    if refused is not None:
        return _with(headers, refused)
    pid = req.path.removeprefix("/comments/").strip("/").split("/")[0]
    post = next((p for p in env.world.cached("reddit") if post_id36(p) == pid), None)
    if post is None:
        return _with(headers, json_response({"message": "Not Found", "error": 404}, 404))
    now = env.world.now()
    rows = sorted(env.world.comments(post), key=lambda c: (c.created, c.id), reverse=True)  # sort=new
    thing = _thing(post, now)
    children = [{"kind": "t1", "data": {
        "id": base36(c.id), "name": f"t1_{base36(c.id)}", "body": c.text, "author": c.author.name,
        "author_fullname": f"t2_{base36(c.author.id)}", "created_utc": float(epoch(c.created)),
        "score": c.likes(now), "parent_id": f"t3_{pid}", "link_id": f"t3_{pid}",
        "subreddit": thing["data"]["subreddit"],
        "permalink": f"{thing['data']['permalink']}{base36(c.id)}/", "replies": "",
    }} for c in rows]
    return _with(headers, json_response([
        {"kind": "Listing", "data": {"after": None, "dist": 1, "children": [thing]}},
        {"kind": "Listing", "data": {"after": None, "children": children}},
    ]))


def old_json(req: Request, env: Env) -> Response:
    """Unauthenticated `www.reddit.com/search.json`: what it gets now."""
    return html_response(BLOCKED_PAGE, 403)


ROUTES = {"/search": search, "/search.json": old_json, "/api/v1/access_token": token}
PREFIX_ROUTES = {"/comments/": comments}
POST_ROUTES = frozenset({"/api/v1/access_token"})
