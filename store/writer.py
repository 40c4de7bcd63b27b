"""Bulk-writes mention documents: new ones created, known ones merged (engagement history appended), and
unchanged ones counted as duplicates without a write.

One document per post, whatever its times do. A post's index is decided once, when it is first written (the month
it was first seen, store.mapping.index_of); later crawls may read another published_at (a relative "1小时前") or
come in another month, so a stored post is found by id, never by recomputing its index: one `ids` search across
the alias per batch (only ids and index names come back; in the Elasticsearch stage, the search the cluster resolver
made of the same ids a moment before), plus the places this writer itself wrote to recently
(a search sees writes only after a refresh). Then, as before, one realtime mget reads the stored copies,
and the merged documents are written back with optimistic concurrency (create, or if_seq_no/if_primary_term);
a conflict (another writer got there first) re-reads and merges again. Copies of one post in two indices (left by
a version that chose the index by published_at, or by two writers creating the same post in the same second
across a month boundary) are merged into the copy first seen, and the others deleted, on the post's next write.

There is no painless on the integ-test-zip, so merging is done here. Connection failures are retried with backoff
and then raised as StoreUnavailable so that the caller can spool the batch instead of losing it.

A document that an index's strict mapping refuses for a field it lacks was written into a month made from an older
version's template: during a rolling upgrade, a process of the older version that starts after this one puts its
template back, and the months it then creates lack the fields added since. The writer then does once per batch what
it did at start (store.client.ensure_schema: the current template, the missing fields put into outdated months) and
writes those documents again; only what is still refused after that fails, with the node's reason.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from core import backoff
from store import mapping
from store.client import ensure_schema, is_transient, store_error

log = logging.getLogger(__name__)

_RETRYABLE_STATUS = {429, 502, 503, 504}
_CONFLICT_ROUNDS = 8


# what is read of a bulk's answer: each item's status and error. The rest (index, id, version, shards, sequence
# numbers: ~250 bytes an item) was most of what the committer's thread parsed and the node wrote back
ITEM_OUTCOME = ["items.*.status", "items.*.error"]


def _lacks_a_field(item: dict[str, Any]) -> bool:
    """Whether a bulk item was refused by a strict mapping for a field the index lacks (see the module)."""
    error = next(iter(item.values())).get("error") or {}
    return bool(error.get("type") == "strict_dynamic_mapping_exception")


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
LOCATIONS_KEPT = 5_000  # where this writer put recent posts (searches see them only after a refresh; one it forgot
# before that is found by the create's conflict, then read again)


@dataclass(frozen=True)
class Copy:
    """A stored copy of a post: where it is and the version to write over."""

    index: str
    source: dict[str, Any]
    seq_no: int
    primary_term: int

    def order(self) -> tuple[str, str]:
        return (str(self.source.get("first_seen_at") or "~"), self.index)


class MentionWriter:
    def __init__(
        self, es: Elasticsearch, prefix: str, url: str, *, retries: int = 3, backoff: float = 0.5,
        kept: int = LOCATIONS_KEPT,
    ):
        self.es = es
        self.prefix = prefix
        self.url = url
        self.retries = retries
        self.backoff = backoff
        self.located: OrderedDict[str, str] = OrderedDict()  # mention id -> index this writer wrote it to
        self.kept = kept  # how many of them (the Elasticsearch stage sets it from its batch size)
        self.mended = False  # whether this batch already brought the indices up to the current mapping

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

    def write(self, batch: list[Pending], where: dict[str, set[str]] | None = None) -> WriteResult:
        """Write a batch; each input counts once as indexed, updated, duplicate or failed. `where`: the indices an
        ids search of every post of the batch found them in, made for this batch shortly before (the cluster
        resolver's, pipelines.clusters; a batch earlier with ingest's look-ahead: what this writer wrote since, it
        finds where it put it), so the first round does not search the same ids again; a later round (a conflict)
        searches anew."""
        result = WriteResult()
        self.mended = False
        todo: dict[str, list[Pending]] = {}  # by mention id: one post is one document, whatever its times say
        for p in batch:
            todo.setdefault(p.doc["mention_id"], []).append(p)
        for _ in range(_CONFLICT_ROUNDS):
            if not todo:
                break
            todo = self._write_round(todo, result, where)
            where = None
        for group in todo.values():
            for p in group:
                result.failed.append((p.origin, "kept conflicting with concurrent writers; not written"))
        return result

    # --- where posts are ---------------------------------------------------------------------------------

    def _remember(self, mention_id: str, index: str) -> None:
        self.located[mention_id] = index
        self.located.move_to_end(mention_id)
        if len(self.located) > self.kept:
            self.located.popitem(last=False)

    def _locate(self, ids: list[str], found: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
        """The indices that may hold each post: what one search across the alias finds (or found, a moment ago:
        `found`), and where this writer put it lately (not searchable before the next refresh). The realtime mget
        then says which really do."""
        where: dict[str, set[str]] = {i: ({self.located[i]} if i in self.located else set()) for i in ids}
        if found is not None:
            for i in ids:
                where[i] |= found.get(i, set())
            return where
        size = min(10_000, 2 * len(ids) + 10)
        while True:
            resp = self._call(
                self.es.search, index=mapping.alias(self.prefix), query={"ids": {"values": ids}}, size=size,
                source=False, track_total_hits=True, ignore_unavailable=True, allow_no_indices=True,
            )
            hits = resp["hits"]["hits"]
            total = int(resp["hits"]["total"]["value"])
            if total <= len(hits) or size >= 10_000:
                break
            size = min(10_000, total)
        for h in hits:
            where.setdefault(h["_id"], set()).add(h["_index"])
        return where

    def _stored(self, ids: list[str], found: dict[str, set[str]] | None = None) -> dict[str, list[Copy]]:
        """Every stored copy of each post, read in real time."""
        where = self._locate(ids, found)
        pairs = [(index, i) for i in ids for index in sorted(where[i])]
        copies: dict[str, list[Copy]] = {i: [] for i in ids}
        if not pairs:
            return copies
        found = self._call(self.es.mget, docs=[{"_index": index, "_id": i} for index, i in pairs])
        for (index, i), hit in zip(pairs, found["docs"], strict=True):
            if hit.get("found"):
                copies[i].append(Copy(index, hit["_source"], hit["_seq_no"], hit["_primary_term"]))
            elif self.located.get(i) == index:
                del self.located[i]  # dropped by retention, or merged into another copy
        return copies

    # --- merging -------------------------------------------------------------------------------------------

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

    @staticmethod
    def _one_of(copies: list[Copy]) -> dict[str, Any]:
        """Copies of one post in several indices as one document: the first seen, with the others merged in in
        crawl order (their observations join its history; the newest crawl's content wins)."""
        first, *others = sorted(copies, key=Copy.order)
        state = dict(first.source)
        for c in sorted(others, key=lambda c: str(c.source.get("crawled_at") or "")):
            merged = mapping.merge(state, c.source)
            if merged is not None:
                merged["extra"] = c.source.get("extra") or state.get("extra") or {}
                state = merged
        return state

    def _consolidate(self, copies: dict[str, list[Copy]]) -> None:
        """Merge each post stored more than once into its first-seen copy, then delete the others. The write
        comes first and each delete names the version it read, so a copy that changed meanwhile is kept (and
        merged on the next round) and nothing is lost if this stops half way."""
        writes: list[dict[str, Any]] = []
        keep: list[tuple[str, Copy, list[Copy]]] = []
        for mention_id, cs in copies.items():
            first, *others = sorted(cs, key=Copy.order)
            writes += [{"index": {"_index": first.index, "_id": mention_id, "if_seq_no": first.seq_no,
                                  "if_primary_term": first.primary_term}}, self._one_of(cs)]
            writes[-1] = mapping.stored_form(mapping.mark_founder(writes[-1]))
            keep.append((mention_id, first, others))
        resp = self._call(self.es.bulk, operations=writes, refresh=False, filter_path=ITEM_OUTCOME)
        deletes: list[dict[str, Any]] = []
        unmapped: set[str] = set()
        for (mention_id, first, others), item in zip(keep, resp["items"], strict=True):
            if next(iter(item.values())).get("status") not in (200, 201):
                if _lacks_a_field(item):
                    unmapped.add(first.index)  # an older version's month: mended, then the next round merges again
                continue  # changed meanwhile: the next round reads it again
            self._remember(mention_id, first.index)
            deletes += [{"delete": {"_index": c.index, "_id": mention_id, "if_seq_no": c.seq_no,
                                    "if_primary_term": c.primary_term}} for c in others]
        if deletes:
            self._call(self.es.bulk, operations=deletes, refresh=False)
        if unmapped and not self.mended:
            self._mend(sorted(unmapped))

    # --- one round -----------------------------------------------------------------------------------------

    def _write_round(
        self, todo: dict[str, list[Pending]], result: WriteResult, found: dict[str, set[str]] | None = None
    ) -> dict[str, list[Pending]]:
        ids = list(todo)
        stored = self._stored(ids, found)
        twice = {i: cs for i, cs in stored.items() if len(cs) > 1}
        if twice:
            self._consolidate(twice)  # then read them again: their pending documents go in the next round
        actions: list[dict[str, Any]] = []
        sent: list[tuple[str, str, dict[str, int]]] = []
        retry: dict[str, list[Pending]] = {i: todo[i] for i in twice}
        for mention_id in ids:
            if mention_id in twice:
                continue
            copy = stored[mention_id][0] if stored[mention_id] else None
            doc, outcome = self._fold(copy.source if copy else None, todo[mention_id])
            if doc is None:
                result.duplicates += outcome["duplicates"]
                continue
            if copy is None:
                index = mapping.index_of(doc, self.prefix)  # the month first seen, decided once
                actions.append({"create": {"_index": index, "_id": mention_id}})
            else:
                index = copy.index
                actions.append({"index": {"_index": index, "_id": mention_id, "if_seq_no": copy.seq_no,
                                          "if_primary_term": copy.primary_term}})
            actions.append(doc)  # marked as founder or not below, then sent without its band keys
            sent.append((mention_id, index, outcome))
        if not actions:
            return retry
        mapping.mark_founders(actions[1::2])  # the founders' bands: how their clusters are found
        actions[1::2] = [mapping.stored_form(doc) for doc in actions[1::2]]
        resp = self._call(self.es.bulk, operations=actions, refresh=False, filter_path=ITEM_OUTCOME)
        unmapped: set[str] = set()  # indices whose mapping lacks a field a document of this round carries
        for (mention_id, index, outcome), item in zip(sent, resp["items"], strict=True):
            status = next(iter(item.values())).get("status", 500)
            if status in (200, 201):
                result.indexed += outcome["indexed"]
                result.updated += outcome["updated"]
                result.duplicates += outcome["duplicates"]
                self._remember(mention_id, index)
            elif status == 409 or status in _RETRYABLE_STATUS:
                # someone wrote it meanwhile (a create lost: it is there now), or ES is busy: read again and merge
                if status == 409:
                    self._remember(mention_id, index)
                retry[mention_id] = todo[mention_id]
            else:
                if _lacks_a_field(item) and not self.mended:
                    unmapped.add(index)  # a month an older version made: mended below, written again
                    retry[mention_id] = todo[mention_id]
                    continue
                err = next(iter(item.values())).get("error") or {}
                reason = f"Elasticsearch rejected it: {err.get('type', status)}: {err.get('reason', '')}".strip()
                result.failed.extend((p.origin, reason) for p in todo[mention_id])
        if unmapped:
            self._mend(sorted(unmapped))
        return retry

    def _mend(self, indices: list[str]) -> None:
        """Bring the template and the outdated months up to the current mapping, once per batch (see the module)."""
        self.mended = True
        log.warning("%s: refused a field of mapping version %d (an index made from an older Groundswell's template "
                    "while both ran?); putting the current template and the missing fields in place, then writing "
                    "those mentions again", ", ".join(indices), mapping.MAPPING_VERSION)
        self._call(ensure_schema, es=self.es, prefix=self.prefix)
