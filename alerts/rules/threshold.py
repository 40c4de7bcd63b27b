"""Threshold: mentions matching a query (and a brand) in the window; score = how many."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from alerts.model import Match
from alerts.rules.common import lucene_and, mentions, published_between, quote, search, top_mentions
from alerts.rules.context import EvalContext
from alerts.rules.spec import ThresholdRule
from groundswell.store.search import SearchRequest, build_query, fold, is_lucene


def _text_query(query: str) -> dict[str, Any]:
    """The same reading of a query as `groundswell search`: a plain phrase, or Lucene."""
    built = build_query(SearchRequest(query=query))
    return {"bool": {"must": built["bool"]["must"]}}


def lucene_of(query: str) -> str:
    q = fold(query)
    return q if is_lucene(q) or q == "*" else quote(q)


def evaluate(rule: ThresholdRule, ctx: EvalContext) -> list[Match]:
    start = ctx.at - timedelta(minutes=rule.window_minutes)
    filters: list[dict[str, Any]] = [published_between(start, ctx.at), _text_query(rule.query)]
    if rule.brand:
        filters.append({"term": {"brand": rule.brand}})
    if rule.sentiment:
        filters.append({"term": {"sentiment.label": rule.sentiment}})
    query = {"bool": {"filter": filters}}
    res = search(
        ctx.es,
        mentions(ctx.prefix),
        size=0,
        track_total_hits=True,
        query=query,
        aggs={"authors": {"cardinality": {"field": "author_id"}}},
    )
    count = int(res["hits"]["total"]["value"])
    severity = rule.levels.level(float(count))
    if severity is None:
        return []
    authors = int(res.get("aggregations", {}).get("authors", {}).get("value", 0))
    where = f" for {rule.brand}" if rule.brand else ""
    return [
        Match(
            rule=rule.name,
            rule_type="threshold",
            severity=severity,
            at=ctx.at,
            summary=f"{count} mentions of {rule.query}{where} in the last {rule.window_minutes} min",
            brand=rule.brand,
            query=lucene_and(
                lucene_of(rule.query),
                f"brand:{quote(rule.brand)}" if rule.brand else None,
                f"sentiment.label:{rule.sentiment}" if rule.sentiment else None,
            ),
            window_start=start,
            mention_ids=top_mentions(ctx.es, ctx.prefix, query, ctx.at),
            evidence={"score": float(count), "mentions": float(count), "authors": float(authors)},
        )
    ]
