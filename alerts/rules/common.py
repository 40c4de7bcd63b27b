"""What every rule type shares: point-in-time filters, engagement as of an instant, Lucene quoting, and the
`explain` steps that pick the posts a match quotes and the complaint cluster that dominates it."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from alerts.model import Match
from core.times import iso, parse_time
from store import mapping

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from alerts.rules.base import EvalContext

NEGATIVE: dict[str, Any] = {"term": {"sentiment.label": "negative"}}
# distinct authors, the one way every rule and email counts them (store.mapping.author_key)
AUTHORS: dict[str, Any] = {"cardinality": {"field": "author_key", "precision_threshold": 1000}}
MS = timedelta(milliseconds=1)


def seen_by(at: datetime) -> dict[str, Any]:
    """Mentions Groundswell had seen by `at`: a mention exists for a rule only from its first crawl
    (first_seen_at), so a backtest or `alerts run --at` sees what the service saw then, not what was crawled
    later about that time."""
    return {"range": {"first_seen_at": {"lte": iso(at)}}}


def known_between(start: datetime | None, at: datetime) -> dict[str, Any]:
    """Mentions published in [start, at] and first seen by `at`."""
    rng: dict[str, str] = {"lte": iso(at)}
    if start is not None:
        rng["gte"] = iso(start)
    return {"bool": {"filter": [{"range": {"published_at": rng}}, seen_by(at)]}}


def brand_filter(brands: Iterable[str]) -> list[dict[str, Any]]:
    names = sorted(set(brands))
    return [{"terms": {"brand": names}}] if names else []


class RuleQueryError(RuntimeError):
    """The store could not answer a rule's query in full (it refused the query, or some shards failed): the rule
    cannot judge, which is an error to report, never an answer of "nothing"."""


def complete(res: Mapping[str, Any], what: str = "the search") -> Mapping[str, Any]:
    """`res` when every shard answered in time; RuleQueryError naming the first failure otherwise (a partial
    answer would undercount, and an undercount looks like calm)."""
    shards = res.get("_shards") or {}
    if shards.get("failed"):
        failures = shards.get("failures") or [{}]
        reason = (failures[0].get("reason") or {}) if isinstance(failures[0], Mapping) else {}
        raise RuleQueryError(
            f"{what} failed on {shards['failed']} of {shards.get('total', '?')} shards: "
            f"{reason.get('type', 'error')}: {reason.get('reason', 'no reason given')}"
        )
    if res.get("timed_out"):
        raise RuleQueryError(f"{what} timed out before every shard answered")
    return res


def search(es: Elasticsearch, index: str, **body: Any) -> Mapping[str, Any]:
    """A search that finds nothing (instead of failing) when no mention index exists yet, and fails (instead of
    answering in part) when a shard cannot run it."""
    res: Mapping[str, Any] = es.search(
        index=index, ignore_unavailable=True, allow_no_indices=True, allow_partial_search_results=False, **body
    ).body
    return complete(res)


def mentions(prefix: str) -> str:
    return mapping.alias(prefix)


def quote(value: str) -> str:
    """A Lucene phrase for a keyword value."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lucene_and(*parts: str | None) -> str:
    kept = [p for p in parts if p]
    return " AND ".join(f"({p})" if " OR " in p else p for p in kept)


Counts = tuple[int, int, int]  # likes, reposts, comments


def _history(doc: Mapping[str, Any], at: datetime) -> list[tuple[datetime, Counts]]:
    """Observations crawled by `at`, oldest first: later ones did not exist yet at `at`."""
    out: list[tuple[datetime, Counts]] = []
    for o in doc.get("engagement_history") or []:
        t = parse_time(o.get("crawled_at"))
        if t is None or t > at:
            continue
        out.append((t, (int(o.get("likes") or 0), int(o.get("reposts") or 0), int(o.get("comments") or 0))))
    out.sort(key=lambda x: x[0])
    return out


def engagement_at(doc: Mapping[str, Any], at: datetime) -> Counts:
    """Counts as of `at`: the latest observation crawled by then (nothing seen yet: zeros)."""
    hist = _history(doc, at)
    return hist[-1][1] if hist else (0, 0, 0)


