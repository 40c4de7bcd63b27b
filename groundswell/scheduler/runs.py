"""One document per job run in `<prefix>-job-runs`: what `groundswell status` shows and what an operator greps.

Strict mapping, created on first use (like the crawl-run records). Times are product time
(core.clock.now(): the simulated clock in a demo); `duration_seconds` is real time.

A run is recorded as `running` when it starts and overwritten with how it ended, so a run whose service died
(SIGKILL, a crash, the machine going down) is not missing: the next `groundswell run` on the same job store, or on
the same host when the dead process was a `run --once`, finds it still `running` and records it `lost`.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from elasticsearch import Elasticsearch, NotFoundError

from core.times import iso, parse_time
from store.fields import KEYWORD
from store.state import ensure_index

Result = Literal["running", "ok", "failed", "killed", "skipped", "lost"]

JOB_RUN_PROPERTIES: dict[str, Any] = {
    "run_id": KEYWORD,
    "job_id": KEYWORD,
    "kind": KEYWORD,
    "source": KEYWORD,
    "started_at": {"type": "date"},
    "finished_at": {"type": "date"},
    "duration_seconds": {"type": "float"},
    "result": KEYWORD,
    "exit_code": {"type": "integer"},
    "error": {"type": "text"},
    "host": KEYWORD,
    "pid": {"type": "integer"},
    # which service ran it: the job store it held (none for `run --once`) and that process's own id
    "store_key": KEYWORD,
    "instance": KEYWORD,
    # the crawl's or evaluation's counters, kept whole but not indexed (their keys vary by job kind)
    "stats": {"type": "object", "enabled": False},
    # the few counters worth aggregating on
    "items": {"type": "long"},
    "indexed": {"type": "long"},
    "spooled": {"type": "long"},
}


def runs_index(prefix: str) -> str:
    return f"{prefix}-job-runs"


@dataclass
class JobRun:
    job_id: str
    kind: str
    started_at: datetime
    finished_at: datetime | None  # None while running
    result: Result
    duration_seconds: float = 0.0
    source: str | None = None
    exit_code: int | None = None
    error: str | None = None
    host: str = ""
    pid: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    items: int = 0
    indexed: int = 0
    spooled: int = 0
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    store_key: str | None = None
    instance: str | None = None

    def to_document(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["started_at"] = iso(self.started_at)
        doc["finished_at"] = iso(self.finished_at) if self.finished_at else None
        return doc

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> JobRun:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in doc.items() if k in known}
        values["started_at"] = parse_time(doc.get("started_at"))
        values["finished_at"] = parse_time(doc.get("finished_at"))
        return cls(**values)


def record(es: Elasticsearch, prefix: str, run: JobRun, *, wait: bool = True) -> None:
    """Store one run, refreshed so that `groundswell status` right after sees it (`wait`; a run only starting
    need not hold its job up for that)."""
    ensure_index(es, runs_index(prefix), JOB_RUN_PROPERTIES)
    es.index(index=runs_index(prefix), id=run.run_id, document=run.to_document(),
             refresh="wait_for" if wait else False)


def unfinished(es: Elasticsearch, prefix: str) -> list[JobRun]:
    """Every run still recorded as running, by any service (empty before the first run)."""
    try:
        res = es.search(index=runs_index(prefix), query={"term": {"result": "running"}}, size=10_000,
                        sort=[{"started_at": {"order": "asc"}}])
    except NotFoundError:
        return []
    return [JobRun.from_document(h["_source"]) for h in res["hits"]["hits"]]


def latest_per_job(es: Elasticsearch, prefix: str) -> dict[str, dict[str, Any]]:
    """The newest run document of every job id, skipped runs aside (they say nothing about how the job went);
    {} when nothing was recorded yet."""
    out: dict[str, dict[str, Any]] = {}
    try:
        res = es.search(
            index=runs_index(prefix),
            query={"bool": {"must_not": {"term": {"result": "skipped"}}}},
            collapse={"field": "job_id"},
            sort=[{"finished_at": {"order": "desc"}}],
            size=1000,
        )
    except NotFoundError:
        return {}
    for hit in res["hits"]["hits"]:
        out[hit["_source"]["job_id"]] = hit["_source"]
    return out


def history(es: Elasticsearch, prefix: str, job_id: str | None = None, size: int = 1000) -> list[dict[str, Any]]:
    """Runs, oldest first (for tests and `status`)."""
    query: dict[str, Any] = {"term": {"job_id": job_id}} if job_id else {"match_all": {}}
    try:
        res = es.search(
            index=runs_index(prefix), query=query, size=size,
            sort=[{"started_at": {"order": "asc"}}, {"run_id": {"order": "asc"}}],
        )
    except NotFoundError:
        return []
    return [hit["_source"] for hit in res["hits"]["hits"]]
