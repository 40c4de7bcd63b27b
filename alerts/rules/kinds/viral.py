"""Viral spread: a negative post, or a cluster of its copies, whose engagement grows fast, that many authors copy,
that reaches other platforms, posted by accounts with reach.

Bounded at any index size: candidates come from one aggregation (clusters with the most negative mentions in the
window) plus the negative posts of the biggest accounts; only their members are read, with just the fields needed.
Engagement is taken as of `at` from the engagement history, client-side: `query` reads the members, `judge` groups
them by cluster and scores each group without touching the store."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from alerts.model import Match
from alerts.rules.base import EvalContext, RuleBase, RuleKind, Tiers
from alerts.rules.common import (
    NEGATIVE,
    brand_filter,
    engagement_at,
    engagement_growth,
    known_between,
    mentions,
    quote,
    search,
)
from core.times import parse_time
from store import mapping

MAX_MEMBERS = 10_000
FIELDS = [
    "mention_id",
    "cluster_id",
    "brand",
    "platform",
    "author",
    "author_id",
    "author_key",
    "author_followers",
    "published_at",
    "repost_of",
    "sentiment.label",
    "engagement_history",
]
MIN_GROWTH_HOURS = 0.25  # a younger cluster's growth is judged over this much time


class ViralSpreadRule(RuleBase):
    """A negative post, or a cluster of its copies, spreading: score = engagement growth + copying authors +
    platforms reached + reach of the posters (each term explained by its unit)."""

    type: Literal["viral_spread"] = Field(default="viral_spread", description="viral_spread")
    brand: str | None = Field(default=None, description="Only this brand (unset: every brand).")
    window_minutes: int = Field(default=360, gt=0, description="Mentions of a cluster published this recently count.")
    growth_minutes: int = Field(default=60, gt=0, description="Growth is measured over this much time before the "
        "instant evaluated.")
    rate_unit: float = Field(default=250.0, gt=0, description="Reposts and comments per hour worth one point.")
    authors_unit: float = Field(default=25.0, gt=0, description="Distinct authors posting copies worth one point.")
    platform_points: float = Field(default=1.0, ge=0, description="Points per platform reached beyond the first.")
    reach_unit: float = Field(default=10_000.0, gt=0, description="One point per tenfold of the posters' followers "
        "above this (3 at most).")
    min_mentions: int = Field(default=1, ge=1, description="A cluster with fewer mentions is not judged.")
    max_candidates: int = Field(default=200, gt=0, le=5000, description="Clusters and single posts looked at per "
        "evaluation, those of the most followed posters first.")
    tiers: Tiers = Field(default=Tiers(notice=4, urgent=8, crisis=16), description="Scores per severity.")


def _key(doc: Mapping[str, Any]) -> str:
    return str(doc.get("cluster_id") or doc["mention_id"])


def _candidates(rule: ViralSpreadRule, ctx: EvalContext) -> tuple[list[str], list[str]]:
    """(cluster ids, mention ids of unclustered posts) worth a closer look."""
    brands = [rule.brand] if rule.brand else list(ctx.brands)
    query = {
        "bool": {
            "filter": [
                known_between(ctx.at - timedelta(minutes=rule.window_minutes), ctx.at),
                NEGATIVE,
                *brand_filter(brands),
            ]
        }
    }
    res = search(
        ctx.es,
        mentions(ctx.prefix),
        query=query,
        size=rule.max_candidates,
        sort=[{"author_followers": {"order": "desc", "missing": "_last"}}, {"published_at": "asc"}],
        source=["mention_id", "cluster_id"],
        aggs={"clusters": {"terms": {"field": "cluster_id", "size": rule.max_candidates, "min_doc_count": 2}}},
    )
    clusters = {b["key"] for b in res.get("aggregations", {}).get("clusters", {}).get("buckets", [])}
    singles: set[str] = set()
    for hit in res["hits"]["hits"]:
        src = hit["_source"]
        if src.get("cluster_id"):
            clusters.add(src["cluster_id"])
        else:
            singles.add(src["mention_id"])
    return sorted(clusters), sorted(singles)


def _members(rule: ViralSpreadRule, ctx: EvalContext, clusters: list[str], singles: list[str]) -> list[dict[str, Any]]:
    should: list[dict[str, Any]] = []
    if clusters:
        should.append({"terms": {"cluster_id": clusters}})
    if singles:
        should.append({"terms": {"mention_id": singles}})
    if not should:
        return []
    res = search(
        ctx.es,
        mentions(ctx.prefix),
        query={
            "bool": {
                "filter": [known_between(ctx.at - timedelta(minutes=rule.window_minutes), ctx.at)],
                "should": should,
                "minimum_should_match": 1,
            }
        },
        size=MAX_MEMBERS,
        sort=[{"published_at": "asc"}],
        source=FIELDS,
    )
    return [h["_source"] for h in res["hits"]["hits"]]


def query(rule: ViralSpreadRule, ctx: EvalContext) -> list[dict[str, Any]]:
    """The candidates' members published in the window (FIELDS of each), oldest first."""
    clusters, singles = _candidates(rule, ctx)
    return _members(rule, ctx, clusters, singles)


