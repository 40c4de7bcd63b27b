"""Xiaohongshu (小红书): a search page whose HTML holds no notes (inline JavaScript fetches them and appends more
on scroll), and the JSON API that script calls. A spider must render JavaScript or call the API itself."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sites.clock import epoch
from sites.core import Env, Request, Response, html_response, is_malformed_page, json_response, truncated_json_response
from sites.world import Post

PAGE_SIZE = 20


def _note(post: Post, now: datetime) -> dict[str, Any]:
    note_id = f"{(post.id * 2654435761 + 0x64F0000000000000) % 16**24:024x}"
    return {"id": note_id, "model_type": "note", "xsec_token": f"AB{note_id[:12]}", "note_card": {
        "type": "normal", "display_title": post.title, "desc": post.text,
        "user": {"user_id": f"{post.author.id * 40503 % 16**24:024x}", "nickname": post.author.name},
        # counts are strings, as on the real site
        "interact_info": {"liked_count": str(post.likes(now)), "collected_count": str(post.shares(now)),
                          "comment_count": str(post.comments(now)), "shared_count": str(post.shares(now) // 2)},
        "time": epoch(post.created) * 1000,
    }}


def notes_api(req: Request, env: Env) -> Response:
    keyword = req.arg("keyword").strip()
    page = max(1, req.int_arg("page", 1))
    now = env.world.now()
    posts = env.world.posts("xiaohongshu", keyword) if keyword else []
    chunk = posts[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    body = {"code": 0, "success": True, "msg": "成功", "data": {
        "has_more": page * PAGE_SIZE < len(posts), "items": [_note(p, now) for p in chunk]}}
    if is_malformed_page(req, env, keyword, page):
        return truncated_json_response(body)
    return json_response(body)


_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>__TITLE__ - 小红书搜索</title>
<style>.note-item{display:block;min-height:240px;margin:8px;border:1px solid #eee}</style></head>
<body><div id="app"><div class="search-header">__TITLE__</div>
<div class="feeds-container" id="feeds"></div>
<div class="loading" id="loading">加载中…</div><div class="end-container" id="end" hidden>- THE END -</div></div>
<script>
(function () {
  var keyword = __KEYWORD__, page = 1, busy = false, done = false;
  var feeds = document.getElementById('feeds');
  function esc(s) { var d = document.createElement('div'); d.textContent = s; return d.innerHTML; }
  function render(item) {
    var n = item.note_card, c = n.interact_info, s = document.createElement('section');
    s.className = 'note-item';
    s.dataset.noteId = item.id; s.dataset.time = n.time;
    s.dataset.liked = c.liked_count; s.dataset.collected = c.collected_count;
    s.dataset.comments = c.comment_count; s.dataset.shares = c.shared_count;
    s.innerHTML = '<a class="cover" href="/explore/' + item.id + '"><span class="title">' + esc(n.display_title) +
      '</span></a><p class="desc">' + esc(n.desc) + '</p><div class="author"><span class="name" data-user-id="' +
      n.user.user_id + '">' + esc(n.user.nickname) + '</span></div><span class="like-wrapper"><span class="count">' +
      c.liked_count + '</span></span><time datetime="' + new Date(n.time).toISOString() + '"></time>';
    feeds.appendChild(s);
  }
  function nearBottom() { return window.innerHeight + window.scrollY >= document.body.offsetHeight - 300; }
  function load() {
    if (busy || done) return;
    busy = true;
    fetch('/api/sns/web/v1/search/notes?keyword=' + encodeURIComponent(keyword) + '&page=' + page)
      .then(function (r) { return r.json(); })
      .then(function (j) {
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


def search_page(req: Request, env: Env) -> Response:
    keyword = req.arg("keyword").strip()
    title = keyword.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    script_kw = json.dumps(keyword, ensure_ascii=False).replace("</", "<\\/")
    return html_response(_PAGE.replace("__TITLE__", title).replace("__KEYWORD__", script_kw))


ROUTES = {
    "/search_result": search_page,
    "/api/sns/web/v1/search/notes": notes_api,
}
