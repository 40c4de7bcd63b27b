"""Resolves near-duplicate cluster ids against everything already stored, a few requests per batch.

The fingerprint (pipelines.near_duplicates) travels with each document; here each document of a batch
joins the cluster of its most similar earlier mention: one seen earlier in this process (in memory), or a
cluster stored in Elasticsearch by any earlier run or other process. A repost whose original is known joins
the original's cluster; a stored mention keeps its cluster (mapping.merge).

Stored clusters are compared through their founders (the first member: its mention id is the cluster id), and
found through them too: a founder carries its band keys in `cluster_band_ids` (store.mapping, set by the writer), so
one search of the batch's bands there returns the clusters near it, one document per cluster however many stored
copies it has (a viral complaint's thousands of copies share its band keys: searching every mention's bands read
all of them, and the cost grew with what is stored); when more founders match than a search returns
(MAX_CLUSTERS), those sharing the most of the batch's band keys come first, and founders this process holds in
memory are left out of the search (they are compared there), so that they take no place in that cut (ingest runs a
batch's searches ahead, while the batch before it is resolved, and takes their answer only where it is the one the
batch would get itself: `look_ahead`). One realtime
mget, at the indices the search found them in, fetches the founders not in the (bounded) cache, and each document
is compared with the founders that share a band key with it. Clusters stored by a version before those keys are
given them by store.upgrade when a writer first opens their index (version 4's founders keep their keyword form,
`cluster_bands`, which the search asks too).

A stored cluster is a candidate for a document when its founder shares a band with that document (as in the
in-memory index; before, when any member shared one with any document of the batch, so the answer depended on the
batch). A document joins a stored cluster only through its similarity to the founder, so the two differ only for a
founder at the similarity threshold whose bands all differ from the document's: the band scheme's
1 - (1 - s^4)^32 gives 0.87 at s=0.5 and 0.99 at 0.6 (tests/test_cluster_ids_pinned.py pins the ids of a sample to
those of the earlier resolver, with the five that differ named). Comparing only those pairs costs a few hundred
signature comparisons per batch instead of every document against up to 1,000 founders (64 M values).

A stored cluster is a candidate only while it is young: its founder was first seen within the window
(`clusters.window_days`, 30 by default) of the document. Copies spread while a post is new; a copy pasted months
later starts a cluster of its own (a repost still joins its original's cluster and a stored mention keeps its own,
through their ids). The window is what keeps the search flat in what is stored: mentions live in monthly indices by
first-seen month (store.mapping), so the founder search asks only the months of the window, and its cost grows with
the rate of new posts, not with everything stored (term lookups of ~15,000 band keys cost ~300 ms a batch over a
year of 1M mentions, ~60 ms over two months of them, ~20 ms over 20,000: bench/RESULTS.md). The window is checked per
document too, so the answer does not depend on which months a batch's other documents reach.
"""

from __future__ import annotations

import itertools
import logging
from collections import OrderedDict
from collections.abc import Callable, Container, Iterable, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch

from core.times import iso, parse_time
from pipelines.near_duplicates import (
    NUM_PERM,
    SIMILAR,
    Fingerprint,
    LshIndex,
    band_keys,
    many_band_ids,
    stacked,
)
from store import mapping
from store.lookup import Found, stored_copies, stored_sources

log = logging.getLogger(__name__)

INDEX_MEMORY = 5_000  # mentions of this run kept in memory (band index ~3 KB each, cluster ids); older ones are
# found in the store like any earlier run's (the Elasticsearch stage makes them searchable in time:
# pipelines.elasticsearch.visible_within), so memory stays flat whatever the input's size
MAX_CLUSTERS = 1_000  # stored clusters considered per batch (founders sharing a band with one of its documents): the
# 1,000 sharing the most bands with it cost the writer what the newest 2,000 did, and compare better (RESULTS.md)
RANKED = True  # beyond MAX_CLUSTERS, those sharing the most bands with the batch; False: the newest (before; the
# benchmark compares them)
LOOK_AHEAD_SLACK = 200  # founders the look-ahead's search returns beyond MAX_CLUSTERS: room for those the batch before
# it put in memory, which the search could not leave out yet (re-observed founders: a few a batch)
AHEAD = 2  # batches whose lookups are under way or done, not yet resolved: the batch resolved next and the one after
FOUNDER_CACHE = 2_000  # founders kept (least recently used go first): ~2.5 KB each (signature, 32 band keys)
WINDOW = timedelta(days=30)  # core.config.Clusters.window_days
MAX_MONTHS = 24  # a batch whose window reaches more months than this (a backlog out of order) searches them all