def judge(rule: ViralSpreadRule, members: list[dict[str, Any]], at: datetime) -> list[Match]:
    """Each cluster (or single post) of the members scored as of `at`; highest score first."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for doc in members:
        groups.setdefault(_key(doc), []).append(doc)
    out: list[Match] = []
    for key, docs in groups.items():
        match = _judge_group(rule, at, key, docs)
        if match is not None:
            out.append(match)
    out.sort(key=lambda m: -m.evidence.get("score", 0.0))
    return out


def _judge_group(rule: ViralSpreadRule, at: datetime, key: str, docs: list[dict[str, Any]]) -> Match | None:
    negative = sum(1 for d in docs if (d.get("sentiment") or {}).get("label") == "negative")
    if len(docs) < rule.min_mentions or negative * 2 < len(docs):
        return None  # copies of a post that is mostly not negative
    first = min(t for d in docs if (t := parse_time(d.get("published_at"))) is not None)
    age_h = max((at - first).total_seconds() / 3600, 0.0)
    span_h = max(min(rule.growth_minutes / 60, age_h), MIN_GROWTH_HOURS)
    since = at - timedelta(hours=span_h)
    reposts_growth = comments_growth = 0
    followers: dict[str, int] = {}  # per author (a post naming nobody: its own reach, but no author)
    authors: set[str] = set()
    for d in docs:
        _, r, c = engagement_growth(d, since, at)
        reposts_growth += max(r, 0)
        comments_growth += max(c, 0)
        who = d.get("author_key") or mapping.author_key(str(d.get("platform")), d.get("author_id"), d.get("author"))
        if who:
            authors.add(who)
        poster = who or f"mention:{d['mention_id']}"
        followers[poster] = max(followers.get(poster, 0), int(d.get("author_followers") or 0))
    platforms = {d.get("platform") for d in docs}
    reach = sum(followers.values())
    reposts_per_hour, comments_per_hour = reposts_growth / span_h, comments_growth / span_h
    reach_points = min(3.0, max(0.0, math.log10(reach / rule.reach_unit))) if reach > 0 else 0.0
    score = (
        (reposts_per_hour + comments_per_hour) / rule.rate_unit
        + len(authors) / rule.authors_unit
        + (len(platforms) - 1) * rule.platform_points
        + reach_points
    )
    severity = rule.tiers.level(score)
    if severity is None:
        return None
    ranked = _ranked(docs, at)
    brand = Counter(d.get("brand") for d in docs if d.get("brand")).most_common(1)
    brand_name = brand[0][0] if brand else None
    field = "cluster_id" if any(d.get("cluster_id") == key for d in docs) else "mention_id"
    now_counts = [engagement_at(d, at) for d in docs]
    evidence = {
        "score": round(score, 2),
        "mentions": float(len(docs)),
        "authors": float(len(authors)),
        "platforms": float(len(platforms)),
        "reposts": float(sum(c[1] for c in now_counts)),
        "comments": float(sum(c[2] for c in now_counts)),
        "likes": float(sum(c[0] for c in now_counts)),
        "reposts_per_hour": round(reposts_per_hour, 1),
        "comments_per_hour": round(comments_per_hour, 1),
        "reach": float(reach),
        "age_minutes": round(age_h * 60, 1),
        "negative_share": round(negative / len(docs), 3),
    }
    summary = (
        f"{brand_name or 'unknown brand'}: negative post spreading, {len(docs)} mentions by {len(authors)} authors "
        f"on {len(platforms)} platform{'s' if len(platforms) > 1 else ''}, "
        f"+{reposts_per_hour + comments_per_hour:,.0f} reposts/comments per hour, reach {reach:,}"
    )
    return Match(
        rule=rule.name,
        rule_type="viral_spread",
        severity=severity,
        at=at,
        summary=summary,
        brand=brand_name,
        cluster_id=key,
        query=f"{field}:{quote(key)}",
        window_start=first,
        mention_ids=ranked,
        evidence=evidence,
    )


def _ranked(docs: list[dict[str, Any]], at: datetime, limit: int = 20) -> tuple[str, ...]:
    """Most engaging as of `at` first; the first is the complaint itself (an original, not a repost)."""

    def rank(d: Mapping[str, Any]) -> tuple[int, int, str]:
        return (-sum(engagement_at(d, at)), -int(d.get("author_followers") or 0), str(d.get("published_at")))

    ordered = sorted(docs, key=rank)
    originals = [d for d in ordered if not d.get("repost_of")]
    if originals and ordered[0] is not originals[0]:
        ordered.remove(originals[0])
        ordered.insert(0, originals[0])
    return tuple(d["mention_id"] for d in ordered[:limit])


KIND = RuleKind(spec=ViralSpreadRule, query=query, judge=judge)
