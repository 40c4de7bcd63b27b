"""New complaint term: a complaint phrase (complaint.phrases, from the taxonomy) that many authors of a brand use
now and that was (almost) never used for that brand in the baseline period. Two aggregations, both bounded:
`query` finds the phrases many authors use now and counts them in the baseline; `judge` keeps the new ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from alerts.model import Match
from alerts.rules.base import EvalContext, RuleBase, RuleKind, Tiers
from alerts.rules.common import (
    AUTHORS,
    NEGATIVE,
    brand_filter,
    cluster_category_and_posts,
    known_between,
    lucene_and,
    mentions,
    quote,
    search,
    seen_by,
)
from core.times import iso, parse_time

PHRASES_PER_BRAND = 50


class NewTermRule(RuleBase):
    """A complaint phrase never (or rarely) seen in the baseline period that many authors use now:
    score = distinct authors using it in the window."""

    type: Literal["new_term"] = Field(default="new_term", description="new_term")
    brand: str | None = Field(default=None, description="Only this brand (unset: every brand).")
    window_minutes: int = Field(default=120, gt=0, description="Complaint phrases used this recently are looked at.")
    baseline_days: int = Field(default=7, ge=1, le=60, description="The period before the window in which the phrase "
        "must have been (almost) unused.")
    min_history_hours: float = Field(default=48.0, ge=0, description="Judge nothing until the index holds this much "
        "history (in a young index everything looks new).")
    max_baseline: int = Field(default=2, ge=0, description="Mentions of the phrase allowed in the baseline period.")
    min_authors: int = Field(default=5, ge=1, description="Distinct authors using it in the window, at least.")
    tiers: Tiers = Field(default=Tiers(notice=5, urgent=15, crisis=40), description="Distinct authors per severity.")


@dataclass(frozen=True)
class Terms:
    """`oldest`: when the index saw its first mention (None: empty). `rising`: brand -> phrase -> (mentions, authors)
    in the window, for phrases with at least min_authors mentions. `baseline`: (brand, phrase) -> mentions in the
    baseline period, for the rising ones."""

    oldest: datetime | None
    rising: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    baseline: dict[tuple[str, str], int] = field(default_factory=dict)


def _history_start(ctx: EvalContext) -> datetime | None:
    """When Groundswell started seeing mentions: the earliest first_seen_at by `at` (posts published before
    that were found late, not watched)."""
    res = search(
        ctx.es,
        mentions(ctx.prefix),
        size=1,
        query=seen_by(ctx.at),
        sort=[{"first_seen_at": "asc"}],
        source=["first_seen_at"],
    )
    hits = res["hits"]["hits"]
    return parse_time(hits[0]["_source"]["first_seen_at"]) if hits else None


def _young(rule: NewTermRule, oldest: datetime | None, at: datetime) -> bool:
    """Everything looks new in a young index: judge nothing until it holds min_history_hours."""
    return oldest is None or at - oldest < timedelta(hours=rule.min_history_hours)


def query(rule: NewTermRule, ctx: EvalContext) -> Terms:
    oldest = _history_start(ctx)
    if _young(rule, oldest, ctx.at):
        return Terms(oldest)
    win = timedelta(minutes=rule.window_minutes)
    brands = [rule.brand] if rule.brand else list(ctx.brands)
    complaint = {"bool": {"should": [NEGATIVE, {"term": {"complaint.is_complaint": True}}], "minimum_should_match": 1}}
    now = search(
        ctx.es,
        mentions(ctx.prefix),
        size=0,
        query={"bool": {"filter": [known_between(ctx.at - win, ctx.at), complaint, *brand_filter(brands)]}},
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
                        "aggs": {"authors": AUTHORS},
                    }
                },
            }
        },
    )
    rising: dict[str, dict[str, tuple[int, int]]] = {}
    for b in now.get("aggregations", {}).get("brands", {}).get("buckets", []):
        for p in b["phrases"]["buckets"]:
            rising.setdefault(b["key"], {})[p["key"]] = (p["doc_count"], p["authors"]["value"])
    if not rising:
        return Terms(oldest)
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
                    seen_by(ctx.at),
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
    baseline = {
        (b["key"], p["key"]): p["doc_count"]
        for b in before.get("aggregations", {}).get("brands", {}).get("buckets", [])
        for p in b["phrases"]["buckets"]
    }
    return Terms(oldest, rising, baseline)


def judge(rule: NewTermRule, terms: Terms, at: datetime) -> list[Match]:
    if _young(rule, terms.oldest, at):
        return []
    win = timedelta(minutes=rule.window_minutes)
    out: list[Match] = []
    for brand, per in terms.rising.items():
        for phrase, (count, authors) in per.items():
            if authors < rule.min_authors:
                continue
            baseline = terms.baseline.get((brand, phrase), 0)
            if baseline > rule.max_baseline:
                continue
            severity = rule.tiers.level(float(authors))
            if severity is None:
                continue
            filters: list[dict[str, Any]] = [
                known_between(at - win, at),
                {"term": {"brand": brand}},
                {"term": {"complaint.phrases": phrase}},
            ]
            out.append(
                Match(
                    rule=rule.name,
                    rule_type="new_term",
                    severity=severity,
                    at=at,
                    summary=(
                        f"{brand}: new complaint term {phrase!r} used by {authors} authors in the last "
                        f"{rule.window_minutes} min ({baseline} times in the previous {rule.baseline_days} days)"
                    ),
                    brand=brand,
                    term=phrase,
                    query=lucene_and(f"brand:{quote(brand)}", f"complaint.phrases:{quote(phrase)}"),
                    window_start=at - win,
                    evidence={
                        "score": float(authors),
                        "mentions": float(count),
                        "authors": float(authors),
                        "baseline_mentions": float(baseline),
                    },
                    scope={"bool": {"filter": filters}},
                )
            )
    return out


KIND = RuleKind(spec=NewTermRule, query=query, judge=judge, explain=cluster_category_and_posts)
