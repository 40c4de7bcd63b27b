"""Crawler health: sources whose latest run was blocked (the platform refused us: a 432, a refused signature, a
login wall, missing credentials), broken (parse errors, changed layout) or silent (no results after runs that had
some), or that have not run for a long time. `query` reads each source's latest runs from `<prefix>-crawl-runs`;
`judge` diagnoses them.

A block is told apart from a broken source because the fix differs: a cookie, credentials or a slower schedule,
not new selectors; the alert names the platform's signal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from alerts.model import Match
from alerts.rules.base import EvalContext, RuleBase, RuleKind, Tiers
from alerts.rules.common import quote, search
from core.times import iso
from store.state import CrawlRun, runs_index

RUNS_PER_SOURCE = 5


class CrawlerHealthRule(RuleBase):
    """Sources whose latest run is broken or silent, or that stopped running: score = consecutive bad runs, or
    how many `stale_minutes` periods passed since the last run while the scheduler was running (evaluated by the
    scheduler; by hand, since the last run)."""

    type: Literal["crawler_health"] = Field(default="crawler_health", description="crawler_health")
    sources: tuple[str, ...] = Field(default=(), description="Source keys to watch (\"weibo:小米\", \"weibo:*\", \"*\" "
        "for every crawl); empty: the configured sources.")
    stale_minutes: int = Field(default=360, gt=0, description="A source whose latest crawl is older than this is "
        "stale (one point per period), counted while `groundswell run` was running: a scheduler back after a "
        "long stop is not blamed on its sources before it could run them.")
    tiers: Tiers = Field(default=Tiers(notice=1, urgent=3), description="Consecutive bad runs (or stale periods) per "
        "severity.")


@dataclass(frozen=True)
class Runs:
    """The source keys watched (rule.sources, else the configured ones) and each source's runs, newest first."""

    watched: tuple[str, ...]
    sources: tuple[tuple[str, tuple[CrawlRun, ...]], ...]
    running_since: datetime | None = None  # EvalContext.running_since


def watched(key: str, allowed: Sequence[str]) -> bool:
    """Run keys may carry "@host" (a simulator); configured keys are "spider:keyword", "spider:*" or "*".

    Nothing allowed watches nothing: health alerts concern the sources that are configured (and so scheduled),
    not every crawl someone once ran by hand."""
    if "*" in allowed:
        return True
    if not allowed:
        return False
    base = key.split("@", 1)[0]
    spider = base.split(":", 1)[0]
    return base in allowed or f"{spider}:*" in allowed


def diagnose(runs: Sequence[CrawlRun]) -> tuple[str | None, int]:
    """(state, consecutive bad runs) from a source's runs, newest first; state None when it is healthy."""
    if not runs:
        return None, 0
    newest = runs[0]
    if newest.blocked:
        return "blocked", next((i for i, r in enumerate(runs) if not r.blocked), len(runs))
    if newest.broken:
        n = next((i for i, r in enumerate(runs) if not r.broken), len(runs))
        return "broken", n
    if newest.zero_results:
        streak = next((i for i, r in enumerate(runs) if not r.zero_results), len(runs))
        if any(r.silent for r in runs[:streak]):
            return "silent", streak
    return None, 0


def query(rule: CrawlerHealthRule, ctx: EvalContext) -> Runs:
    res = search(
        ctx.es,
        runs_index(ctx.prefix),
        size=0,
        query={"range": {"finished_at": {"lte": iso(ctx.at)}}},
        aggs={
            "sources": {
                "terms": {"field": "source_key", "size": 1000},
                "aggs": {
                    "latest": {
                        "top_hits": {
                            "size": RUNS_PER_SOURCE,
                            "sort": [{"finished_at": {"order": "desc"}}, {"run_id": {"order": "desc"}}],
                        }
                    }
                },
            }
        },
    )
    sources = tuple(
        (b["key"], tuple(CrawlRun.from_document(h["_source"]) for h in b["latest"]["hits"]["hits"]))
        for b in res.get("aggregations", {}).get("sources", {}).get("buckets", [])
    )
    return Runs(watched=tuple(rule.sources or ctx.source_keys), sources=sources, running_since=ctx.running_since)


def judge(rule: CrawlerHealthRule, found: Runs, at: datetime) -> list[Match]:
    out: list[Match] = []
    for key, runs in found.sources:
        if not runs or not watched(key, found.watched):
            continue
        state, streak = diagnose(runs)
        since = at - runs[0].finished_at
        # stale for the time the scheduler could have run it: a scheduler back after a day down (or a demo's next
        # simulated day) has every source's last run a day old, and is about to run them; that is not a source
        # that stopped running, and four urgent emails at start saying so were noise
        missed = at - max(runs[0].finished_at, found.running_since or runs[0].finished_at)
        stale = missed.total_seconds() / timedelta(minutes=rule.stale_minutes).total_seconds()
        score = float(streak) if state else 0.0
        if stale >= 1:
            score = max(score, stale)
            state = state or "stale"
        severity = rule.tiers.level(score) if state else None
        if severity is None:
            continue
        newest = runs[0]
        what = {
            "blocked": f"blocked for {streak} run{'s' if streak > 1 else ''}: {newest.blocked}",
            "broken": f"broken for {streak} run{'s' if streak > 1 else ''} (last: {newest.finish_reason}, "
            f"{newest.parse_errors} parse errors{', login wall' if newest.login_wall else ''})",
            "silent": f"silent for {streak} run{'s' if streak > 1 else ''} after runs that had results",
            "stale": f"no run for {since.total_seconds() / 3600:.1f} h" + (
                f" ({missed.total_seconds() / 3600:.1f} h of them with the scheduler running)"
                if missed < since else ""),
        }[state or "stale"]
        out.append(
            Match(
                rule=rule.name,
                rule_type="crawler_health",
                severity=severity,
                at=at,
                summary=f"source {key}: {what}",
                source_key=key,
                query=f"platform:{quote(newest.spider)}",
                window_start=newest.started_at or newest.finished_at,
                evidence={
                    "score": round(score, 2),
                    "consecutive_bad_runs": float(streak),
                    "minutes_since_last_run": round(since.total_seconds() / 60, 1),
                    "minutes_missed": round(missed.total_seconds() / 60, 1),
                    "parse_errors": float(newest.parse_errors),
                    "login_wall": 1.0 if newest.login_wall else 0.0,
                    "blocked": 1.0 if newest.blocked else 0.0,
                    "items": float(newest.items),
                },
            )
        )
    return out


KIND = RuleKind(spec=CrawlerHealthRule, query=query, judge=judge)