def seen_at(doc: dict[str, Any]) -> datetime | None:
    """When a document was first seen (first_seen_at, else crawled_at), aware; None when it carries neither."""
    for key in ("first_seen_at", "crawled_at"):
        try:
            when = parse_time(doc.get(key))
        except ValueError:
            continue
        if when is not None:
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    return None


def months(prefix: str, times: Iterable[datetime], window: timedelta) -> list[str]:
    """The monthly indices that can hold a founder first seen within `window` of any of `times`: the months from
    the earliest time minus the window to the latest plus the window, and one more (a merge can move a stored
    post's first_seen_at earlier than the month of the index it stays in, never later)."""
    ts = sorted(times)
    if not ts:
        return []
    first, last = (ts[0] - window).astimezone(UTC), (ts[-1] + window).astimezone(UTC)
    month, end = first.date().replace(day=1), mapping.month_after(last.date().replace(day=1))
    out: list[str] = []
    while month <= end:
        out.append(mapping.index_for(prefix, datetime.combine(month, time(), UTC)))
        month = mapping.month_after(month)
    return out


@dataclass(frozen=True, slots=True)
class Founder:
    """A stored cluster's first member as the resolver compares it: signature, band keys, brand."""

    array: np.ndarray  # NUM_PERM uint32
    band_ids: np.ndarray  # its band keys as numbers (mapping.band_ids: a batch's lsh_bands are read the same way)
    brand: str | None
    seen: datetime | None = None  # first_seen_at: the cluster's age for the window

    @classmethod
    def many(cls, sources: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, Founder]]:
        """(cluster id, its Founder) from stored sources (minhash, brand, first_seen_at), many at once: their band
        keys in one pass (many_band_ids). A minhash of another length than NUM_PERM is taken alone."""
        arrays = [Fingerprint.decode_array(src["minhash"]) for _, src in sources]
        full = [i for i, a in enumerate(arrays) if len(a) == NUM_PERM]
        ids = dict(zip(full, many_band_ids(np.stack([arrays[i] for i in full])) if full else [], strict=True))
        return [(cid, cls(a, ids[i] if i in ids else mapping.band_ids(band_keys(a)), src.get("brand"), seen_at(src)))
                for i, ((cid, src), a) in enumerate(zip(sources, arrays, strict=True))]


def ids_of(doc: dict[str, Any]) -> tuple[str, ...]:
    """The ids that can give a document its cluster, first to last: its own, then its original's when it is a
    repost."""
    mid = doc["mention_id"]
    return (mid, mapping.doc_id(doc["platform"], doc["repost_of"])) if doc.get("repost_of") else (mid,)


@dataclass(frozen=True, slots=True)
class Looked:
    """A batch's stored lookups, made ahead (ClusterResolver.look_ahead): the ids search's answer, the documents it
    left to compare with stored founders, and the founder search for those, with the in-memory founders it left out
    (`skip`) and how many hits it asked for (`size`: as many came back means more may match)."""

    stored_ids: dict[str, str]
    found: Found
    open_: tuple[int, ...]
    hits: list[tuple[str, str]]
    skip: frozenset[str]
    size: int