def engagement_growth(doc: Mapping[str, Any], since: datetime, at: datetime) -> Counts:
    """How much the counts grew between `since` and `at`, knowing only what was crawled by `at`.

    The post had nothing when it was published; between two observations counts are interpolated linearly, so a
    post first crawled late is not credited with all its past engagement as sudden growth."""
    published = parse_time(doc.get("published_at"))
    points: list[tuple[datetime, Counts]] = []
    if published is not None and published <= at:
        points.append((published, (0, 0, 0)))
    points.extend(h for h in _history(doc, at) if published is None or h[0] >= published)
    if not points:
        return (0, 0, 0)
    now = points[-1][1]
    before = _value_at(points, since)
    return (now[0] - before[0], now[1] - before[1], now[2] - before[2])


def _value_at(points: Sequence[tuple[datetime, Counts]], t: datetime) -> Counts:
    times = [p[0] for p in points]
    i = bisect.bisect_right(times, t)
    if i == 0:
        return (0, 0, 0)  # not published yet at t
    if i == len(points):
        return points[-1][1]
    (t0, c0), (t1, c1) = points[i - 1], points[i]
    span = (t1 - t0).total_seconds()
    f = (t - t0).total_seconds() / span if span > 0 else 1.0
    return (
        round(c0[0] + f * (c1[0] - c0[0])),
        round(c0[1] + f * (c1[1] - c0[1])),
        round(c0[2] + f * (c1[2] - c0[2])),
    )


def top_mentions(
    es: Elasticsearch, prefix: str, query: dict[str, Any], at: datetime, limit: int = 10
) -> tuple[str, ...]:
    """The mentions a match should quote, most engaging as of `at` first (ties: the bigger account, earlier)."""
    res = search(
        es,
        mentions(prefix),
        query=query,
        size=min(200, limit * 10),
        sort=[{"author_followers": {"order": "desc", "missing": "_last"}}, {"published_at": "asc"}],
        source=["mention_id", "published_at", "author_followers", "engagement_history"],
    )
    docs = [h["_source"] for h in res["hits"]["hits"]]
    docs.sort(key=lambda d: (-sum(engagement_at(d, at)), -(d.get("author_followers") or 0), d.get("published_at")))
    return tuple(d["mention_id"] for d in docs[:limit])


DOMINANT_SHARE = 0.5  # a cluster holding at least this share of a match's mentions makes it that complaint's match


def dominant_cluster(
    es: Elasticsearch, prefix: str, query: dict[str, Any], share: float = DOMINANT_SHARE
) -> tuple[str | None, float, str | None]:
    """(cluster id, its share, top-level category) of the mentions a brand-level match counted.

    When one complaint and its copies make up most of a surge or a new term, the match is about that complaint:
    carrying its cluster id lets the incident book fold it into the complaint's incident instead of opening
    another one."""
    res = search(
        es,
        mentions(prefix),
        size=0,
        query=query,
        track_total_hits=True,
        aggs={
            "clusters": {"terms": {"field": "cluster_id", "size": 1}},
            "cats": {"terms": {"field": "complaint.categories", "include": "[^.]+", "size": 1}},
        },
    )
    total = int(res["hits"]["total"]["value"])
    aggs = res.get("aggregations", {})
    top = (aggs.get("clusters", {}).get("buckets") or [None])[0]
    cat = (aggs.get("cats", {}).get("buckets") or [None])[0]
    category = cat["key"] if cat else None
    if not top or not total:
        return None, 0.0, category
    part = top["doc_count"] / total
    return (top["key"] if part >= share else None), part, category


def top_posts(match: Match, ctx: EvalContext) -> Match:
    """`explain` for matches over a set of mentions: quote its most engaging posts as of `at`."""
    if match.scope is None or match.mention_ids:
        return match
    return replace(match, mention_ids=top_mentions(ctx.es, ctx.prefix, dict(match.scope), ctx.at))


def _with_dominant(match: Match, ctx: EvalContext, *, category: bool) -> Match:
    if match.scope is None:
        return match
    cluster, share, top_category = dominant_cluster(ctx.es, ctx.prefix, dict(match.scope))
    explained = replace(
        match,
        cluster_id=match.cluster_id or cluster,
        category=(match.category or top_category) if category else match.category,
        evidence={**match.evidence, "cluster_share": round(share, 3)},
    )
    return top_posts(explained, ctx)


def cluster_and_posts(match: Match, ctx: EvalContext) -> Match:
    """`explain` for brand-level matches: when one complaint's copies make up most of it, the match carries that
    cluster (and so joins that complaint's incident); then its top posts."""
    return _with_dominant(match, ctx, category=False)


def cluster_category_and_posts(match: Match, ctx: EvalContext) -> Match:
    """As cluster_and_posts, plus the matched mentions' top complaint category when the match names none."""
    return _with_dominant(match, ctx, category=True)
