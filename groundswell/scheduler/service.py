"""The scheduler itself: a job store reconciled with the configuration, a background scheduler, and a clean stop.

One `groundswell run` per job store at a time (a lock file under the Groundswell home says who runs). Jobs
persist in the store, so a restart keeps their next run times; a job whose schedule changed in the
configuration is replaced, a job whose source left it is removed.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor as Pool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobSubmissionEvent
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED

from core import clock, paths
from core.config import Config
from groundswell.scheduler import children, jobs, runs
from groundswell.scheduler.claims import ScheduledTimeExecutor
from groundswell.scheduler.plan import JobSpec, trigger_key

log = logging.getLogger("groundswell.scheduler")

IMMEDIATE_KINDS = ("crawl",)  # a new source is crawled at once, not one interval later
MAX_WORKERS = 8


class AlreadyRunning(RuntimeError):
    """Another `groundswell run` holds this job store."""


def job_store_url(cfg: Config) -> str:
    """The configured SQLAlchemy URL, else one SQLite file per index prefix under the Groundswell home."""
    if cfg.scheduler.job_store_url:
        return cfg.scheduler.job_store_url
    return f"sqlite:///{paths.home() / f'jobs-{cfg.elasticsearch.index_prefix}.sqlite'}"


def store_key(cfg: Config) -> str:
    """Names the job store (and so the lock) in run records, without printing its URL (it may hold a password)."""
    return hashlib.sha1(job_store_url(cfg).encode()).hexdigest()[:12]


def lock_path(cfg: Config) -> Path:
    return paths.home() / f"run-{cfg.elasticsearch.index_prefix}-{store_key(cfg)}.lock"


def children_dir(cfg: Config) -> Path:
    """Where the service holding this job store notes its crawl children while they run."""
    return paths.home() / f"run-{cfg.elasticsearch.index_prefix}-{store_key(cfg)}.children"


@dataclass
class Recovered:
    """What a previous service left behind, found at start: runs it never finished, children it left running."""

    lost: list[runs.JobRun] = field(default_factory=list)
    orphans: list[dict[str, Any]] = field(default_factory=list)


def recover(rt: jobs.Runtime, orphans: Path | None) -> Recovered:
    """At start: stop the crawl children noted in `orphans` that are still running, and record as lost every run
    still marked running that no live process will finish: on this host, those of the service that held this
    job store before (this one holds its lock now, so that one is gone) and those whose process is dead (a killed
    `run --once`). Runs of other hosts are left to their own next start."""
    found = Recovered()
    if orphans is not None:
        found.orphans = children.stop_orphans(orphans, rt.children.kill_grace)
    now = clock.now()
    for run in runs.unfinished(rt.es, rt.prefix):
        if run.instance == rt.instance or run.host != rt.host:
            continue
        same_store = rt.store_key is not None and run.store_key == rt.store_key
        if not same_store and children.proc_start(run.pid) is not None:
            continue  # its process still runs (another service on this host): it will finish the record
        found.lost.append(_record_lost(rt, run, now, f"the service (pid {run.pid} on {run.host}) stopped before "
                                       "this run ended (killed or crashed); recorded at the next start"))
    return found


def recover_previous_holder(rt: jobs.Runtime) -> list[runs.JobRun]:
    """With Redis, on taking the scheduler lease: every run of this job store still marked running by another
    scheduler was started by an earlier lease holder, which either died (its lease expired: the run will never be
    finished) or finished its runs before releasing the lease. Those runs are recorded lost, on any host."""
    if rt.store_key is None:
        return []
    lost = []
    now = clock.now()
    for run in runs.unfinished(rt.es, rt.prefix):
        if run.instance == rt.instance or run.store_key != rt.store_key:
            continue  # ours, or a `run --once` (no job store) that finishes its own record
        lost.append(_record_lost(rt, run, now, f"the scheduler holding the lease (pid {run.pid} on {run.host}) "
                                 "stopped before this run ended (killed or crashed); recorded by the next holder"))
    return lost


def _record_lost(rt: jobs.Runtime, run: runs.JobRun, now: datetime, why: str) -> runs.JobRun:
    """Record a run no process will finish as lost, saying why, and warn once."""
    run.result = "lost"
    run.finished_at = now
    run.error = why
    runs.record(rt.es, rt.prefix, run)
    log.warning("%s: run started %s was lost: %s", run.job_id, run.started_at, run.error)
    return run


@contextmanager
def hold_lock(cfg: Config) -> Iterator[None]:
    path = lock_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    f: IO[str] = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            raise AlreadyRunning(
                f"another `groundswell run` (pid {holder}) uses the job store {job_store_url(cfg)}"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        yield
    finally:
        f.close()


def running_pid(cfg: Config) -> int | None:
    """The pid of the `groundswell run` holding this job store, or None when none runs."""
    path = lock_path(cfg)
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = f.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(f, fcntl.LOCK_UN)
    return None


class _Scheduler(BackgroundScheduler):
    """APScheduler 3 runs one last round of due jobs after `shutdown()` has closed the executors, which logs
    "cannot schedule new futures after shutdown" for every job due by then (a SIGTERM after a pause has many)."""

    def _process_jobs(self) -> float | None:
        if self.state == STATE_STOPPED:
            return None
        wait: float | None = super()._process_jobs()
        return wait


def make_scheduler(cfg: Config) -> BackgroundScheduler:
    return _Scheduler(
        jobstores={"default": SQLAlchemyJobStore(url=job_store_url(cfg))},
        executors={"default": ScheduledTimeExecutor(MAX_WORKERS)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": cfg.scheduler.misfire_grace_seconds},
        timezone=UTC,
    )


@dataclass
class Reconciled:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, list[str]]:
        return {"added": self.added, "replaced": self.replaced, "removed": self.removed, "kept": self.kept}


def _same(job: Job, spec: JobSpec, cfg: Config) -> bool:
    return (
        job.func_ref == spec.func
        and tuple(job.args) == ()
        and dict(job.kwargs) == spec.kwargs
        and job.name == spec.name
        and trigger_key(job.trigger) == trigger_key(spec.trigger)
        and job.max_instances == 1
        and job.coalesce
        and job.misfire_grace_time == cfg.scheduler.misfire_grace_seconds
    )


def reconcile(scheduler: BackgroundScheduler, specs: list[JobSpec], cfg: Config) -> Reconciled:
    """Make the store hold exactly the planned jobs, keeping the next run time of every unchanged one.

    The scheduler must be started (paused): before that, get_jobs() sees only jobs added in this process.
    """
    out = Reconciled()
    existing = {job.id: job for job in scheduler.get_jobs()}
    now = datetime.now(UTC)
    for spec in specs:
        job = existing.pop(spec.id, None)
        if job is not None and _same(job, spec, cfg):
            out.kept.append(spec.id)
            continue
        extra: dict[str, Any] = {}
        if job is None and spec.kind in IMMEDIATE_KINDS:
            extra["next_run_time"] = now
        scheduler.add_job(
            spec.func, trigger=spec.trigger, id=spec.id, name=spec.name, kwargs=spec.kwargs, max_instances=1,
            coalesce=True, misfire_grace_time=cfg.scheduler.misfire_grace_seconds, replace_existing=True, **extra,
        )
        (out.added if job is None else out.replaced).append(spec.id)
    for job_id in existing:
        scheduler.remove_job(job_id)
        out.removed.append(job_id)
    return out


def product_time(real: datetime | None) -> datetime | None:
    """A real instant as product time (the simulated clock's, when one is set)."""
    sim = clock.current()
    if real is None or sim is None:
        return real
    return sim.start + timedelta(seconds=(real.timestamp() - sim.anchor) * sim.speed)


class Service:
    """`groundswell run`: start, run until told to stop (or for a while), stop cleanly."""

    def __init__(self, cfg: Config, rt: jobs.Runtime, *, grace: float = 10.0) -> None:
        self.cfg = cfg
        self.rt = rt
        self.grace = grace
        self.stop_event = threading.Event()
        self.scheduler: BackgroundScheduler | None = None
        self.reconciled = Reconciled()

    def _skipped(self, event: JobSubmissionEvent) -> None:
        """A run that could not start: its previous run is still going (never overlap), or it was too late."""
        why = "its previous run is still going" if event.code == EVENT_JOB_MAX_INSTANCES else "missed its time"
        kind, _, source = event.job_id.partition(":")
        at = clock.now()
        self.rt.finish(runs.JobRun(event.job_id, kind, at, at, "skipped", source=source or None, error=why))

    def start(self, specs: list[JobSpec]) -> BackgroundScheduler:
        scheduler = make_scheduler(self.cfg)
        scheduler.add_listener(self._skipped, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        scheduler.start(paused=True)
        self.reconciled = reconcile(scheduler, specs, self.cfg)
        scheduler.resume()
        self.scheduler = scheduler
        return scheduler

    def jobs(self) -> list[Job]:
        return self.scheduler.get_jobs() if self.scheduler is not None else []

    def wait(self, seconds: float | None, tick: Callable[[], None] | None = None) -> None:
        """Until stop() (a signal) or `seconds` real seconds have passed."""
        deadline = None if seconds is None else datetime.now(UTC) + timedelta(seconds=seconds)
        while not self.stop_event.wait(0.5):
            if tick is not None:
                tick()
            if deadline is not None and datetime.now(UTC) >= deadline:
                break

    def stop(self) -> None:
        self.stop_event.set()

    def shutdown(self) -> None:
        """Stop taking jobs, let crawl children finish up to the grace (then SIGTERM, then SIGKILL), wait for the
        job threads to record their runs, and persist the store."""
        if self.scheduler is None:
            return
        self.scheduler.pause()
        if self.rt.children.running():
            log.warning("stopping: %d crawl(s) in flight, waiting up to %.0f s", self.rt.children.running(), self.grace)
        self.rt.children.stop_all(self.grace)
        self.scheduler.shutdown(wait=True)
        self.scheduler = None


def run_each_once(specs: list[JobSpec]) -> list[runs.JobRun]:
    """`groundswell run --once`: every crawl at once (in parallel children), then retention, compaction, alerts and
    digest; revisits are left out (a crawl re-fetches the revisit window anyway). The job store is not touched."""
    from importlib import import_module

    def call(spec: JobSpec) -> runs.JobRun:
        module, _, name = spec.func.partition(":")
        fn = getattr(import_module(module), name)
        result = fn(**spec.kwargs)
        assert isinstance(result, runs.JobRun)
        return result

    crawls = [s for s in specs if s.kind == "crawl"]
    rest = [s for s in specs if s.kind in ("retention", "compaction", "alerts", "digest")]
    out: list[runs.JobRun] = []
    if crawls:
        with Pool(max_workers=min(MAX_WORKERS, len(crawls))) as pool:
            out.extend(pool.map(call, crawls))
    out.extend(call(s) for s in rest)
    return out
