"""Crawl state shared by every machine that crawls: per-source cursors and one record per crawl run.

Both live in Elasticsearch under the index prefix (`<prefix>-crawl-state`, `<prefix>-crawl-runs`), so a
crawl on any machine resumes where the last one, wherever it ran, stopped, and the alerting side can judge
crawler health from the run records. Indices are created on first write with an explicit, strict mapping.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from core.times import iso, parse_time
from store.fields import KEYWORD, settings_of

STATE_PROPERTIES: dict[str, Any] = {
    "source_key": KEYWORD,
    "spider": KEYWORD,
    "keyword": KEYWORD,
    "published_at": {"type": "date"},
    "source_id": KEYWORD,
    "updated_at": {"type": "date"},
    # the gap a run cut short by max_pages left (Gap)
    "gap_floor_at": {"type": "date"},
    "gap_floor_id": KEYWORD,
    "gap_top_at": {"type": "date"},
    "gap_top_id": KEYWORD,
    "gap_resume": KEYWORD,
}

RUN_PROPERTIES: dict[str, Any] = {
    "run_id": KEYWORD,
    "spider": KEYWORD,
    "keyword": KEYWORD,
    "source_key": KEYWORD,
    "started_at": {"type": "date"},
    "finished_at": {"type": "date"},
    "duration_seconds": {"type": "float"},
    "finish_reason": KEYWORD,
    "incremental": {"type": "boolean"},
    "pages": {"type": "long"},
    "items": {"type": "long"},
    "items_found": {"type": "long"},
    "indexed": {"type": "long"},
    "parse_errors": {"type": "long"},
    "skipped_posts": {"type": "long"},
    "login_wall": {"type": "boolean"},
    "blocked": KEYWORD,
    "request_failures": {"type": "long"},
    "zero_results": {"type": "boolean"},
    "missing_fields": {"type": "boolean"},
    "broken": {"type": "boolean"},
    "silent": {"type": "boolean"},
}

BROKEN_REASONS = frozenset({"login_wall", "layout_changed"})
SILENT_AFTER = 3  # a zero-result run is "silent" when this many previous runs of the source all had items


def state_index(prefix: str) -> str:
    return f"{prefix}-crawl-state"


def runs_index(prefix: str) -> str:
    return f"{prefix}-crawl-runs"




def _doc_id(source_key: str) -> str:
    """Keys hold any keyword (Chinese, spaces, slashes): hash them into a safe, stable document id."""
    return hashlib.sha1(source_key.encode()).hexdigest()[:24]


_created: set[tuple[int, str]] = set()


def ensure_index(es: Elasticsearch, name: str, properties: dict[str, Any]) -> None:
    """Create the index with its mapping unless it exists (then add fields a newer version knows of); another
    machine creating it first is fine."""
    if (id(es), name) in _created:
        return
    if es.indices.exists(index=name):
        es.indices.put_mapping(index=name, properties=properties)
    else:
        try:
            es.indices.create(
                index=name, settings=settings_of(es), mappings={"dynamic": "strict", "properties": properties}
            )
        except ApiError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
    _created.add((id(es), name))


# -- cursors ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """Posts a run cut short by max_pages did not reach: those strictly between the floor (the cursor before that
    run) and the top (the oldest post it fetched); the next run fetches them from the page `resume` names (a page
    number or an `after` id), once the new posts are in."""

    floor_at: datetime
    floor_id: str
    top_at: datetime
    top_id: str
    resume: str

    def holds(self, published_at: datetime, source_id: str) -> bool:
        return (self.floor_at, self.floor_id) < (published_at, source_id) < (self.top_at, self.top_id)


@dataclass(frozen=True)
class Cursor:
    """The newest post a source has shown so far: a crawl stops paging once it is well past it."""

    source_key: str
    published_at: datetime
    source_id: str
    spider: str = ""
    keyword: str = ""
    updated_at: datetime | None = None
    gap: Gap | None = None

    def newer(self, published_at: datetime, source_id: str) -> bool:
        """Whether (published_at, source_id) is past this cursor; the id breaks ties between equal times."""
        return (published_at, source_id) > (self.published_at, self.source_id)


def load_cursor(es: Elasticsearch, prefix: str, source_key: str) -> Cursor | None:
    """The stored cursor of a source, or None when it was never crawled (or the index does not exist)."""
    try:
        doc = es.get(index=state_index(prefix), id=_doc_id(source_key))
    except NotFoundError:
        return None
    src = doc["_source"]
    published = parse_time(src.get("published_at"))
    if published is None:
        return None
    floor, top = parse_time(src.get("gap_floor_at")), parse_time(src.get("gap_top_at"))
    gap = None
    if floor is not None and top is not None:
        gap = Gap(floor, str(src.get("gap_floor_id") or ""), top, str(src.get("gap_top_id") or ""),
                  str(src.get("gap_resume") or ""))
    return Cursor(
        source_key=src.get("source_key") or source_key,
        published_at=published,
        source_id=str(src.get("source_id") or ""),
        spider=src.get("spider") or "",
        keyword=src.get("keyword") or "",
        updated_at=parse_time(src.get("updated_at")),
        gap=gap,
    )


def save_cursor(es: Elasticsearch, prefix: str, cursor: Cursor) -> None:
    """Store a cursor, refreshed at once so that the very next crawl (maybe on another machine) sees it. At once:
    refresh=true on this small index costs a few milliseconds, where "wait_for" waited for the node's next
    scheduled refresh (up to a second at the end of every crawl)."""
    ensure_index(es, state_index(prefix), STATE_PROPERTIES)
    document: dict[str, Any] = {
        "source_key": cursor.source_key,
        "spider": cursor.spider,
        "keyword": cursor.keyword,
        "published_at": iso(cursor.published_at),
        "source_id": cursor.source_id,
        "updated_at": iso(cursor.updated_at or datetime.now(UTC)),
    }
    if cursor.gap is not None:
        gap = cursor.gap
        document.update(gap_floor_at=iso(gap.floor_at), gap_floor_id=gap.floor_id, gap_top_at=iso(gap.top_at),
                        gap_top_id=gap.top_id, gap_resume=gap.resume)
    es.index(index=state_index(prefix), id=_doc_id(cursor.source_key), document=document, refresh=True)


# -- runs ------------------------------------------------------------------------------------------------


@dataclass
class CrawlRun:
    """One crawl of one source, as the crawler-health checks and alerts read it."""

    run_id: str
    spider: str
    keyword: str
    source_key: str
    started_at: datetime | None
    finished_at: datetime
    finish_reason: str
    incremental: bool = True
    pages: int = 0
    items: int = 0
    items_found: int = 0
    indexed: int = 0
    parse_errors: int = 0
    skipped_posts: int = 0
    login_wall: bool = False
    request_failures: int = 0
    blocked: str = ""  # the platform's block signal ("weibo: HTTP 432 ..."): refused, not broken
    zero_results: bool = False
    missing_fields: bool = False  # at least as many posts lost a required field as were read: the source changed
    broken: bool = False
    silent: bool = False

    def judge(self, previous: list[CrawlRun]) -> None:
        """Set the flags from the counts; `previous` are the source's earlier runs, newest first."""
        self.zero_results = self.items == 0 and self.items_found == 0
        self.missing_fields = self.skipped_posts > 0 and self.skipped_posts >= self.items_found
        self.broken = not self.blocked and (
            self.parse_errors > 0
            or self.missing_fields
            or self.login_wall
            or self.finish_reason in BROKEN_REASONS
            or (self.request_failures > 0 and self.zero_results)
        )
        last = previous[:SILENT_AFTER]
        self.silent = self.zero_results and len(last) == SILENT_AFTER and all(not r.zero_results for r in last)

    def to_document(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["started_at"] = iso(self.started_at) if self.started_at else None
        doc["finished_at"] = iso(self.finished_at)
        doc["duration_seconds"] = (
            (self.finished_at - self.started_at).total_seconds() if self.started_at else None
        )
        return doc

    @classmethod
    def from_document(cls, src: dict[str, Any]) -> CrawlRun:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in src.items() if k in known}
        values["started_at"] = parse_time(src.get("started_at"))
        values["finished_at"] = parse_time(src.get("finished_at")) or datetime.fromtimestamp(0, UTC)
        return cls(**values)


def record_run(es: Elasticsearch, prefix: str, run: CrawlRun) -> None:
    """Store one run record (refreshed at once, as save_cursor, so the next run's silence check sees it)."""
    ensure_index(es, runs_index(prefix), RUN_PROPERTIES)
    es.index(index=runs_index(prefix), id=run.run_id, document=run.to_document(), refresh=True)


def recent_runs(es: Elasticsearch, prefix: str, source_key: str, n: int) -> list[CrawlRun]:
    """The last `n` runs of a source, newest first; [] when none was recorded yet."""
    try:
        res = es.search(
            index=runs_index(prefix),
            query={"term": {"source_key": source_key}},
            sort=[{"finished_at": {"order": "desc"}}, {"run_id": {"order": "desc"}}],
            size=n,
        )
    except NotFoundError:
        return []
    return [CrawlRun.from_document(hit["_source"]) for hit in res["hits"]["hits"]]
