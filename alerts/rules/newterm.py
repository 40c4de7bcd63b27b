"""New complaint term: a complaint phrase (complaint.phrases, from the taxonomy) that many authors of a brand use
now and that was (almost) never used for that brand in the baseline period. Two aggregations, both bounded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from alerts.model import Match, iso, parse_time
from alerts.rules.common import (
    NEGATIVE,
    brand_filter,
    dominant_cluster,
    lucene_and,
    mentions,
    published_between,
    quote,
    search,
    top_mentions,
)
from alerts.rules.context import EvalContext
from alerts.rules.spec import NewTermRule

PHRASES_PER_BRAND = 50


def _history_start(ctx: EvalContext) -> Any:
    res = search(
        ctx.es,
        mentions(ctx.prefix),
        size=1,
        query=published_between(None, ctx.at),
        sort=[{"published_at": "asc"}],
        source=["published_at"],
    )
    hits = res["hits"]["hits"]
    return parse_time(hits[0]["_source"]["published_at"]) if hits else None


def evaluate(rule: NewTermRule, ctx: EvalContext) -> list[Match]:
    oldest = _history_start(ctx)
    if oldest is None or ctx.at - oldest < timedelta(hours=rule.min_history_hours):
        return []  # everything looks new in a young index
    win = timedelta(minutes=rule.window_minutes)
    brands = [rule.brand] if rule.brand else list(ctx.brands)
    complaint = {"bool": {"should": [NEGATIVE, {"term": {"complaint.is_complaint": True}}], "minimum_should_match": 1}}
    now = search(
        ctx.es,
        mentions(ctx.prefix),
        size=0,
        query={"bool": {"filter": [published_between(ctx.at - win, ctx.at), complaint, *brand_filter(brands)]}},
        aggs={
            "brands": {
                "terms": {"field": "brand", "size": 1000},
                "aggs": {
                    "phrases": {
                        "terms": {
                            "field": "complaint.phrases",
                            "size": PHRASES_PER_BRAND,
                            "min_doc_count": rule.min_authors,
                        },
                        "aggs": {"authors": {"cardinality": {"field": "author_id"}}},
                    }
                },
            }
        },
    )
    rising: dict[str, dict[str, tuple[int, int]]] = {}
    for b in now.get("aggregations", {}).get("brands", {}).get("buckets", []):
        for p in b["phrases"]["buckets"]:
            if p["authors"]["value"] >= rule.min_authors:
                rising.setdefault(b["key"], {})[p["key"]] = (p["doc_count"], p["authors"]["value"])
    if not rising:
        return []
    phrases = sorted({p for per in rising.values() for p in per})
    before = search(
        ctx.es,
        mentions(ctx.prefix),
        size=0,
        query={
            "bool": {
                "filter": [
                    {
                        "range": {
                            "published_at": {
                                "gte": iso(ctx.at - timedelta(days=rule.baseline_days)),
                                "lt": iso(ctx.at - win),
                            }
                        }
                    },
                    {"terms": {"complaint.phrases": phrases}},
                    {"terms": {"brand": sorted(rising)}},
                ]
            }
        },
        aggs={
            "brands": {
                "terms": {"field": "brand", "size": 1000},
                "aggs": {
                    "phrases": {"terms": {"field": "complaint.phrases", "include": phrases, "size": len(phrases)}}
                },
            }
        },
    )
    seen = {
        (b["key"], p["key"]): p["doc_count"]
        for b in before.get("aggregations", {}).get("brands", {}).get("buckets", [])
        for p in b["phrases"]["buckets"]
    }
    out: list[Match] = []
    for brand, per in rising.items():
        for phrase, (count, authors) in per.items():
            baseline = seen.get((brand, phrase), 0)
            if baseline > rule.max_baseline:
                continue
            severity = rule.tiers.level(float(authors))
            if severity is None:
                continue
            filters = [
                published_between(ctx.at - win, ctx.at),
                {"term": {"brand": brand}},
                {"term": {"complaint.phrases": phrase}},
            ]
            cluster, cluster_share, category = dominant_cluster(ctx.es, ctx.prefix, {"bool": {"filter": filters}})
            out.append(
                Match(
                    rule=rule.name,
                    rule_type="new_term",
                    severity=severity,
                    at=ctx.at,
                    summary=(
                        f"{brand}: new complaint term {phrase!r} used by {authors} authors in the last "
                        f"{rule.window_minutes} min ({baseline} times in the previous {rule.baseline_days} days)"
                    ),
                    brand=brand,
                    category=category,
                    cluster_id=cluster,
                    term=phrase,
                    query=lucene_and(f"brand:{quote(brand)}", f"complaint.phrases:{quote(phrase)}"),
                    window_start=ctx.at - win,
                    mention_ids=top_mentions(ctx.es, ctx.prefix, {"bool": {"filter": filters}}, ctx.at),
                    evidence={
                        "score": float(authors),
                        "mentions": float(count),
                        "authors": float(authors),
                        "baseline_mentions": float(baseline),
                        "cluster_share": round(cluster_share, 3),
                    },
                )
            )
    return out
