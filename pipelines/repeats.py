"""Repeat complaints: the same author complaining about the same brand again within 30 days.

A service team treats a second complaint from one customer differently from a first: the first answer did not
help. Each complaint of a batch is marked `complaint.repeat` (and `complaint.previous_id`, the author's latest
earlier complaint about the brand) at index time, against what is stored and what is earlier in the batch:
one search per batch, never one per document. The author is `store.mapping.author_key` (author id, else name,
per platform). A complaint stored before an earlier one of the same author arrives is not marked again until it
is crawled again (its next revisit does).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from core.times import iso, parse_time
from store import mapping

WINDOW = timedelta(days=30)
LOOKUP_MAX = 10_000  # earlier complaints fetched per batch (the newest first)


@dataclass(frozen=True)
class Earlier:
    mention_id: str
    published_at: datetime


Key = tuple[str, str]  # (author key, brand)


def _key(doc: Mapping[str, Any]) -> Key | None:
    complaint = doc.get("complaint") or {}
    who = doc.get("author_key") or mapping.author_key(str(doc.get("platform") or ""), doc.get("author_id"),
                                                      doc.get("author"))
    if not complaint.get("is_complaint") or not doc.get("brand") or who is None:
        return None
    return (who, str(doc["brand"]))


def mark_repeats(docs: list[dict[str, Any]], stored: Mapping[Key, Iterable[Earlier]]) -> int:
    """Set complaint.repeat / previous_id on every complaint of the batch (pure); returns how many repeat.

    The previous complaint is the latest one by the same author about the same brand published in the 30 days
    before this one (stored, or earlier in this batch), never the mention itself."""
    known: dict[Key, list[Earlier]] = {k: list(v) for k, v in stored.items()}
    repeats = 0
    dated = sorted(((t, i, d) for i, d in enumerate(docs) if (t := parse_time(d.get("published_at"))) is not None),
                   key=lambda x: (x[0], x[1]))
    for published, _, doc in dated:
        complaint = doc.get("complaint")
        key = _key(doc)
        if key is None or not isinstance(complaint, dict):
            continue
        before = [e for e in known.get(key, ()) if published - WINDOW <= e.published_at < published
                  and e.mention_id != doc.get("mention_id")]
        previous = max(before, key=lambda e: e.published_at, default=None)
        complaint["repeat"] = previous is not None
        complaint["previous_id"] = previous.mention_id if previous else None
        repeats += previous is not None
        known.setdefault(key, []).append(Earlier(str(doc.get("mention_id")), published))
    return repeats


def lookup_query(docs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One query for the stored complaints that could precede any complaint of the batch; None if none can."""
    keyed = [(d, k) for d in docs if (k := _key(d)) is not None]
    times = [t for d, _ in keyed if (t := parse_time(d.get("published_at"))) is not None]
    if not keyed or not times:
        return None
    by_id: dict[str, set[str]] = {}
    by_name: dict[str, set[str]] = {}
    for d, _ in keyed:
        if d.get("author_id"):
            by_id.setdefault(d["platform"], set()).add(str(d["author_id"]))
        else:
            by_name.setdefault(d["platform"], set()).add(str(d["author"]))
    authors: list[dict[str, Any]] = [
        {"bool": {"filter": [{"term": {"platform": p}}, {"terms": {"author_id": sorted(ids)}}]}}
        for p, ids in sorted(by_id.items())
    ] + [
        {"bool": {"filter": [{"term": {"platform": p}}, {"terms": {"author": sorted(names)}}],
                  "must_not": [{"exists": {"field": "author_id"}}]}}
        for p, names in sorted(by_name.items())
    ]
    return {"bool": {"filter": [
        {"term": {"complaint.is_complaint": True}},
        {"terms": {"brand": sorted({k[1] for _, k in keyed})}},
        {"range": {"published_at": {"gte": iso(min(times) - WINDOW), "lt": iso(max(times))}}},
        {"bool": {"should": authors, "minimum_should_match": 1}},
    ]}}


class RepeatResolver:
    """The Elasticsearch stage's per-batch lookup (like pipelines.clusters.ClusterResolver).

    What this process marked earlier is remembered (bounded) and joins what the store returns: a complaint written
    a moment ago is not searchable until the store refreshes, and that timing must not change the answer."""

    MEMORY = 5_000  # complaints remembered (the newest): more than the store's refresh can lag behind a run, which
    # the Elasticsearch stage bounds (pipelines.elasticsearch); older ones are found in the store

    def __init__(self, es: Elasticsearch, prefix: str, call: Callable[..., Any], memory: int = MEMORY):
        self.es = es
        self.prefix = prefix
        self.memory = memory
        self.call = call  # the writer's retrying caller: failures surface as StoreUnavailable
        self.seen: dict[Key, dict[str, Earlier]] = {}
        self.recent: OrderedDict[str, Key] = OrderedDict()  # mention id -> its key, oldest first

    def stored(self, docs: list[dict[str, Any]]) -> dict[Key, list[Earlier]]:
        return self.stored_by(lookup_query(docs))

    def stored_by(self, query: dict[str, Any] | None) -> dict[Key, list[Earlier]]:
        """The stored complaints lookup_query's query finds (touches nothing of this resolver's: the Elasticsearch
        stage runs it on another thread while the batch's cluster ids are resolved)."""
        if query is None:
            return {}
        resp = self.call(
            self.es.search, index=mapping.alias(self.prefix), query=query, size=LOOKUP_MAX,
            sort=[{"published_at": "desc"}], source=["mention_id", "platform", "author_id", "author", "brand",
                                                      "published_at", "complaint.is_complaint"],
            ignore_unavailable=True, allow_no_indices=True,
            # months are by first sighting, and a post is published before it is first seen: the months whose
            # published_at cannot reach the window are skipped by the node's can-match round (from their points'
            # bounds) instead of looking up every author's terms in them. The node does that on its own only
            # from 128 shards up; a year of months is 12.
            pre_filter_shard_size=1,
        )
        out: dict[Key, list[Earlier]] = {}
        for hit in resp["hits"]["hits"]:
            src = hit["_source"]
            key, at = _key(src), parse_time(src.get("published_at"))
            if key is not None and at is not None:
                out.setdefault(key, []).append(Earlier(hit["_id"], at))
        return out

    def _with_memory(self, docs: list[dict[str, Any]], stored: dict[Key, list[Earlier]]) -> dict[Key, list[Earlier]]:
        for key in {k for d in docs if (k := _key(d)) is not None}:
            if key in self.seen:
                known = {e.mention_id for e in stored.get(key, ())}
                stored.setdefault(key, []).extend(e for m, e in self.seen[key].items() if m not in known)
        return stored

    def _remember(self, docs: list[dict[str, Any]]) -> None:
        for d in docs:
            key, at = _key(d), parse_time(d.get("published_at"))
            if key is None or at is None:
                continue
            mid = str(d.get("mention_id"))
            self.seen.setdefault(key, {})[mid] = Earlier(mid, at)
            self.recent[mid] = key
            self.recent.move_to_end(mid)
            while len(self.recent) > self.memory:
                old, old_key = self.recent.popitem(last=False)
                earlier = self.seen.get(old_key)
                if earlier is not None:
                    earlier.pop(old, None)
                    if not earlier:
                        del self.seen[old_key]

    def resolve(self, docs: list[dict[str, Any]], stored: dict[Key, list[Earlier]] | None = None) -> int:
        """Mark the batch's repeats; `stored`: what stored(docs) returns, when the caller already asked."""
        found = mark_repeats(docs, self._with_memory(docs, self.stored(docs) if stored is None else stored))
        self._remember(docs)
        return found
