"""A generic server-rendered review site, plus a redesign (new class names) switched on by `layout_changed`, so
selector-based spiders can be seen to break loudly rather than silently yield nothing."""

from __future__ import annotations

from datetime import datetime
from html import escape
from urllib.parse import quote, unquote

from sites.core import Env, Request, Response, html_response
from sites.world import Post

PAGE_SIZE = 10


def _classic(post: Post, now: datetime) -> str:
    return (f'<div class="review" id="r-{post.id}"><p class="text">{escape(post.text)}</p>'
            f'<span class="author">{escape(post.author.name)}</span>'
            f'<time datetime="{post.created.isoformat()}">{post.created:%Y-%m-%d}</time>'
            f'<span class="rating">{post.rating}</span><span class="helpful">{post.likes(now)}</span></div>')


def _redesign(post: Post, now: datetime) -> str:
    stars = "★" * post.rating + "☆" * (5 - post.rating)
    return (f'<li class="review-item" data-review-id="{post.id}"><div class="review-body">{escape(post.text)}</div>'
            f'<span class="review-author">{escape(post.author.name)}</span>'
            f'<span class="review-date" data-timestamp="{int(post.created.timestamp())}">{post.created:%b %d, %Y}'
            f'</span><span class="stars" data-score="{post.rating}">{stars}</span></li>')


def review_page(req: Request, env: Env) -> Response:
    product = unquote(req.path.removeprefix("/reviews/")).strip("/")
    if not product or "/" in product:
        return html_response("<h1>Not found</h1>", 404)
    page = max(1, req.int_arg("page", 1))
    now = env.world.now()
    posts = env.world.posts("reviews", product)
    chunk = posts[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    more = page * PAGE_SIZE < len(posts)
    href = f"/reviews/{quote(product)}?page={page + 1}"
    title = escape(env.world.product_name(product))
    if env.faults.layout_changed or req.forced("layout"):
        items = "".join(_redesign(p, now) for p in chunk)
        pager = f'<a class="pagination-next" rel="next" href="{href}">Load more</a>' if more else ""
        body = f'<main><h2 class="product-title">{title}</h2><ul class="review-list">{items}</ul>{pager}</main>'
    else:
        items = "".join(_classic(p, now) for p in chunk)
        pager = f'<a class="next" href="{href}">Next</a>' if more else ""
        body = f'<h1>{title}</h1><div class="reviews">{items}</div><nav class="pager">{pager}</nav>'
    return html_response(f'<!doctype html><html><head><meta charset="utf-8"><title>Reviews: {title}</title></head>'
                         f"<body>{body}</body></html>")


PREFIX_ROUTES = {"/reviews/": review_page}
