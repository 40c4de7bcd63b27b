"""Negative surge: negative mentions of a brand (and of each complaint category) in the last window, against the
same window on each of the previous days (hour of day; same weekday weighs half when two weeks are there).

One aggregation: a date_range over the window shifted by whole days, per brand, with the negative share and author
counts. Expected negatives are also at least the usual negative share of the current volume, so a promotion that
triples the volume with praise (and a proportional handful of complaints) does not fire. A previous day counts only
if the brand was watched when its window began (the brand's first first_seen_at, and with sources configured their
first crawl run): an hour before anything was collected is no quiet hour, so a new install pages nobody. `query`
makes that aggregation and the two small lookups; `judge` reads them."""

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
    AUTHORS,
    MS,
    NEGATIVE,
    RuleQueryError,
    brand_filter,
    cluster_and_posts,
    complete,
    known_between,
    lucene_and,
    mentions,
    quote,
    search,
    seen_by,
)
from alerts.rules.kinds.health import watched
from core.times import iso, parse_time
from store.state import runs_index as crawl_runs

DAY = timedelta(days=1)


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
                "days": {
                    "date_range": {"field": "published_at", "ranges": ranges, "keyed": True},
                    "aggs": {"neg": {"filter": NEGATIVE, "aggs": neg_aggs}},
                },
            },
        }
    }


@dataclass(frozen=True)
class Window:
    """What `query` read: one bucket per brand (per day back, the window's mentions and negatives), and since when
    each brand's mentions were being collected (None: not yet). A baseline day counts only if its window began
    after that: before, no mention is no quiet hour, only an hour nobody watched."""

    buckets: list[Mapping[str, Any]]
    watched_since: Mapping[str, datetime | None]


def _first_seen(ctx: EvalContext, brands: list[str]) -> dict[str, datetime | None]:
    """Each brand's earliest first_seen_at by `at` (when Groundswell began to see it): one sorted hit per brand,
    in one msearch (cheap at any index size: a sort on a date field skips what cannot come first)."""
    if not brands:
        return {}
    searches: list[dict[str, Any]] = []
    for brand in brands:
        searches.append({"index": mentions(ctx.prefix), "ignore_unavailable": True, "allow_no_indices": True,
                         "allow_partial_search_results": False})
        searches.append({"size": 1, "query": {"bool": {"filter": [{"term": {"brand": brand}}, seen_by(ctx.at)]}},
                         "sort": [{"first_seen_at": "asc"}], "_source": ["first_seen_at"]})
    res = ctx.es.msearch(searches=searches).body
    out: dict[str, datetime | None] = {}
    for brand, answer in zip(brands, res["responses"], strict=True):
        if "error" in answer:
            raise RuleQueryError(f"the first mention of {brand!r} could not be read: {answer['error']}")
        complete(answer, f"reading the first mention of {brand!r}")
        hits = answer["hits"]["hits"]
        out[brand] = parse_time(hits[0]["_source"].get("first_seen_at")) if hits else None
    return out


def _crawling_since(ctx: EvalContext) -> tuple[bool, datetime | None]:
    """(whether crawl runs decide, the first start of a configured source's crawl by `at`). With sources configured,
    hours before their first crawl were not watched, whatever an earlier ingest left in the index; with none
    configured (mentions only ingested), first_seen_at alone says when watching began."""
    if not ctx.source_keys:
        return False, None
    res = search(
        ctx.es, crawl_runs(ctx.prefix), size=0, query={"range": {"finished_at": {"lte": iso(ctx.at)}}},
        aggs={"sources": {"terms": {"field": "source_key", "size": 1000},
                          "aggs": {"first": {"min": {"field": "started_at"}}}}},
    )
    starts = [
        t for b in res.get("aggregations", {}).get("sources", {}).get("buckets", [])
        if watched(b["key"], ctx.source_keys) and (t := parse_time(b["first"].get("value_as_string"))) is not None
    ]
    return True, min(starts, default=None)


def query(rule: NegativeSurgeRule, ctx: EvalContext) -> Window:
    """One bucket per brand (per day back, the window's mentions and negatives), and since when each was watched."""
    win = timedelta(minutes=rule.window_minutes)
    brands = [rule.brand] if rule.brand else list(ctx.brands)
    start = ctx.at - rule.baseline_days * DAY - win
    res = search(
        ctx.es,
        mentions(ctx.prefix),
        size=0,
        query={"bool": {"filter": [known_between(start, ctx.at), *brand_filter(brands)]}},
        aggs=_aggs(rule, ctx.at),
    )
    buckets: list[Mapping[str, Any]] = res.get("aggregations", {}).get("brands", {}).get("buckets", [])
    seen = _first_seen(ctx, [str(b["key"]) for b in buckets])
    gated, crawling = _crawling_since(ctx)
    since: dict[str, datetime | None] = {}
    for brand, first in seen.items():
        if gated:
            first = None if first is None or crawling is None else max(first, crawling)
        since[brand] = first
    return Window(buckets, since)


def judge(rule: NegativeSurgeRule, window: Window, at: datetime) -> list[Match]:
    out: list[Match] = []
    for bucket in window.buckets:
        out.extend(_brand_matches(rule, at, bucket, window.watched_since.get(str(bucket["key"]))))
    return out


def _brand_matches(rule: NegativeSurgeRule, at: datetime, bucket: Mapping[str, Any], watched_since: datetime | None
                   ) -> list[Match]:
    win = timedelta(minutes=rule.window_minutes)
    days: Mapping[str, Any] = bucket["days"]["buckets"]
    # only baseline windows that began after watching did: with none, there is no baseline and no verdict
    covered = [d for d in range(1, rule.baseline_days + 1)
               if watched_since is not None and watched_since <= at - d * DAY - win]
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
        known_between(at - win, at),
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
