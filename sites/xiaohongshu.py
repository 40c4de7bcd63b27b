"""Xiaohongshu (小红书) as the web app works (NanmiCoder/MediaCrawler `media_platform/xhs/client.py`, `login.py`,
`store/xhs/__init__.py`), enforcing what it enforces:

- `/search_result?keyword=K`: a page whose HTML holds no notes; its own script calls `POST /api/sns/web/v1/search/notes`
  with `X-s`/`X-t` signature headers it computes itself, and appends a note card per item, more on scroll. A browser
  without the login cookie (`web_session`) gets the login modal instead and no notes.
- `POST /api/sns/web/v1/search/notes`: unsigned (no `X-s`/`X-t`) is 406; not logged in is `{"code": -101}`; the
  `xhs_captcha` fault answers 461 (captcha), as the site does under risk control. Items carry `xsec_token`; cards
  carry the title, author, counts and the publish time as the card prints it ("3天前").
- `/explore/ID?xsec_token=T`: the note page; without its token it is the 404 page ("当前笔记暂时无法浏览"). With it, its
  script calls `POST /api/sns/web/v1/feed`, whose `note_card` has `desc`, `time` (ms), `ip_location` and `tag_list`.

`write_storage_state` writes a Playwright storage state logged in to this simulator (DEMO_SESSION): what the demo
and tests hand the spider as its browser profile.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sites.clock import CHINA, epoch
from sites.core import Env, Request, Response, html_response, is_malformed_page, json_response, truncated_json_response
from sites.world import Post

PAGE_SIZE = 20
SESSION_COOKIE = "web_session"
DEMO_SESSION = "040069b5f1c2d3e4groundswelldemo"  # simulator-only: opens nothing but the simulator
LOCATIONS = ("上海", "北京", "广东", "浙江", "四川", "湖北")


def note_id(post: Post) -> str:
    return f"{(post.id * 2654435761 + 0x64F0000000000000) % 16**24:024x}"


def xsec_token(post: Post) -> str:
    return f"AB{note_id(post)[:12]}{post.index:04d}="


def card_time(created: datetime, now: datetime) -> str:
    """The publish time as the search card prints it: relative when recent, else a date."""
    age = now - created
    if age < timedelta(hours=1):
        return f"{max(1, int(age.total_seconds() // 60))}分钟前"
    if age < timedelta(days=1):
        return f"{int(age.total_seconds() // 3600)}小时前"
    if age < timedelta(days=7):
        return f"{age.days}天前"
    local = created.astimezone(CHINA)
    return f"{local:%m-%d}" if local.year == now.astimezone(CHINA).year else f"{local:%Y-%m-%d}"


def logged_in(req: Request) -> bool:
    return req.cookies.get(SESSION_COOKIE) == DEMO_SESSION


def signed(req: Request) -> bool:
    """The page's own script signs its calls; a bare client does not."""
    return bool(req.header("X-s").startswith("XYW_") and req.header("X-t").isdigit())


def _find(env: Env, nid: str) -> Post | None:
    return next((p for p in env.world.cached("xiaohongshu") if note_id(p) == nid), None)


def _item(post: Post, now: datetime) -> dict[str, Any]:
    return {"id": note_id(post), "model_type": "note", "xsec_token": xsec_token(post), "note_card": {
        "type": "normal", "display_title": post.title,
        "user": {"user_id": f"{post.author.id * 40503 % 16**24:024x}", "nickname": post.author.name,
                 "nick_name": post.author.name},
        # counts are strings, as on the real site
        "interact_info": {"liked": False, "liked_count": str(post.likes(now))},
        "corner_tag_info": [{"type": "publish_time", "text": card_time(post.created, now)}],
        "cover": {"url_default": f"https://sns-webpic-qc.xhscdn.com/{note_id(post)}.jpg"},
    }}


