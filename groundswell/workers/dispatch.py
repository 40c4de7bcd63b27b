"""The scheduler's side of crawl workers: a source's crawl becomes one unit per keyword in Redis; the job waits for
the units' results (every worker's counts, added up by each unit's owner) and records one job run from them
(groundswell.scheduler.jobs), as it would from a crawl child's. A unit still running at the source's time limit is
stopped (its workers close it) and the run is recorded `killed`."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from core.config import Config, Source
from crawlers.redis_conn import connect, key_prefix
from crawlers.redis_crawl import CrawlUnit, UnitSpec
from groundswell.workers.queue import UnitQueue

log = logging.getLogger("groundswell.scheduler")

POLL_SECONDS = 0.5
STOP_GRACE_SECONDS = 60.0  # after the time limit, how long stopped units get to close
COUNTERS = {
    "items": "item_scraped_count", "indexed": "groundswell/indexed", "updated": "groundswell/updated",
    "duplicates": "groundswell/duplicates", "spooled": "groundswell/spooled", "rejected": "groundswell/rejected",
    "parse_errors": "groundswell/parse_errors", "request_failed": "groundswell/request_failed",
    "pages": "downloader/response_count",
}


def shares_pages(spider: str) -> bool:
    """Whether workers may share the pages of one crawl of this spider."""
    from scrapy.spiderloader import SpiderLoader
    from scrapy.utils.project import get_project_settings

    try:
        cls = SpiderLoader.from_settings(get_project_settings()).load(spider)
    except KeyError:
        return False
    return bool(getattr(cls, "shares_pages", False))


def unit_specs(cfg: Config[Any], src: Source, job_id: str, revisit_hours: float | None) -> list[UnitSpec]:
    """One unit per keyword of the source (its keywords, else every configured brand), as `groundswell crawl`."""
    args: dict[str, Any] = {"max_pages": src.max_pages}
    if src.base_url:
        args["base_url"] = src.base_url
    if src.spider == "reviews":
        args["source"] = src.name
    if revisit_hours is not None:
        args["revisit_hours"] = f"{revisit_hours:g}"
    keywords: list[str | None] = list(src.keywords) or [b.name for b in cfg.brands] or [None]
    run = uuid.uuid4().hex[:10]
    shared = shares_pages(src.spider)
    return [UnitSpec(unit_id=f"{src.name}:{run}:{i}", spider=src.spider, keyword=kw, source=src.name, args=args,
                     job_id=job_id, time_limit_seconds=src.time_limit_minutes * 60, shared=shared)
            for i, kw in enumerate(keywords)]


def run_units(cfg: Config[Any], specs: list[UnitSpec], limit: float | None) -> tuple[list[dict[str, Any]], bool]:
    """Enqueue the units and wait for their results; (results, whether the time limit stopped any)."""
    queue = UnitQueue(connect(cfg.redis), key_prefix(cfg), cfg.redis.worker_lease_seconds)
    units: list[CrawlUnit] = [queue.enqueue(spec) for spec in specs]
    if not queue.workers():
        log.warning("%d crawl unit(s) enqueued but no `groundswell worker` is alive to take them", len(units))
    t0 = time.monotonic()
    stopped = False
    while True:
        results = [u.result() for u in units]
        if all(r is not None for r in results):
            return [r for r in results if r is not None], stopped
        elapsed = time.monotonic() - t0
        if limit is not None and elapsed > limit and not stopped:
            for u in units:
                u.stop("time limit")
            stopped = True
        if limit is not None and elapsed > limit + STOP_GRACE_SECONDS:
            return [r or {"finish_reason": "time limit", "stats": {}, "error": "no worker finished it"}
                    for r in results], True
        time.sleep(POLL_SECONDS)


@dataclass(frozen=True)
class UnitsDone:
    results: list[dict[str, Any]]
    stopped: bool  # the time limit stopped them
    seconds: float

    def totals(self) -> dict[str, int]:
        stats = [r.get("stats") or {} for r in self.results]
        return {name: sum(int(s.get(key) or 0) for s in stats) for name, key in COUNTERS.items()}


def crawl_on_workers(cfg: Config[Any], src: Source, job_id: str, revisit_hours: float | None) -> UnitsDone:
    """Crawl a configured source on the workers; returns when every unit has a result (or the limit passed)."""
    t0 = time.monotonic()
    specs = unit_specs(cfg, src, job_id, revisit_hours)
    results, stopped = run_units(cfg, specs, src.time_limit_minutes * 60)
    return UnitsDone(results, stopped, time.monotonic() - t0)
