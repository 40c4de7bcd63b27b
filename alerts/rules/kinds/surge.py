"""Negative surge: negative mentions of a brand (and of each complaint category) in the last window, against the
same window on each of the previous days (hour of day; same weekday weighs half when two weeks are there).

One request: a date_range aggregation over the window shifted by whole days, per brand, with the negative share
and author counts. Expected negatives are also at least the usual negative share of the current volume, so a
promotion that triples the volume with praise (and a proportional handful of complaints) does not fire.
`query` makes that one request; `judge` reads its buckets."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from alerts.model import Match
from alerts.rules.base import EvalContext, RuleBase, RuleKind, Tiers
from alerts.rules.common import (
    MS,
    NEGATIVE,
    brand_filter,
    cluster_and_posts,
    lucene_and,
    mentions,
    published_between,
    quote,
    search,
)
from core.times import iso, parse_time

DAY = timedelta(days=1)
AUTHORS = {"cardinality": {"field": "author_id", "precision_threshold": 1000}}


class NegativeSurgeRule(RuleBase):
    """Negative mentions of a brand (and of each complaint category) in the last window against the same window
    of previous days: score = z-score against a seasonal (hour-of-day, day-of-week) baseline."""

    type: Literal["negative_surge"] = Field(default="negative_surge", description="negative_surge")
    brand: str | None = Field(default=None, description="Only this brand (unset: every brand).")
    category: str | None = Field(default=None, description="Only this top-level complaint category.")
    by_category: bool = Field(default=True, description="Also judge each top-level complaint category on its own.")
    window_minutes: int = Field(default=60, gt=0, description="Negative mentions published this recently are "
        "counted.")
    baseline_days: int = Field(default=14, ge=1, le=60, description="The same window on this many previous days is "
        "the usual (the same weekday weighs half when two weeks are there).")
    min_count: int = Field(default=10, ge=1, description="Fewer negative mentions in the window are never a surge.")
    min_authors: int = Field(default=8, ge=1, description="Fewer distinct authors are never a surge.")
    min_ratio: float = Field(default=2.5, ge=1.0, description="The count must also be this many times the expected "
        "count.")
    tiers: Tiers = Field(default=Tiers(notice=4, urgent=8, crisis=14), description="z-scores per severity.")


@dataclass(frozen=True)
class Judgement:
    count: int
    authors: int
    expected: float
    sd: float
    z: float
    ratio: float
    total: int
    share: float
    baseline_share: float
    days: int


def assess(
    count: int, authors: int, total: int, history: list[tuple[int, int, int]], pooled: float | None = None
) -> Judgement | None:
    """history: (days back, negatives, total mentions) for each previous day with data; None when there is none.

    Expected negatives: the mean of the same window on previous days (half of it from the same weekday when
    there is one), at least `pooled` (a steadier estimate from a larger group, e.g. the brand's negatives times
    the category's usual share), and at least the usual ratio of negatives to the rest of the current volume
    (so that more praise brings no alert). The spread allows for Poisson noise, the day-to-day spread and the
    uncertainty of a mean over few days."""
    if not history:
        return None
    values = [n for _, n, _ in history]
    seasonal = statistics.fmean(values)
    weekday = [n for d, n, _ in history if d % 7 == 0]
    if weekday:
        seasonal = 0.5 * seasonal + 0.5 * statistics.fmean(weekday)
    base_total = sum(t for _, _, t in history)
    base_rest = base_total - sum(values)
    base_share = sum(values) / base_total if base_total else 0.0
    rest_now = max(total - count, 0)
    by_volume = sum(values) / base_rest * rest_now if base_rest > 0 else 0.0
    expected = max(seasonal, by_volume, pooled or 0.0)
    expected += math.sqrt(max(expected, 1.0) / len(values))  # one standard error of a mean over few days
    spread = statistics.stdev(values) if len(values) >= 2 else 0.0
    sd = max(spread, math.sqrt(expected), 1.0)
    z = (count - expected) / sd
    return Judgement(
        count=count,
        authors=authors,
        expected=expected,
        sd=sd,
        z=z,
        ratio=count / max(expected, 0.5),
        total=total,
        share=count / total if total else 0.0,
        baseline_share=base_share,
        days=len(history),
    )


def _aggs(rule: NegativeSurgeRule, at: datetime) -> dict[str, Any]:
    win = timedelta(minutes=rule.window_minutes)
    ranges = [
        {"key": str(d), "from": iso(at - d * DAY - win), "to": iso(at - d * DAY + MS)}
        for d in range(rule.baseline_days + 1)
    ]
    neg_aggs: dict[str, Any] = {"authors": AUTHORS}
    if rule.by_category or rule.category:
        include: str | list[str] = [rule.category] if rule.category else "[^.]+"
        neg_aggs["cats"] = {
            "terms": {"field": "complaint.categories", "include": include, "size": 20},
            "aggs": {"authors": AUTHORS},
        }
    return {
        "brands": {
            "terms": {"field": "brand", "size": 1000},
            "aggs": {
                "first": {"min": {"field": "published_at"}},
                "days": {
                    "date_range": {"field": "published_at", "ranges": ranges, "keyed": True},
                    "aggs": {"neg": {"filter": NEGATIVE, "aggs": neg_aggs}},
                },
            },
        }
    }


def query(rule: NegativeSurgeRule, ctx: EvalContext) -> list[Mapping[str, Any]]:
    """One bucket per brand: its first mention, and per day back the window's mentions and negatives."""
    win = timedelta(minutes=rule.window_minutes)
    brands = [rule.brand] if rule.brand else list(ctx.brands)
    start = ctx.at - rule.baseline_days * DAY - win
    res = search(
        ctx.es,
        mentions(ctx.prefix),
        size=0,
        query={"bool": {"filter": [published_between(start, ctx.at), *brand_filter(brands)]}},
        aggs=_aggs(rule, ctx.at),
    )
    buckets: list[Mapping[str, Any]] = res.get("aggregations", {}).get("brands", {}).get("buckets", [])
    return buckets


def judge(rule: NegativeSurgeRule, buckets: list[Mapping[str, Any]], at: datetime) -> list[Match]:
    out: list[Match] = []
    for bucket in buckets:
        out.extend(_brand_matches(rule, at, bucket))
    return out


def _brand_matches(rule: NegativeSurgeRule, at: datetime, bucket: Mapping[str, Any]) -> list[Match]:
    win = timedelta(minutes=rule.window_minutes)
    first = parse_time(bucket["first"].get("value_as_string"))
    days: Mapping[str, Any] = bucket["days"]["buckets"]
    covered = [d for d in range(1, rule.baseline_days + 1) if first is not None and first <= at - d * DAY - win]
    now = days["0"]
    out: list[Match] = []
    subjects: list[tuple[str | None, Any]] = []
    if not rule.category:
        subjects.append((None, lambda day: (day["neg"]["doc_count"], day["neg"]["authors"]["value"])))
    if rule.by_category or rule.category:
        cats = [c["key"] for c in now["neg"].get("cats", {}).get("buckets", [])]
        for cat in cats:
            subjects.append((cat, _cat_getter(cat)))
    brand_history = [(d, days[str(d)]["neg"]["doc_count"], days[str(d)]["doc_count"]) for d in covered]
    brand_expected = assess(now["neg"]["doc_count"], 0, now["doc_count"], brand_history)
    brand_negatives = sum(n for _, n, _ in brand_history)
    for category, get in subjects:
        count, authors = get(now)
        if count < rule.min_count or authors < rule.min_authors:
            continue
        history = [(d, get(days[str(d)])[0], days[str(d)]["doc_count"]) for d in covered]
        pooled = None
        if category and brand_expected is not None and brand_negatives:
            # the category's usual share of the brand's negatives at this hour, times today's expectation
            pooled = brand_expected.expected * sum(n for _, n, _ in history) / brand_negatives
        j = assess(count, authors, now["doc_count"], history, pooled)
        if j is None or j.ratio < rule.min_ratio:
            continue
        severity = rule.tiers.level(j.z)
        if severity is None:
            continue
        out.append(_match(rule, at, bucket["key"], category, severity, j, win))
    return out


def _cat_getter(cat: str) -> Any:
    def get(day: Mapping[str, Any]) -> tuple[int, int]:
        for c in day["neg"].get("cats", {}).get("buckets", []):
            if c["key"] == cat:
                return c["doc_count"], c["authors"]["value"]
        return 0, 0

    return get


def _match(
    rule: NegativeSurgeRule,
    at: datetime,
    brand: str,
    category: str | None,
    severity: Any,
    j: Judgement,
    win: timedelta,
) -> Match:
    filters: list[dict[str, Any]] = [
        published_between(at - win, at),
        NEGATIVE,
        {"term": {"brand": brand}},
    ]
    if category:
        filters.append({"term": {"complaint.categories": category}})
    about = f" about {category}" if category else ""
    summary = (
        f"{brand}: {j.count} negative mentions{about} by {j.authors} authors in the last "
        f"{rule.window_minutes} min, {j.ratio:.1f}x the usual {j.expected:.1f} for this hour"
    )
    return Match(
        rule=rule.name,
        rule_type="negative_surge",
        severity=severity,
        at=at,
        summary=summary,
        brand=brand,
        category=category,
        query=lucene_and(
            f"brand:{quote(brand)}",
            "sentiment.label:negative",
            f"complaint.categories:{quote(category)}" if category else None,
        ),
        window_start=at - win,
        evidence={
            "score": round(j.z, 2),
            "mentions": float(j.count),
            "authors": float(j.authors),
            "expected": round(j.expected, 2),
            "z": round(j.z, 2),
            "ratio": round(j.ratio, 2),
            "total": float(j.total),
            "negative_share": round(j.share, 3),
            "baseline_share": round(j.baseline_share, 3),
            "baseline_days": float(j.days),
        },
        scope={"bool": {"filter": filters}},
    )


KIND = RuleKind(spec=NegativeSurgeRule, query=query, judge=judge, explain=cluster_and_posts)