def _refused(req: Request, env: Env) -> Response | None:
    if not signed(req):
        return json_response({"code": 406, "success": False, "msg": "签名校验失败"}, 406)
    if env.faults.xhs_captcha:
        return json_response({"code": 461, "success": False, "msg": "需要验证"}, 461)
    if not logged_in(req):
        return json_response({"code": -101, "success": False, "msg": "无登录信息，或登录信息为空"})
    return None


def notes_api(req: Request, env: Env) -> Response:
    if (answer := _refused(req, env)) is not None:
        return answer
    try:
        body = json.loads(req.body or b"{}")
    except ValueError:
        body = {}
    keyword = str(body.get("keyword", "")).strip()
    page = max(1, int(body.get("page", 1) or 1))
    now = env.world.now()
    posts = env.world.posts("xiaohongshu", keyword) if keyword else []
    if body.get("sort") != "time_descending":  # "general": the most liked first
        posts = sorted(posts, key=lambda p: (-p.likes(now), p.id))
    chunk = posts[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    found = {"code": 0, "success": True, "msg": "成功", "data": {
        "has_more": page * PAGE_SIZE < len(posts), "items": [_item(p, now) for p in chunk]}}
    if is_malformed_page(req, env, keyword, page):
        return truncated_json_response(found)
    return json_response(found)


def feed_api(req: Request, env: Env) -> Response:
    if (answer := _refused(req, env)) is not None:
        return answer
    try:
        body = json.loads(req.body or b"{}")
    except ValueError:
        body = {}
    post = _find(env, str(body.get("source_note_id", "")))
    if post is None or body.get("xsec_token") != xsec_token(post):
        return json_response({"code": -510001, "success": False, "msg": "笔记不存在"})
    now = env.world.now()
    card = _item(post, now)["note_card"]
    card.pop("corner_tag_info")
    card.update({
        "note_id": note_id(post), "title": post.title, "desc": post.text, "time": epoch(post.created) * 1000,
        "last_update_time": epoch(post.created) * 1000, "ip_location": LOCATIONS[post.author.id % len(LOCATIONS)],
        "interact_info": {"liked_count": str(post.likes(now)), "collected_count": str(post.shares(now)),
                          "comment_count": str(post.comments(now)), "share_count": str(post.shares(now) // 2)},
        "tag_list": [{"id": "t1", "name": "数码", "type": "topic"}],
        "image_list": [{"url_default": f"https://sns-webpic-qc.xhscdn.com/{note_id(post)}-1.jpg"}],
    })
    return json_response({"code": 0, "success": True, "msg": "成功", "data": {
        "cursor_score": "", "items": [{"id": note_id(post), "model_type": "note", "note_card": card}]}})


_SIGN_JS = """
function sign(path, body) {  // stands in for the site's own signing code: the spider never computes this
  var t = String(Date.now());
  return {'X-s': 'XYW_' + btoa(unescape(encodeURIComponent(path + body + t))).slice(0, 40), 'X-t': t,
          'Content-Type': 'application/json;charset=UTF-8'};
}
function api(path, payload) {
  var body = JSON.stringify(payload);
  return fetch(path, {method: 'POST', headers: sign(path, body), body: body, credentials: 'include'});
}
"""

_SEARCH_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>__TITLE__ - 小红书搜索</title>
<style>.note-item{display:block;min-height:240px;margin:8px;border:1px solid #eee}</style></head>
<body><div id="app"><div class="search-header">__TITLE__</div>
<div class="feeds-container" id="feeds"></div>
<div class="loading" id="loading">加载中…</div><div class="end-container" id="end" hidden>- THE END -</div></div>
<script>__SIGN__
(function () {
  var keyword = __KEYWORD__, page = 1, busy = false, done = false;
  var feeds = document.getElementById('feeds');
  function esc(s) { var d = document.createElement('div'); d.textContent = s; return d.innerHTML; }
  function render(item) {
    var n = item.note_card, s = document.createElement('section');
    s.className = 'note-item';
    s.innerHTML = '<a class="cover" href="/explore/' + item.id + '?xsec_token=' + encodeURIComponent(item.xsec_token) +
      '&xsec_source=pc_search"><span class="title">' + esc(n.display_title) + '</span></a><div class="author">' +
      '<span class="name">' + esc(n.user.nickname) + '</span></div><span class="like-wrapper"><span class="count">' +
      n.interact_info.liked_count + '</span></span>';
    feeds.appendChild(s);
  }
  function nearBottom() { return window.innerHeight + window.scrollY >= document.body.offsetHeight - 300; }
  function load() {
    if (busy || done) return;
    busy = true;
    api('/api/sns/web/v1/search/notes', {keyword: keyword, page: page, page_size: 20, search_id: 'sim',
                                         sort: 'time_descending', note_type: 0})
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (!j.data) { done = true; return; }
        j.data.items.forEach(render);
        page += 1; done = !j.data.has_more; busy = false;
        if (done) { document.getElementById('loading').hidden = true; document.getElementById('end').hidden = false; }
        else if (nearBottom()) { load(); }
      })
      .catch(function () { busy = false; });
  }
  window.addEventListener('scroll', function () { if (nearBottom()) load(); });
  load();
})();
</script></body></html>
"""

_LOGIN_MODAL = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>小红书 - 你的生活指南</title>
</head><body><div id="app"><div class="login-container"><div class="login-modal">
<div class="title">登录后查看搜索结果</div><div class="qrcode"></div></div></div></div></body></html>"""

_NOTE_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>小红书</title></head>
<body><div id="noteContainer" class="note-container"></div><script>__SIGN__
api('/api/sns/web/v1/feed', {source_note_id: __ID__, image_formats: ['jpg', 'webp'], extra: {need_body_topic: '1'},
                             xsec_source: 'pc_search', xsec_token: __TOKEN__})
  .then(function (r) { return r.json(); })
  .then(function (j) {
    document.getElementById('noteContainer').textContent = j.data ? j.data.items[0].note_card.desc : '';
  });
</script></body></html>"""

_NOT_FOUND = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>小红书</title></head>
<body><div class="error-page"><p>当前笔记暂时无法浏览</p></div></body></html>"""


def _js(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


def search_page(req: Request, env: Env) -> Response:
    if not logged_in(req):
        return html_response(_LOGIN_MODAL)
    keyword = req.arg("keyword").strip()
    title = keyword.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return html_response(_SEARCH_PAGE.replace("__TITLE__", title).replace("__KEYWORD__", _js(keyword))
                         .replace("__SIGN__", _SIGN_JS))


def note_page(req: Request, env: Env) -> Response:
    nid = req.path.removeprefix("/explore/").strip("/")
    post = _find(env, nid)
    if post is None or req.arg("xsec_token") != xsec_token(post):
        return html_response(_NOT_FOUND, 404)
    if not logged_in(req):
        return html_response(_LOGIN_MODAL)
    return html_response(_NOTE_PAGE.replace("__SIGN__", _SIGN_JS).replace("__ID__", _js(nid))
                         .replace("__TOKEN__", _js(xsec_token(post))))


def write_storage_state(path: Path, base_url: str) -> Path:
    """A Playwright storage state logged in to the simulator at `base_url` (its `web_session` cookie)."""
    host = urlsplit(base_url).hostname or "127.0.0.1"
    state = {"cookies": [{"name": SESSION_COOKIE, "value": DEMO_SESSION, "domain": host, "path": "/",
                          "expires": -1, "httpOnly": True, "secure": False, "sameSite": "Lax"}], "origins": []}
    path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    return path


ROUTES = {
    "/search_result": search_page,
    "/api/sns/web/v1/search/notes": notes_api,
    "/api/sns/web/v1/feed": feed_api,
}
PREFIX_ROUTES = {"/explore/": note_page}
POST_ROUTES = frozenset({"/api/sns/web/v1/search/notes", "/api/sns/web/v1/feed"})
