"""Bulk-writes mention documents: new ones created, known ones merged (engagement history appended), and
unchanged ones counted as duplicates without a write.

There is no painless on the integ-test-zip, so merging is done here: read the stored copies with one mget,
merge, and write back with optimistic concurrency (if_seq_no/if_primary_term); a conflict (another writer
got there first) re-reads and merges again. Connection failures are retried with backoff and then raised
as StoreUnavailable so that the caller can spool the batch instead of losing it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from core import backoff
from store import mapping
from store.client import is_transient, store_error

_RETRYABLE_STATUS = {429, 502, 503, 504}
_CONFLICT_ROUNDS = 8


@dataclass
class Pending:
    """One document to write, with where it came from (for `line N: reason` reports)."""

    doc: dict[str, Any]
    origin: str | None = None


@dataclass
class WriteResult:
    indexed: int = 0
    updated: int = 0
    duplicates: int = 0
    failed: list[tuple[str | None, str]] = field(default_factory=list)

    def add(self, other: WriteResult) -> None:
        self.indexed += other.indexed
        self.updated += other.updated
        self.duplicates += other.duplicates
        self.failed.extend(other.failed)


BACKOFF_MAX = 30.0  # seconds between two tries at most


class MentionWriter:
    def __init__(self, es: Elasticsearch, prefix: str, url: str, *, retries: int = 3, backoff: float = 0.5):
        self.es = es
        self.prefix = prefix
        self.url = url
        self.retries = retries
        self.backoff = backoff

    def _call(self, fn: Any, **kwargs: Any) -> Any:
        """Retry transient failures with exponential backoff and give up as StoreUnavailable; a refusal that no
        retry can fix (credentials, a privilege, a certificate, not Elasticsearch) is raised at once."""
        for attempt in range(self.retries + 1):
            try:
                return fn(**kwargs)
            except (ApiError, TransportError) as exc:
                if not is_transient(exc):
                    raise store_error(self.url, exc) from exc
                last: Exception = exc
            if attempt < self.retries:
                time.sleep(backoff.delay(attempt + 1, self.backoff, BACKOFF_MAX))
        raise store_error(self.url, last)

    def write(self, batch: list[Pending]) -> WriteResult:
        """Write a batch; each input counts once as indexed, updated, duplicate or failed."""
        result = WriteResult()
        todo: dict[tuple[str, str], list[Pending]] = {}
        for p in batch:
            todo.setdefault((mapping.index_of(p.doc, self.prefix), p.doc["mention_id"]), []).append(p)
        for _ in range(_CONFLICT_ROUNDS):
            if not todo:
                break
            todo = self._write_round(todo, result)
        for group in todo.values():
            for p in group:
                result.failed.append((p.origin, "kept conflicting with concurrent writers; not written"))
        return result

    @staticmethod
    def _fold(stored: dict[str, Any] | None, group: list[Pending]) -> tuple[dict[str, Any] | None, dict[str, int]]:
        """Apply a key's inputs in order to what is stored: the document to write (None: nothing new)."""
        outcome = {"indexed": 0, "updated": 0, "duplicates": 0}
        state, changed = stored, False
        for p in group:
            if state is None:
                state, changed = dict(p.doc), True
                outcome["indexed"] += 1
                continue
            merged = mapping.merge(state, p.doc)
            if merged is None:
                outcome["duplicates"] += 1
            else:
                merged["extra"] = p.doc.get("extra") or state.get("extra") or {}
                state, changed = merged, True
                outcome["updated"] += 1
        return (state if changed else None), outcome

    def _write_round(
        self, todo: dict[tuple[str, str], list[Pending]], result: WriteResult
    ) -> dict[tuple[str, str], list[Pending]]:
        keys = list(todo)
        found = self._call(self.es.mget, docs=[{"_index": i, "_id": d} for i, d in keys])
        actions: list[dict[str, Any]] = []
        sent: list[tuple[tuple[str, str], dict[str, int]]] = []
        for key, hit in zip(keys, found["docs"], strict=True):
            index, _id = key
            stored = hit["_source"] if hit.get("found") else None
            doc, outcome = self._fold(stored, todo[key])
            if doc is None:
                result.duplicates += outcome["duplicates"]
                continue
            if stored is None:
                actions.append({"create": {"_index": index, "_id": _id}})
            else:
                meta = {
                    "_index": index,
                    "_id": _id,
                    "if_seq_no": hit["_seq_no"],
                    "if_primary_term": hit["_primary_term"],
                }
                actions.append({"index": meta})
            actions.append(doc)
            sent.append((key, outcome))
        retry: dict[tuple[str, str], list[Pending]] = {}
        if not actions:
            return retry
        resp = self._call(self.es.bulk, operations=actions, refresh=False)
        for (key, outcome), item in zip(sent, resp["items"], strict=True):
            status = next(iter(item.values())).get("status", 500)
            if status in (200, 201):
                result.indexed += outcome["indexed"]
                result.updated += outcome["updated"]
                result.duplicates += outcome["duplicates"]
            elif status == 409 or status in _RETRYABLE_STATUS:
                retry[key] = todo[key]  # someone wrote it meanwhile, or ES is busy: read again and merge
            else:
                err = next(iter(item.values())).get("error") or {}
                reason = f"Elasticsearch rejected it: {err.get('type', status)}: {err.get('reason', '')}".strip()
                result.failed.extend((p.origin, reason) for p in todo[key])
        return retry