_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def nearest_founders(
    bands: Sequence[Sequence[str]], sigs: Sequence[np.ndarray | None], times: Sequence[datetime | None],
    brands: Sequence[str | None], founders: Sequence[Founder], window: timedelta,
) -> list[tuple[int, float] | None]:
    """For each document, (index in `founders`, similarity) of the most similar founder at or above SIMILAR among
    its candidates, else None. A founder is a candidate for a document (with a signature of NUM_PERM) when it shares
    one of its band keys (`bands`: LSH, as in the in-memory index, so a document's cluster does not depend on which
    other documents share its batch), names its brand or none (copies of one complaint name one brand; a document
    naming none takes any), and was first seen within `window` of it (either time unknown: yes). Ties go to the
    founder first in `founders`.

    The whole batch at once: every (document, founder) pair sharing a key comes from one sorted join of their keys
    as numbers, and every pair's similarity from one comparison of their signatures. A loop over the ~1,000
    founders and then over the ~650 documents with candidates cost the writer's thread ~30 ms a batch."""
    out: list[tuple[int, float] | None] = [None] * len(sigs)
    usable = [i for i, sig in enumerate(sigs) if sig is not None and len(sig) == NUM_PERM and bands[i]]
    if not usable or not founders:
        return out
    # the founders' keys, sorted, and whose each is
    founder_keys = np.concatenate([f.band_ids for f in founders])
    owner = np.repeat(np.arange(len(founders)), [len(f.band_ids) for f in founders])
    order = np.argsort(founder_keys)
    founder_keys, owner = founder_keys[order], owner[order]
    # every document key's run of equal founder keys (none for a string that is no key: -1), the keys in order (a
    # sorted search is a third of an unsorted one's)
    doc_keys = mapping.band_ids([b for i in usable for b in bands[i]])
    doc_of = np.repeat(np.arange(len(usable)), [len(bands[i]) for i in usable])
    order = np.argsort(doc_keys)
    doc_keys, doc_of = doc_keys[order], doc_of[order]
    lo = np.searchsorted(founder_keys, doc_keys, "left")
    runs = np.where(doc_keys >= 0, np.searchsorted(founder_keys, doc_keys, "right") - lo, 0)
    total = int(runs.sum())
    if total == 0:
        return out
    at = np.repeat(lo - (np.cumsum(runs) - runs), runs) + np.arange(total)
    pairs = np.unique(np.repeat(doc_of, runs) * len(founders) + owner[at])  # by document, then founder
    doc, founder = pairs // len(founders), pairs % len(founders)
    # the candidates: same brand or none, founder young enough
    codes: dict[str | None, int] = {None: 0, "": 0}  # no brand: 0
    doc_brand = np.array([codes.setdefault(brands[i], len(codes)) for i in usable])
    founder_brand = np.array([codes.setdefault(f.brand, len(codes)) for f in founders])
    db, fb = doc_brand[doc], founder_brand[founder]
    keep = (db == 0) | (fb == 0) | (db == fb)
    doc_time = np.array([_micros(times[i]) for i in usable], dtype=np.int64)
    founder_time = np.array([_micros(f.seen) for f in founders], dtype=np.int64)
    dt, ft = doc_time[doc], founder_time[founder]
    keep &= (dt == _UNKNOWN) | (ft == _UNKNOWN) | (np.abs(dt - ft) <= window // _MICROSECOND)
    doc, founder = doc[keep], founder[keep]
    if not len(doc):
        return out
    doc_sigs = stacked([np.asarray(sigs[i], dtype=np.uint32) for i in usable])
    founder_sigs = stacked([f.array for f in founders])
    sims = np.count_nonzero(doc_sigs[doc] == founder_sigs[founder], axis=1) / NUM_PERM
    # per document its most similar founder, the first of equals (pairs are sorted by founder within a document)
    best = np.lexsort((founder, -sims, doc))
    first = best[np.r_[True, doc[best][1:] != doc[best][:-1]]]
    for j in first[sims[first] >= SIMILAR].tolist():
        out[usable[int(doc[j])]] = (int(founder[j]), float(sims[j]))
    return out


_UNKNOWN = np.iinfo(np.int64).min  # no time: within any window


def _micros(when: datetime | None) -> int:
    """An aware time as whole microseconds since the epoch (exact, where a float of seconds rounds); _UNKNOWN for
    none."""
    return _UNKNOWN if when is None else (when - _EPOCH) // _MICROSECOND


class ClusterResolver:
    def __init__(
        self, es: Elasticsearch, prefix: str, call: Callable[..., Any], memory: int = INDEX_MEMORY,
        window: timedelta = WINDOW,
    ):
        self.es = es
        self.window = window
        self.prefix = prefix
        self.call = call  # the writer's retrying caller: failures surface as StoreUnavailable
        self.index = LshIndex(memory)
        self.cluster_of: OrderedDict[str, str] = OrderedDict()
        self.memory = memory
        self.founders: OrderedDict[str, Founder] = OrderedDict()  # cluster id -> its founder
        # cluster id -> when its founder was first seen, for the clusters of the mentions in memory (the window
        # holds there too: which path finds a cluster must not change whether it is young enough)
        self.cluster_seen: OrderedDict[str, datetime] = OrderedDict()
        self.found_in: dict[str, set[str]] = {}  # the last founder search's answer: cluster id -> its indices
        # the lookups started ahead, by batch (look_ahead): the next batch's, and the one after it, started while
        # the next one is resolved
        self.ahead: dict[tuple[str, ...], Future[Looked]] = {}
        self.pool: ThreadPoolExecutor | None = None  # their thread
        self.looked = {"used": 0, "searched_again": 0}  # how batches' founder searches went (look_ahead)

    def _remember(self, mention_id: str, cluster_id: str) -> None:
        self.cluster_of[mention_id] = cluster_id
        self.cluster_of.move_to_end(mention_id)

    def _forget(self, keep: int) -> None:
        """Down to the newest `keep` mentions (after a batch: a batch never forgets its own)."""
        while len(self.cluster_of) > keep:
            self.cluster_of.popitem(last=False)
        while len(self.cluster_seen) > keep:
            self.cluster_seen.popitem(last=False)
        self.index.capacity = keep
        self.index.trim()

    # --- what is stored -------------------------------------------------------------------------------

    def _stored_clusters(self, docs: list[dict[str, Any]], times: list[datetime | None] | None = None) -> list[str]:
        """The stored clusters whose founder shares a band key with a document of the batch and was first seen
        within the window of the batch's times, by id (sorted, so that ties between equally similar founders go the
        same way whatever order the node returns them in), but for the founders in memory (compared there). Only the
        months of the window are searched."""
        # a set, not sorted: the node does not care for the order of ~16,000 terms, and sorting them cost the writer's
        # thread more than the search's own wait
        band_set: set[str] = set().union(*(d.get("lsh_bands") or () for d in docs))
        times = [seen_at(d) for d in docs] if times is None else times
        # compared in memory: out of the search, so that they take no place in its cut (MAX_CLUSTERS)
        hits = self._search_founders(band_set, times, self.index.founders_sharing(band_set), MAX_CLUSTERS)
        return self._found(hits)

    def _found(self, hits: list[tuple[str, str]]) -> list[str]:
        """Keep where the founder search found each founder (`found_in`, read by _load_founders); their ids, sorted."""
        self.found_in = {}
        for cid, index in hits:
            self.found_in.setdefault(cid, set()).add(index)
        return sorted(self.found_in)

    def _search_founders(
        self, band_set: AbstractSet[str], times: list[datetime | None], skip: AbstractSet[str], size: int
    ) -> list[tuple[str, str]]:
        """(founder id, its index) of the `size` best stored founders sharing a band of `band_set` within the window of
        `times`, those in `skip` left out, in the node's order (the best first). Reads no state of the resolver's
        that a batch changes: the look-ahead runs it in a thread of its own."""
        bands = list(band_set)
        if not bands:
            return []
        known = [t for t in times if t is not None]
        # one clause per band position (a key's first two characters), each matching a founder whose key at that
        # position is one of the batch's there, scoring 1: a founder's score is how many of its bands the batch has.
        # Version 5's founders carry the keys as numbers, version 4's as keyword terms: a month holds one form or
        # both (store.mapping), and the keyword form is asked of the months that hold it only
        at: dict[str, list[str]] = {}
        for band in bands:
            at.setdefault(band[:2], []).append(band)
        filters: list[dict[str, Any]] = []
        if len(known) == len(times):
            lo, hi = min(known) - self.window, max(known) + self.window
            filters.append({"range": {"first_seen_at": {"gte": iso(lo), "lte": iso(hi)}}})
            names = months(self.prefix, known, self.window)
            index = ",".join(names) if len(names) <= MAX_MONTHS else mapping.alias(self.prefix)
        else:  # a document with no time is compared with every stored founder (ingest always sets crawled_at)
            index = mapping.alias(self.prefix)
        older = self._months_with_v4_founders(index)
        shared = [{"constant_score": {"filter": {"bool": {"should": [
            {"terms": {"cluster_band_ids": mapping.key_ids(mapping.band_ids(keys))}},
            *([{"bool": {"filter": [{"terms": {"cluster_bands": keys}}, {"terms": {"_index": older}}]}}]
              if older else []),
        ]}}}} for keys in at.values()]
        resp = self.call(
            self.es.search,
            index=index,
            size=size,
            query={"bool": {"should": shared, "minimum_should_match": 1, "filter": filters,
                            **({"must_not": [{"terms": {"mention_id": list(skip)}}]} if skip else {})}},
            # more than MAX_CLUSTERS founders can share a band with a batch (bands of 4 rows collide across similar
            # short posts: on the benchmark's generated posts every batch of a 1M store matches ~20,000; real posts
            # of mixed topics 0.1 to 0.3% of the window's founders, of one brand or kind 5 to 6%, which reach the cap
            # from ~17,000 founders within the window: bench/collisions_bench.py): those
            # sharing the most bands with it are compared (LSH's own estimate of similarity), then the newest (copies
            # spread while new), then by id, so the cut falls the same way whatever order the node finds them in
            # (bench/founder_cap_bench.py)
            sort=["_score", {"first_seen_at": {"order": "desc", "unmapped_type": "date"}},
                  {"mention_id": {"order": "asc", "unmapped_type": "keyword"}}] if RANKED
            else [{"first_seen_at": {"order": "desc", "unmapped_type": "date"}}],
            # the founder's id from its sort values (the ranked sort ends with it), else from its doc values: reading
            # 2,000 stored _id fields cost more than the search, and fetching 1,200 hits' doc values ~18% of the
            # node's CPU for the search (interleaved replays of one batch's search: medians 118 and 97 ms)
            stored_fields="_none_",
            **({} if RANKED else {"docvalue_fields": ["mention_id"]}),
            track_total_hits=False,
            ignore_unavailable=True,
            allow_no_indices=True,
            # only what is read below: 2,000 hits' ids, scores and sort values were most of what the writer's
            # thread parsed (no hits at all: the node leaves out "hits" too)
            filter_path=["hits.hits._index", "hits.hits.sort" if RANKED else "hits.hits.fields"],
        )
        hits = (resp.get("hits") or {}).get("hits") or ()
        if RANKED:
            return [(str(h["sort"][2]), str(h["_index"])) for h in hits if len(h.get("sort") or ()) > 2
                    and h["sort"][2] is not None]
        return [(str(h["fields"]["mention_id"][0]), str(h["_index"])) for h in hits if h.get("fields")]

    def _months_with_v4_founders(self, index: str) -> list[str]:
        """The months among `index` that hold a founder in version 4's form (`cluster_bands`), asked of the node at
        every batch (a version-4 process may still be writing during a rolling upgrade). The founder search reads
        that form only there: its keyword terms cost the node a quarter of the search in every month, holding them
        or not (the node builds the batch's ~32,000 terms per month before finding the field empty)."""
        resp = self.call(
            self.es.search,
            index=index,
            size=0,
            query={"exists": {"field": "cluster_bands"}},
            aggs={"months": {"terms": {"field": "_index", "size": 1000}}},
            track_total_hits=False,
            ignore_unavailable=True,
            allow_no_indices=True,
            filter_path=["aggregations.months.buckets.key"],
        )
        buckets = ((resp.get("aggregations") or {}).get("months") or {}).get("buckets") or ()
        return sorted(str(b["key"]) for b in buckets)

    def _load_founders(self, cluster_ids: list[str]) -> None:
        for c in cluster_ids:
            if c in self.founders:
                self.founders.move_to_end(c)
        missing = [c for c in cluster_ids if c not in self.founders]
        fields = ["minhash", "brand", "first_seen_at"]
        # where the founder search found them: read there (a realtime mget), not by an ids search of every month
        known = [(index, c) for c in missing for index in sorted(self.found_in.get(c, ()))]
        if known:
            resp = self.call(self.es.mget, docs=[{"_index": index, "_id": c} for index, c in known],
                             source_includes=fields)
            found = [(str(d["_id"]), d.get("_source") or {}) for d in resp["docs"] if d.get("found")]
        else:
            found = []
        unplaced = [c for c in missing if c not in self.found_in]
        new: dict[str, dict[str, Any]] = {}
        for cid, src in found + stored_sources(self.es, self.prefix, unplaced, fields, self.call):
            if src.get("minhash") and cid not in self.founders:
                new.setdefault(cid, src)
        self.founders.update(Founder.many(list(new.items())))
        while len(self.founders) > max(FOUNDER_CACHE, len(cluster_ids)):
            self.founders.popitem(last=False)

    def _young(self, seen: datetime | None, when: datetime | None) -> bool:
        """Whether a cluster whose founder was first seen at `seen` is within the window of a document first seen
        at `when` (either time unknown: yes)."""
        return seen is None or when is None or abs(seen - when) <= self.window

    def _young_for(self, when: datetime | None) -> Callable[[str], bool] | None:
        """_young for the in-memory clusters (by id) and a document first seen at `when`, as the index asks it of
        each candidate (~125,000 times a 20,000-line ingest): the window's ends computed once. None: all are."""
        if when is None:
            return None
        seen_of = self.cluster_seen.get
        try:
            lo, hi = when - self.window, when + self.window
        except OverflowError:  # a time at the calendar's end
            return lambda c: self._young(seen_of(c), when)
        return lambda c: (seen := seen_of(c)) is None or lo <= seen <= hi

    def _best_stored(
        self, docs: list[dict[str, Any]], sigs: list[np.ndarray | None], times: list[datetime | None],
        looked: Looked | None = None,
    ) -> list[tuple[str, float] | None]:
        """For each document, the most similar stored cluster founder at or above SIMILAR, within the window
        (`looked`: the look-ahead's founder search for these very documents)."""
        # clusters whose founder is in the in-memory index are compared there, and the search leaves them out: when
        # more founders match than it returns, those it showed took places in its cut (a fifth to all of the 1,000 on
        # the benchmark's posts) from stored clusters nothing else compares, and whether it showed them was down to
        # the store's refresh timing (bench/RESULTS.md, issue 14 part 11)
        ranked = self._cut(looked, docs) if looked is not None else None
        if looked is not None:
            self.looked["used" if ranked is not None else "searched_again"] += 1
        if ranked is None:
            ranked = self._stored_clusters(docs, times)
        clusters = [c for c in ranked if c not in self.index.entries]
        self._load_founders(clusters)
        known = [c for c in clusters if c in self.founders]
        out: list[tuple[str, float] | None] = [None] * len(docs)
        if not known:
            return out
        founders = [self.founders[c] for c in known]
        bands = [d.get("lsh_bands") or () for d in docs]
        brands = [d.get("brand") for d in docs]
        for i, found in enumerate(nearest_founders(bands, sigs, times, brands, founders, self.window)):
            if found is not None:
                out[i] = (known[found[0]], found[1])
        return out

    def _stored_ids(self, docs: list[dict[str, Any]]) -> tuple[dict[str, str], Found]:
        """Stored cluster ids of the batch's mentions and of the originals its reposts point at, and where each is
        stored: one ids search. A stored mention keeps its cluster (mapping.merge), so a copy of it joins that
        cluster, as it did when the run still remembered it (what this run remembers wins: `_choose`). Every
        mention of the batch is asked for, remembered or not, because the writer reads where they are from the same
        answer instead of searching the same ids again (pipelines.elasticsearch); every original too, so that the
        answer does not depend on what this run remembers when it is asked (look_ahead asks a batch early)."""
        wanted = {x for d in docs for x in ids_of(d)}
        found = stored_copies(self.es, self.prefix, wanted, ["cluster_id"], self.call)
        out: dict[str, str] = {}
        for mid, src in found.sources:
            if src.get("cluster_id"):
                out.setdefault(mid, src["cluster_id"])
        return out, found

    @staticmethod
    def _open(docs: list[dict[str, Any]], stored_ids: dict[str, str], known: Container[str]) -> tuple[int, ...]:
        """The documents no id gives a cluster (_by_id, with `known` for the mentions this run remembers): the ones
        compared with stored founders."""
        return tuple(i for i, d in enumerate(docs) if not any(x in known or x in stored_ids for x in ids_of(d)))

    # --- looking ahead --------------------------------------------------------------------------------

    def look_ahead(self, docs: list[dict[str, Any]], before: list[dict[str, Any]]) -> None:
        """Start the stored lookups of `docs` (the ids search, the founder search) in a thread of their own, while
        this one resolves `before`, the batch resolved right before them: the writer's thread waited on the founder
        search for a third of an ingest, more into a large store (bench/RESULTS.md, issue 14 part 12). resolve(docs)
        takes their answer when it is the one it would get itself, and searches again when it may not be:
        - the documents compared with founders are those no id gives a cluster, as known now and `before`'s ids;
          resolve checks they are the same;
        - the search leaves out only the in-memory founders that `before` cannot make this run forget (all but the
          oldest as many as it has: the index forgets the oldest first), and returns LOOK_AHEAD_SLACK hits more
          than the cap; resolve drops the founders it holds in memory then and keeps the first MAX_CLUSTERS, which
          are the exact search's when the hits were not cut or enough remain.
        What the store shows it a batch earlier is enough: the lookups remember two batches beyond what may not be
        searchable yet (pipelines.elasticsearch.memory_for)."""
        coming = {d["mention_id"] for d in before}
        known = frozenset(x for d in docs for x in ids_of(d) if x in coming or x in self.cluster_of)
        entries = self.index.entries
        kept = [(m, entries[m].bands) for m in itertools.islice(self.index.order, len(before), None)
                if entries[m].cluster_id == m]
        if self.pool is None:
            self.pool = ThreadPoolExecutor(1, thread_name_prefix="groundswell-ahead")
        while len(self.ahead) >= AHEAD:  # one a batch that was never resolved (its write failed before): let go
            self.ahead.pop(next(iter(self.ahead)))
        self.ahead[tuple(d["mention_id"] for d in docs)] = self.pool.submit(self._look, docs, known, kept)

    def _look(
        self, docs: list[dict[str, Any]], known: frozenset[str], kept: list[tuple[str, tuple[str, ...]]]
    ) -> Looked:
        """In the look-ahead's thread: reads the store, and only what look_ahead handed it of this resolver's state."""
        stored_ids, found = self._stored_ids(docs)
        open_ = self._open(docs, stored_ids, known)
        band_set: set[str] = set().union(*(docs[i].get("lsh_bands") or () for i in open_))
        skip = frozenset(m for m, bands in kept if not band_set.isdisjoint(bands))
        size = MAX_CLUSTERS + LOOK_AHEAD_SLACK
        hits = self._search_founders(band_set, [seen_at(docs[i]) for i in open_], skip, size) if open_ else []
        return Looked(stored_ids, found, open_, hits, skip, size)

    def _taken(self, docs: list[dict[str, Any]]) -> Looked | None:
        """The look-ahead's answer for this batch, if one was started for it and got one."""
        future = self.ahead.pop(tuple(d["mention_id"] for d in docs), None)
        if future is None:
            return None
        try:
            return future.result()
        except Exception as exc:  # the batch's own lookups ask again, and fail as they fail
            log.debug("the look-ahead's lookups failed (%s); asking again", exc)
            return None

    def _cut(self, looked: Looked, docs: list[dict[str, Any]]) -> list[str] | None:
        """The founder search's answer for `docs` from the look-ahead's hits: those not held in memory now, the first
        MAX_CLUSTERS (what the search would return now), or None when that cannot be told from them."""
        band_set: set[str] = set().union(*(d.get("lsh_bands") or () for d in docs))
        skip = self.index.founders_sharing(band_set)
        if not looked.skip <= skip:  # it left out a founder this run no longer holds (or no longer founds)
            return None
        hits = [h for h in looked.hits if h[0] not in skip]
        if len(looked.hits) >= looked.size and len(hits) < MAX_CLUSTERS:  # more matched than it returned
            return None
        return self._found(hits[:MAX_CLUSTERS])

    def close(self) -> None:
        """Stop the look-ahead's thread (after its search, if one is under way)."""
        self.ahead.clear()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    # --- deciding -------------------------------------------------------------------------------------

    def resolve(self, docs: list[dict[str, Any]]) -> dict[str, set[str]] | None:
        """Set cluster_id on every document, in order (earlier documents of the batch count as earlier). Returns
        where the batch's posts are stored, as its one ids search found them (store.writer reads its stored copies
        there), or None when that answer was cut short."""
        sigs = [Fingerprint.decode_array(d["minhash"]) if d.get("minhash") else None for d in docs]  # decoded once
        times = [seen_at(d) for d in docs]  # parsed once
        looked = self._taken(docs)
        stored_ids, found = self._stored_ids(docs) if looked is None else (looked.stored_ids, looked.found)
        # a post seen before and a repost of a known original keep their cluster whatever their text: only the
        # others are compared with stored founders (a crawl sees many posts again, for their engagement)
        open_ = self._open(docs, stored_ids, self.cluster_of)
        stored: list[tuple[str, float] | None] = [None] * len(docs)
        if open_:
            best = self._best_stored([docs[i] for i in open_], [sigs[i] for i in open_], [times[i] for i in open_],
                                     looked if looked is not None and looked.open_ == open_ else None)
            for i, b in zip(open_, best, strict=True):
                stored[i] = b
        self.index.capacity = self.memory + len(docs)
        for doc, sig, when, best_stored in zip(docs, sigs, times, stored, strict=True):
            mid = doc["mention_id"]
            bands = tuple(doc.get("lsh_bands") or ())
            cluster = self._choose(doc, sig, bands, when, best_stored, stored_ids)
            doc["cluster_id"] = cluster
            self._remember(mid, cluster)
            self._note_seen(cluster, mid, when)
            if sig is not None and bands:
                self.index.add_signature(mid, cluster, sig, bands, doc.get("brand"))
        self._forget(self.memory)
        return found.where if found.complete else None

    def _by_id(self, doc: dict[str, Any], stored_ids: dict[str, str]) -> str | None:
        """The cluster a document has through an id: its own (seen a moment ago in this run, or stored: it keeps
        its cluster), else its original's when it is a repost of a known post. None: its text decides."""
        for x in ids_of(doc):
            if x in self.cluster_of:
                return self.cluster_of[x]
            if x in stored_ids:
                return stored_ids[x]
        return None

    def _choose(
        self, doc: dict[str, Any], sig: np.ndarray | None, bands: tuple[str, ...], when: datetime | None,
        best_stored: tuple[str, float] | None, stored_ids: dict[str, str],
    ) -> str:
        mid = doc["mention_id"]
        known = self._by_id(doc, stored_ids)
        if known is not None:
            return known
        if sig is None:
            return mid
        in_memory = self.index.best_signature(sig, bands, exclude=mid, group=doc.get("brand"),
                                              allow=self._young_for(when))
        candidates = [c for c in (in_memory, best_stored) if c is not None]
        return max(candidates, key=lambda c: c[1])[0] if candidates else mid

    def _note_seen(self, cluster: str, mention_id: str, when: datetime | None) -> None:
        """Remember when the founder of a cluster in memory was first seen: the mention's own time (`when`) when it
        founds it, the stored founder's when it joined a stored cluster (unknown for a cluster kept through an id)."""
        if cluster in self.cluster_seen:
            self.cluster_seen.move_to_end(cluster)
            return
        founder = self.founders.get(cluster)
        seen = when if cluster == mention_id else founder.seen if founder is not None else None
        if seen is not None:
            self.cluster_seen[cluster] = seen
