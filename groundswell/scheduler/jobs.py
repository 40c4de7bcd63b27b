"""The job functions the job store names by module path (`groundswell.scheduler.jobs:crawl_source`, ...).

Stored jobs carry only plain arguments (a source name), so they survive restarts and config edits; what a job
needs at run time (the configuration, the Elasticsearch client, the child-process book) is the Runtime that
`groundswell run` installs before the scheduler starts. Every run, however it ends, is logged and recorded in
`<prefix>-job-runs`; a job never raises into the scheduler.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from core import clock, redact
from core.config import Config, Source
from core.exits import ExitStatus
from groundswell.scheduler import claims, runs
from groundswell.scheduler.children import Children, ChildResult
from groundswell.scheduler.plan import expired_indices
from store.client import StoreError, describe_error

log = logging.getLogger("groundswell.scheduler")

# crawl stats -> the counters a job run keeps
_COUNTERS = {
    "items": "item_scraped_count",
    "indexed": "groundswell/indexed",
    "updated": "groundswell/updated",
    "duplicates": "groundswell/duplicates",
    "spooled": "groundswell/spooled",
    "rejected": "groundswell/rejected",
    "dropped_no_brand": "groundswell/dropped/no_brand",
    "parse_errors": "groundswell/parse_errors",
    "request_failed": "groundswell/request_failed",
    "pages": "downloader/response_count",
}


@dataclass
class Runtime:
    cfg: Config
    es: Elasticsearch
    children: Children
    config_path: str | None = None
    on_run: Callable[[runs.JobRun], None] | None = None  # the CLI prints each run
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    store_key: str | None = None  # the job store this service holds (None: `run --once`, no lock)
    # when this service started, product time (None for `run --once`): the crawler-health rule counts a source
    # stale only for the time since then that it did not run (alerts.rules.kinds.health)
    running_since: datetime | None = None
    instance: str = field(default_factory=lambda: uuid.uuid4().hex)
    _source_locks: dict[str, threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    @property
    def prefix(self) -> str:
        return self.cfg.elasticsearch.index_prefix

    def source_lock(self, name: str) -> threading.Lock:
        """One crawl of a source at a time: the revisit waits its turn (is skipped) while the crawl runs."""
        with self._guard:
            return self._source_locks.setdefault(name, threading.Lock())

    def _own(self, run: runs.JobRun) -> None:
        run.host, run.pid, run.store_key, run.instance = self.host, self.pid, self.store_key, self.instance
        run.run_id = claims.current_run_id() or run.run_id  # a claimed run is recorded under its claim's id

    def claim(self, job_id: str) -> bool:
        """Claim this run of the job at the time it was scheduled for (claims.py); False: it ran already. An
        unreachable Elasticsearch does not stop the job (the lease keeps a second scheduler away meanwhile)."""
        scheduled = claims.scheduled_at()
        if scheduled is None:
            return True
        try:
            if claims.claim(self.es, self.prefix, job_id, scheduled, clock.now(), self.host, self.pid):
                claims.set_run_id(claims.claim_id(job_id, scheduled))
                return True
        except Exception as exc:
            log.warning("%s: run not claimed (%s); running it anyway", job_id, describe_error(self._url(), exc))
            return True
        log.info("%s: its run at %s was already claimed by another scheduler; not running it again", job_id,
                 scheduled.isoformat())
        return False

    def begin(self, job_id: str, kind: str, source: str | None = None) -> runs.JobRun:
        """Record a run as running before its work starts: if this service dies, the next start finds it and
        records it lost. finish() overwrites the same record."""
        run = runs.JobRun(job_id, kind, clock.now(), None, "running", source=source)
        self._own(run)
        try:
            runs.record(self.es, self.prefix, run, wait=False)
        except Exception as exc:
            log.error("job run of %s not recorded as running: %s", job_id, describe_error(self._url(), exc))
        return run

    def finish(self, run: runs.JobRun) -> runs.JobRun:
        """Log and record a run; an unreachable Elasticsearch loses the record (logged), never the job."""
        self._own(run)
        run.error = redact.scrub(run.error) if run.error else run.error  # a child's stderr may quote a URL
        level = logging.INFO if run.result in ("ok", "skipped") else logging.WARNING
        log.log(level, "%s", describe_run(run))
        try:
            runs.record(self.es, self.prefix, run)
        except Exception as exc:
            log.error("job run of %s not recorded: %s", run.job_id, describe_error(self._url(), exc))
        if self.on_run is not None:
            self.on_run(run)
        return run

    def _url(self) -> str:
        return self.cfg.elasticsearch.effective_url


_runtime: Runtime | None = None


def install(rt: Runtime | None) -> None:
    global _runtime
    _runtime = rt


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("groundswell.scheduler.jobs: no Runtime installed (jobs run inside `groundswell run`)")
    return _runtime


def describe_run(run: runs.JobRun) -> str:
    """One line per run, for the log and the CLI."""
    parts = [f"{run.job_id}: {run.result}"]
    if run.exit_code is not None:
        parts.append(f"exit {run.exit_code}")
    if run.result not in ("running", "lost"):
        parts.append(f"{run.duration_seconds:.1f}s")
    if run.kind in ("crawl", "revisit") and run.result != "skipped":
        parts.append(f"{run.items} items, {run.indexed} new" + (f", {run.spooled} spooled" if run.spooled else ""))
    elif run.kind == "alerts" and run.stats:
        matches, opened = run.stats.get("matches") or 0, run.stats.get("opened") or []
        count = len(matches) if isinstance(matches, list) else matches
        parts.append(f"{count} matches, {len(opened)} opened, {run.stats.get('emails_sent', 0)} emails sent")
    elif run.kind == "retention" and run.stats:
        parts.append(f"dropped {len(run.stats.get('dropped') or [])} indices")
    elif run.kind == "compaction" and run.stats:
        parts.append(f"merged {len(run.stats.get('merged') or [])} indices")
    line = ", ".join(parts)
    return f"{line}: {run.error}" if run.error else line


# -- crawls ------------------------------------------------------------------------------------------------


def crawl_command(source: Source, config_path: str | None, revisit_hours: float | None) -> list[str]:
    """The child that crawls a source: `groundswell crawl SOURCE --json` in a fresh interpreter."""
    cmd = [sys.executable, "-m", "groundswell.cli.main"]
    if config_path:
        cmd += ["--config", config_path]
    cmd += ["crawl", source.name, "--json"]
    if revisit_hours is not None:
        cmd += ["-a", f"revisit_hours={revisit_hours:g}"]
    return cmd


def crawl_outcome(job_id: str, kind: str, source: str, child: ChildResult, started: datetime) -> runs.JobRun:
    """A job run from how the child ended and the stats it printed (pure)."""
    totals: dict[str, int] = {}
    for name, key in _COUNTERS.items():
        totals[name] = sum(int(r.get(key) or 0) for r in child.reports)
    reasons = sorted({str(r.get("finish_reason", "unknown")) for r in child.reports})
    stats: dict[str, Any] = {**totals, "finish_reasons": reasons, "keywords": [r.get("keyword") for r in child.reports]}
    error: str | None = None
    if child.signalled:
        result: runs.Result = "killed"
        error = f"stopped at the {child.signalled} after {child.seconds:.0f}s (exit {child.exit_code})"
    elif child.exit_code == 0:
        result = "ok"
    else:
        result = "failed"
        if child.exit_code == ExitStatus.STORE_UNAVAILABLE:
            error = f"Elasticsearch unreachable: {totals['spooled']} mentions spooled, replayed by the next crawl"
        else:
            tail = child.stderr_tail.strip().splitlines()
            error = f"finish reasons {', '.join(reasons) or 'none'}; " + (tail[-1] if tail else "no error output")
    return runs.JobRun(
        job_id=job_id, kind=kind, source=source, started_at=started, finished_at=clock.now(), result=result,
        duration_seconds=round(child.seconds, 3), exit_code=child.exit_code, error=error, stats=stats,
        items=totals["items"], indexed=totals["indexed"], spooled=totals["spooled"],
    )


def crawl_source(source: str, revisit: bool = False) -> runs.JobRun:
    """Crawl one configured source in a child process, under its time limit."""
    rt = runtime()
    kind = "revisit" if revisit else "crawl"
    job_id = f"{kind}:{source}"
    started, t0 = clock.now(), time.monotonic()
    if not rt.claim(job_id):
        return runs.JobRun(job_id, kind, started, clock.now(), "skipped", source=source, error="already run")
    src = rt.cfg.source(source)
    if src is None:
        return rt.finish(runs.JobRun(job_id, kind, started, clock.now(), "failed", source=source,
                                     error=f"no source named {source!r} in the configuration"))
    lock = rt.source_lock(source)
    if not lock.acquire(blocking=False):
        return rt.finish(runs.JobRun(job_id, kind, started, clock.now(), "skipped", source=source,
                                     error="another crawl of this source is running"))
    try:
        running = rt.begin(job_id, kind, source)
        started = running.started_at
        if rt.cfg.redis.enabled and rt.cfg.redis.workers:  # `groundswell worker`s crawl it
            on_workers = _on_workers(rt, src, job_id, kind, revisit, started)
            on_workers.run_id = running.run_id
            return rt.finish(on_workers)
        cmd = crawl_command(src, rt.config_path, rt.cfg.scheduler.revisit_hours if revisit else None)
        env = {**os.environ, "SCRAPY_SETTINGS_MODULE": os.environ.get("SCRAPY_SETTINGS_MODULE", "crawlers.settings")}
        try:
            child = rt.children.run(cmd, env, src.time_limit_minutes * 60)
        except OSError as exc:
            return rt.finish(runs.JobRun(job_id, kind, started, clock.now(), "failed", source=source,
                                         duration_seconds=time.monotonic() - t0, error=f"cannot start: {exc}",
                                         run_id=running.run_id))
        outcome = crawl_outcome(job_id, kind, source, child, started)
        outcome.run_id = running.run_id
        return rt.finish(outcome)
    finally:
        lock.release()


def _on_workers(rt: Runtime, src: Source, job_id: str, kind: str, revisit: bool, started: datetime) -> runs.JobRun:
    """The crawl as units for `groundswell worker`s (groundswell.workers): one job run from their results."""
    import redis

    from crawlers.redis_conn import describe
    from groundswell.workers.dispatch import crawl_on_workers

    try:
        done = crawl_on_workers(rt.cfg, src, job_id, rt.cfg.scheduler.revisit_hours if revisit else None)
    except redis.RedisError as exc:
        return runs.JobRun(job_id, kind, started, clock.now(), "failed", source=src.name,
                           error=f"not enqueued: {describe(rt.cfg.redis, exc)}")
    totals = done.totals()
    reasons = sorted({str(r.get("finish_reason") or "unknown") for r in done.results})
    errors = [str(r["error"]) for r in done.results if r.get("error")]
    error: str | None = None
    if done.stopped:
        result: runs.Result = "killed"
        error = f"stopped at the time limit after {done.seconds:.0f}s"
    elif reasons == ["finished"] and not errors:
        result = "ok"
    else:
        result, error = "failed", "; ".join([f"finish reasons {', '.join(reasons)}", *errors])
    stats: dict[str, Any] = {**totals, "finish_reasons": reasons, "units": len(done.results), "on_workers": True,
                             "keywords": [r.get("keyword") for r in done.results]}
    return runs.JobRun(job_id, kind, started, clock.now(), result, duration_seconds=round(done.seconds, 3),
                       source=src.name, error=error, stats=stats, items=totals["items"], indexed=totals["indexed"],
                       spooled=totals["spooled"])


# -- in-process jobs -----------------------------------------------------------------------------------------


def _in_process(job_id: str, kind: str, work: Callable[[Runtime, datetime], tuple[dict[str, Any], str | None]]
                ) -> runs.JobRun:
    rt = runtime()
    t0 = time.monotonic()
    if not rt.claim(job_id):
        return runs.JobRun(job_id, kind, clock.now(), clock.now(), "skipped", error="already run")
    running = rt.begin(job_id, kind)
    started = running.started_at
    try:
        stats, error = work(rt, started)
    except (ApiError, TransportError, StoreError) as exc:  # the store failed: one line says how, no traceback
        stats, error = {}, describe_error(rt._url(), exc)
        result: runs.Result = "failed"
    except Exception as exc:  # a bug: recorded as failed and logged with its traceback; the scheduler goes on
        log.exception("%s failed", job_id)
        stats, error = {}, redact.scrub(f"{type(exc).__name__}: {exc}")
        result = "failed"
    else:
        result = "failed" if error else "ok"
    return rt.finish(runs.JobRun(job_id, kind, started, clock.now(), result,
                                 duration_seconds=round(time.monotonic() - t0, 3), error=error, stats=stats,
                                 run_id=running.run_id))


def _alerts(rt: Runtime, at: datetime) -> tuple[dict[str, Any], str | None]:
    from alerts import engine

    report = engine.run_once(rt.cfg, rt.es, at=at,
                             matcher=functools.partial(engine.evaluate, running_since=rt.running_since))
    stats = report.to_json()
    return stats, "; ".join(report.errors) if report.errors else None


def evaluate_alerts() -> runs.JobRun:
    """Every alert rule once, at product time now (the simulated clock in a demo)."""
    return _in_process("alerts", "alerts", _alerts)


def _digest(rt: Runtime, at: datetime) -> tuple[dict[str, Any], str | None]:
    from alerts import engine

    return {"sent": engine.flush_digest(rt.cfg, rt.es, at)}, None


def send_digest() -> runs.JobRun:
    return _in_process("digest", "digest", _digest)


def _retention(rt: Runtime, at: datetime) -> tuple[dict[str, Any], str | None]:
    months = rt.cfg.scheduler.retention_months
    if not months:
        return {"dropped": []}, None
    names = list(rt.es.indices.get(index=f"{rt.prefix}-mentions-*", allow_no_indices=True,
                                   ignore_unavailable=True).body)
    dropped = []
    for name in expired_indices(names, rt.prefix, at, months):
        rt.es.indices.delete(index=name)  # by exact name: wildcard deletes are refused, and rightly so
        log.warning("retention: dropped %s (older than %d months)", name, months)
        dropped.append(name)
    return {"dropped": dropped, "kept": sorted(set(names) - set(dropped))}, None


def apply_retention() -> runs.JobRun:
    """Drop the monthly mention indices older than scheduler.retention_months."""
    return _in_process("retention", "retention", _retention)


def _compaction(rt: Runtime, at: datetime) -> tuple[dict[str, Any], str | None]:
    from store.compaction import compact

    days = rt.cfg.scheduler.compact_after_days
    if not days:
        return {"merged": []}, None
    return {"merged": compact(rt.es, rt.prefix, at, timedelta(days=days))}, None


def compact_months() -> runs.JobRun:
    """Merge each finished month's mention index into one segment (store.compaction), once."""
    return _in_process("compaction", "compaction", _compaction)
