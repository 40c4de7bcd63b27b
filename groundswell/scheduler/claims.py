"""No job runs twice: each run of a job at a scheduled time is claimed once, in `<prefix>-job-claims`.

A claim's id is the job and the time it was scheduled for (`alerts@2026-11-24T10:05:00.000Z`), created with
op_type=create, so of two schedulers that both believe they should run it (a standby taking over while the old
holder, frozen, had just fired it; a job store updated a moment too late before a crash) exactly one does. The job
run record takes the same id. Runs without a scheduled time (`run --once`) are not claimed.

The executor tells each job function the time it was scheduled for (APScheduler passes it to its own run_job
only): `scheduled_at()` inside a job.
"""

from __future__ import annotations

import contextvars
import logging
from datetime import datetime
from typing import Any

from apscheduler.executors.base import run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from elasticsearch import ConflictError, Elasticsearch

from core.times import iso
from store.fields import KEYWORD
from store.state import ensure_index

log = logging.getLogger("groundswell.scheduler")

_SCHEDULED: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("scheduled_at", default=None)
_RUN_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("run_id", default=None)

CLAIM_PROPERTIES: dict[str, Any] = {
    "job_id": KEYWORD,
    "scheduled_at": {"type": "date"},
    "claimed_at": {"type": "date"},
    "host": KEYWORD,
    "pid": {"type": "integer"},
}


def claims_index(prefix: str) -> str:
    return f"{prefix}-job-claims"


def scheduled_at() -> datetime | None:
    """The time the running job was scheduled for (None outside the scheduler's executor)."""
    return _SCHEDULED.get()


def current_run_id() -> str | None:
    """The id of the run this job claimed (its job run record takes it), or None."""
    return _RUN_ID.get()


def set_run_id(run_id: str) -> None:
    _RUN_ID.set(run_id)


def claim_id(job_id: str, scheduled: datetime) -> str:
    return f"{job_id}@{iso(scheduled)}"


def claim(es: Elasticsearch, prefix: str, job_id: str, scheduled: datetime, now: datetime, host: str,
          pid: int) -> bool:
    """Claim this run of the job; False when another scheduler (or this one, before a restart) already did."""
    ensure_index(es, claims_index(prefix), CLAIM_PROPERTIES)
    try:
        es.create(index=claims_index(prefix), id=claim_id(job_id, scheduled), refresh="wait_for", document={
            "job_id": job_id, "scheduled_at": iso(scheduled), "claimed_at": iso(now), "host": host, "pid": pid,
        })
    except ConflictError:
        return False
    return True


def _run_at(job: Any, alias: str, run_times: list[datetime], logger_name: str) -> list[Any]:
    events: list[Any] = []
    for at in run_times:
        token, run = _SCHEDULED.set(at), _RUN_ID.set(None)
        try:
            events.extend(run_job(job, alias, [at], logger_name))
        finally:
            _SCHEDULED.reset(token)
            _RUN_ID.reset(run)
    return events


class ScheduledTimeExecutor(ThreadPoolExecutor):
    """APScheduler's thread pool, telling each job the time it was scheduled for (see `scheduled_at`)."""

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        def done(f: Any) -> None:
            exc = f.exception()
            if exc:
                self._run_job_error(job.id, exc, getattr(exc, "__traceback__", None))
            else:
                self._run_job_success(job.id, f.result())

        future = self._pool.submit(_run_at, job, job._jobstore_alias, run_times, self._logger.name)
        future.add_done_callback(done)
