"""Mention search for PR teams: the query language and filters of `groundswell search` (store.search), results
with their links, sentiment, tags and cluster, and a CSV export of a result."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request
from werkzeug.datastructures import MultiDict

from core import clock
from core.config import Config
from core.times import parse_time as parse_stored
from store import search as searching

bp = Blueprint("search", __name__)
SENTIMENTS = ("positive", "neutral", "negative")
PAGE_MAX = 200
CSV_MAX = 10_000
CSV_COLUMNS = ("published_at", "platform", "author", "author_followers", "brand", "sentiment", "score",
               "complaint", "categories", "repeat", "cluster_id", "likes", "reposts", "comments", "url", "text",
               "mention_id")


def _cfg() -> Config[Any]:
    cfg: Config[Any] = current_app.config["GS_CONFIG"]
    return cfg


def _request(args: MultiDict[str, str], limit: int) -> searching.SearchRequest:
    """The same request `groundswell search` builds from its options; QueryError names the bad field."""
    now = clock.now()
    zone = _cfg().zone
    sort = args.get("sort") or "newest"
    if sort not in searching.SORTS:
        raise searching.QueryError(f"sort: expected one of {', '.join(searching.SORTS)}, got {sort!r}")
    sentiment = args.get("sentiment") or None
    if sentiment is not None and sentiment not in SENTIMENTS:
        raise searching.QueryError(f"sentiment: expected one of {', '.join(SENTIMENTS)}, got {sentiment!r}")
    return searching.SearchRequest(
        query=(args.get("q") or "").strip(),
        since=searching.parse_time(args["since"], "since", now, zone) if args.get("since") else None,
        until=searching.parse_time(args["until"], "until", now, zone) if args.get("until") else None,
        platforms=tuple(p for p in args.getlist("platform") if p),
        brands=tuple(b for b in args.getlist("brand") if b),
        sentiment=sentiment,
        categories=tuple(c for c in args.getlist("category") if c),
        complaints_only=args.get("complaints") == "1",
        limit=limit,
        sort=sort,
    )


def _run(limit: int) -> tuple[dict[str, Any], int, list[dict[str, Any]], str | None]:
    form = {k: (request.args.get(k) or "") for k in ("q", "since", "until", "platform", "brand", "sentiment",
                                                   "category", "complaints", "sort")}
    if not request.args:
        return form, 0, [], None
    try:
        req = _request(request.args, limit)
        found = searching.find(current_app.config["GS_ES"], _cfg().elasticsearch.index_prefix, req)
    except searching.QueryError as exc:  # a bad option, or Lucene syntax Elasticsearch could not parse
        return form, 0, [], str(exc)
    for h in found.hits:
        h["_published"] = parse_stored(h.get("published_at"))
    partial = (f"{len(found.failures)} shard(s) failed, so these results are partial: {found.failures[0]}"
               if found.failures else None)
    return form, found.total, found.hits, partial


@bp.get("/search")
def page() -> Any:
    raw = request.args.get("limit") or ""
    limit = min(max(int(raw), 1), PAGE_MAX) if raw.isdigit() else 50
    form, total, hits, error = _run(limit)
    return render_template("search.html", form=form, total=total, hits=hits, error=error, searched=bool(request.args),
                           sentiments=SENTIMENTS, sorts=list(searching.SORTS), brands=[b.name for b in _cfg().brands],
                           export_args=request.query_string.decode()), (400 if error else 200)


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text: a crawled "=HYPERLINK(...)" must not become a formula."""
    text = "" if value is None else str(value)
    text = " ".join(text.split()) if "\n" in text or "\r" in text else text
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/search.csv")
def export() -> Any:
    _form, total, hits, error = _run(CSV_MAX)
    if error:
        return render_template("message.html", title="The search has an error", message=error), 400
    out = io.StringIO()
    out.write("\ufeff")  # so spreadsheet programs read the UTF-8 (Chinese) correctly
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for h in hits:
        sentiment = h.get("sentiment") or {}
        complaint = h.get("complaint") or {}
        writer.writerow([_cell(v) for v in (
            h.get("published_at"), h.get("platform"), h.get("author"), h.get("author_followers"), h.get("brand"),
            sentiment.get("label"), sentiment.get("score"), complaint.get("is_complaint"),
            " ".join(complaint.get("categories") or ()), complaint.get("repeat"), h.get("cluster_id"),
            h.get("likes"), h.get("reposts"), h.get("comments"), h.get("url"), h.get("text"), h.get("_id"),
        )])
    stamp = clock.now().strftime("%Y%m%d-%H%M")
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="groundswell-mentions-{stamp}.csv"',
        "X-Groundswell-Total": str(total),
    })
