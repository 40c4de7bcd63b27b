"""Crawler health: sources whose latest run was blocked (the platform refused us: a 432, a refused signature, a
login wall, missing credentials), broken (parse errors, changed layout) or silent (no results after runs that had
some), or that have not run for a long time. Read from `<prefix>-crawl-runs`.

A block is told apart from a broken source because the fix differs: a cookie, credentials or a slower schedule,
not new selectors; the alert names the platform's signal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from alerts.model import Match, iso
from alerts.rules.common import quote, search
from alerts.rules.context import EvalContext
from alerts.rules.spec import CrawlerHealthRule
from groundswell.store.state import CrawlRun, runs_index

RUNS_PER_SOURCE = 5


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


def evaluate(rule: CrawlerHealthRule, ctx: EvalContext) -> list[Match]:
    allowed = rule.sources or ctx.source_keys
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
    out: list[Match] = []
    for bucket in res.get("aggregations", {}).get("sources", {}).get("buckets", []):
        key = bucket["key"]
        if not watched(key, allowed):
            continue
        runs = [CrawlRun.from_document(h["_source"]) for h in bucket["latest"]["hits"]["hits"]]
        state, streak = diagnose(runs)
        since = ctx.at - runs[0].finished_at
        stale = since.total_seconds() / timedelta(minutes=rule.stale_minutes).total_seconds()
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
            "stale": f"no run for {since.total_seconds() / 3600:.1f} h",
        }[state or "stale"]
        out.append(
            Match(
                rule=rule.name,
                rule_type="crawler_health",
                severity=severity,
                at=ctx.at,
                summary=f"source {key}: {what}",
                source_key=key,
                query=f"platform:{quote(newest.spider)}",
                window_start=newest.started_at or newest.finished_at,
                evidence={
                    "score": round(score, 2),
                    "consecutive_bad_runs": float(streak),
                    "minutes_since_last_run": round(since.total_seconds() / 60, 1),
                    "parse_errors": float(newest.parse_errors),
                    "login_wall": 1.0 if newest.login_wall else 0.0,
                    "blocked": 1.0 if newest.blocked else 0.0,
                    "items": float(newest.items),
                },
            )
        )
    return out
