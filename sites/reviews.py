"""A generic server-rendered review site, plus a redesign (new class names) switched on by `layout_changed`, so
selector-based spiders can be seen to break loudly rather than silently yield nothing; and a shop (`/shop/P`) that
publishes its reviews as schema.org markup, as most real shops do: JSON-LD (`Product` with `review` and
`aggregateRating`), or microdata with `?markup=microdata`, its dates printed for people ("2026年11月24日",
"November 24, 2026", "3天前") rather than in ISO."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
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


def printed(post: Post, now: datetime) -> str:
    """The date as a shop prints it: relative when recent, else in the review's language."""
    age = now - post.created
    local = post.created.astimezone(now.tzinfo)
    if age < timedelta(days=7):
        return f"{max(1, age.days)}天前" if post.lang == "zh" else f"{max(1, age.days)} days ago"
    if post.lang == "zh":
        return f"{local.year}年{local.month}月{local.day}日"
    return f"{local:%B} {local.day}, {local.year}"


def shop_page(req: Request, env: Env) -> Response:
    product = unquote(req.path.removeprefix("/shop/")).strip("/")
    if not product or "/" in product:
        return html_response("<h1>Not found</h1>", 404)
    page = max(1, req.int_arg("page", 1))
    now = env.world.now()
    posts = env.world.posts("reviews", product)
    chunk = posts[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    name = env.world.product_name(product)
    microdata = req.arg("markup") == "microdata"
    more = page * PAGE_SIZE < len(posts)
    nxt = f'/shop/{quote(product)}?page={page + 1}{"&markup=microdata" if microdata else ""}'
    head = f'<link rel="next" href="{nxt}">' if more else ""
    scope = ' itemprop="review" itemscope itemtype="https://schema.org/Review"' if microdata else ""

    def prop(name: str) -> str:
        return f' itemprop="{name}"' if microdata else ""

    cards = "".join(
        f'<div class="c-{p.id % 97}"{scope}><b{prop("author")}>{escape(p.author.name)}</b>'
        f'<span{prop("datePublished")}>{printed(p, now)}</span>'
        + (f'<span itemprop="reviewRating" itemscope itemtype="https://schema.org/Rating">'
           f'<meta itemprop="ratingValue" content="{p.rating}"><meta itemprop="bestRating" content="5"></span>'
           if microdata else f"<i>{'★' * p.rating}</i>")
        + f'<p{prop("reviewBody")}>{escape(p.text)}</p></div>' for p in chunk)
    if microdata:
        body = (f'<div itemscope itemtype="https://schema.org/Product"><h1 itemprop="name">{escape(name)}</h1>'
                f"{cards}</div>")
    else:
        avg = round(sum(p.rating for p in posts) / len(posts), 1) if posts else 0
        data = {"@context": "https://schema.org", "@type": "Product", "name": name,
                "aggregateRating": {"@type": "AggregateRating", "ratingValue": avg, "reviewCount": len(posts)},
                "review": [{"@type": "Review", "@id": f"#rv-{p.id}",
                            "author": {"@type": "Person", "name": p.author.name},
                            "datePublished": p.created.astimezone(now.tzinfo).date().isoformat(),
                            "reviewBody": p.text,
                            "reviewRating": {"@type": "Rating", "ratingValue": p.rating, "bestRating": 5}}
                           for p in chunk]}
        head += ('<script type="application/ld+json">' + json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
                 + "</script>")
        body = f"<h1>{escape(name)}</h1>{cards}"
    return html_response(f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(name)}</title>{head}</head>'
                         f"<body>{body}</body></html>")


PREFIX_ROUTES = {"/reviews/": review_page, "/shop/": shop_page}
