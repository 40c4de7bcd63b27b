"""`groundswell search QUERY`: find mentions the way a PR team asks for them."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

import click

from core import clock, display
from core.exits import ExitStatus
from core.textfold import fold_width
from core.timefmt import people_time
from core.times import parse_time as parse_stored
from groundswell.cli.common import emit_json, exit_statuses, fail, handles_store_errors, load_config
from store import search as searching
from store.client import make_client

SENTIMENTS = ("positive", "neutral", "negative")


def _snippet(text: str, query: str, width: int = 100) -> str:
    flat = display.line(text)
    needle = fold_width(query).strip().strip('"')
    at = flat.lower().find(needle.lower()) if needle and not searching.is_lucene(query) else -1
    start = max(0, at - width // 3) if at >= 0 else 0
    out = flat[start : start + width]
    return ("…" if start else "") + out + ("…" if start + width < len(flat) else "")


def _head(hit: dict[str, Any], tz: tzinfo | None = None) -> list[str]:
    """The cells of a hit's first line; every crawled field through core.display (no escapes, bidi, newlines)."""
    show = display.line
    when = people_time(parse_stored(hit.get("published_at")), tz)
    sentiment = (hit.get("sentiment") or {}).get("label") or "-"
    score = (hit.get("sentiment") or {}).get("score")
    mood = f"{show(sentiment)}({score:.2f})" if isinstance(score, float) else show(sentiment)
    eng = f"♥{hit.get('likes', 0)} ↻{hit.get('reposts', 0)} ✉{hit.get('comments', 0)}"
    cells = [when, show(hit.get("platform", "?"), 20), f"@{show(hit.get('author'), 30) or '?'}", eng, mood,
             f"[{show(hit['brand'], 40)}]" if hit.get("brand") else ""]
    complaint = hit.get("complaint") or {}
    categories = [show(c, 40) for c in complaint.get("categories") or () if "." not in str(c)]
    if categories:
        cells.append(f"{'complaint' if complaint.get('is_complaint') else 'mentions'}: {', '.join(categories)}")
    return cells


def _body(hit: dict[str, Any], query: str) -> str:
    body = _snippet(hit.get("text") or "", query)
    url = f"\n    {display.line(hit['url'], 300)}" if hit.get("url") else ""
    return f"    {body}{url}"


def _lines(hits: list[dict[str, Any]], query: str, tz: tzinfo | None = None) -> list[str]:
    """Each hit as its head line (columns aligned by display width across hits, CJK names included), then its
    snippet and link, indented."""
    heads = display.table([_head(h, tz) for h in hits])
    return [f"{head}\n{_body(hit, query)}" for head, hit in zip(heads, hits, strict=True)]


@exit_statuses(store=True, PARTIAL="some shards failed: the results shown are partial",
               USAGE="bad options or a query that does not parse")
@click.command()
@click.argument("query", nargs=-1)
@click.option("--since", help="From this time: ISO 8601 (2026-11-24, 2026-11-24T10:00+08:00; without an offset in the "
              "configured timezone) or relative (24h, 7d).")
@click.option("--until", help="Before this time (same forms as --since).")
@click.option("--platform", "platforms", multiple=True, help="Only this platform (repeatable).")
@click.option("--brand", "brands", multiple=True, help="Only this brand (repeatable).")
@click.option("--sentiment", type=click.Choice(SENTIMENTS), help="Only mentions with this sentiment label.")
@click.option("--category", "categories", multiple=True,
              help="Only mentions tagged with this complaint category, e.g. logistics or logistics.late_delivery.")
@click.option("--complaints", "complaints_only", is_flag=True, help="Only mentions flagged as complaints.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000), help="Most results shown.")
@click.option("--sort", type=click.Choice(list(searching.SORTS)), default="newest", show_default=True,
              help="Order of the results.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per line: the stored mention (times RFC 3339 UTC) and its _index and _id, without "
              "index-only fields (fingerprints, phrase segments) or its engagement history.")
@click.option("--count", "only_count", is_flag=True, help="Print only the number of matches.")
@click.pass_context
@handles_store_errors
def search(
    ctx: click.Context,
    query: tuple[str, ...],
    since: str | None,
    until: str | None,
    platforms: tuple[str, ...],
    brands: tuple[str, ...],
    sentiment: str | None,
    categories: tuple[str, ...],
    complaints_only: bool,
    limit: int,
    sort: str,
    as_json: bool,
    only_count: bool,
) -> None:
    """Search mentions: a plain phrase (Chinese or English) finds exactly the mentions containing it;
    Lucene syntax works too: AND/OR/NOT, platform:weibo, "quoted phrases", brand:小米. Newest first; finding
    nothing is not an error."""
    app = load_config(ctx)
    cfg = app.elasticsearch
    text = " ".join(query)
    now = clock.now()
    try:
        req = searching.SearchRequest(
            query=text,
            since=searching.parse_time(since, "--since", now, app.zone) if since else None,
            until=searching.parse_time(until, "--until", now, app.zone) if until else None,
            platforms=platforms,
            brands=brands,
            sentiment=sentiment,
            categories=categories,
            complaints_only=complaints_only,
            limit=limit,
            sort=sort,
        )
    except searching.QueryError as exc:
        fail(str(exc), code=ExitStatus.USAGE)
    es = make_client(cfg)
    try:
        found = (searching.tally if only_count else searching.find)(es, cfg.index_prefix, req)
    except searching.QueryError as exc:
        fail(f"{exc}\n(a plain phrase needs no syntax; in Lucene syntax quote it, e.g. '\"a (b\"')",
             code=ExitStatus.USAGE)
    finally:
        es.close()
    if only_count:
        click.echo(found.total)
    elif as_json:
        for hit in found.hits:  # the mention as stored, with `_index` and `_id` to fetch it whole
            emit_json(hit)
    else:
        for block in _lines(found.hits, text, app.zone):
            click.echo(block)
        click.echo(f"-- {len(found.hits)} of {found.total} matching mentions", err=True)
    if found.failures:
        fail(f"{len(found.failures)} shard(s) failed, so these results are partial: "
             + "; ".join(display.line(f, 300) for f in found.failures[:3]), code=ExitStatus.PARTIAL)
