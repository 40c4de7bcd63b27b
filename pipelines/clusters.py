"""Resolves near-duplicate cluster ids against everything already stored, a few requests per batch.

The fingerprint (pipelines.near_duplicates) travels with each document; here each document of a batch
joins the cluster of its most similar earlier mention: one seen earlier in this process (in memory), or a
cluster stored in Elasticsearch by any earlier run or other process. A repost whose original is known joins
the original's cluster; a stored mention keeps its cluster (mapping.merge).

Stored clusters are compared through their founders (the first member: its mention id is the cluster id), and
found through them too: a founder carries its band keys in `cluster_bands` (store.mapping, set by the writer), so
one search of the batch's bands there returns the clusters near it, one document per cluster however many stored
copies it has (a viral complaint's thousands of copies share its band keys: searching every mention's bands read
all of them, and the cost grew with what is stored). One ids query fetches the founders not in the (bounded)
cache, and each document is compared with the founders that share a band key with it. Clusters stored by a version
before cluster_bands are given it by store.upgrade when a writer first opens their index.

A stored cluster is a candidate for a document when its founder shares a band with that document (as in the
in-memory index; before, when any member shared one with any document of the batch, so the answer depended on the
batch). A document joins a stored cluster only through its similarity to the founder, so the two differ only for a
founder at the similarity threshold whose bands all differ from the document's: the band scheme's
1 - (1 - s^4)^32 gives 0.87 at s=0.5 and 0.99 at 0.6 (tests/test_cluster_ids_pinned.py pins the ids of a sample to
those of the earlier resolver, with the five that differ named). Comparing only those pairs costs a few hundred
signature comparisons per batch instead of every document against up to 2,000 founders (128 M values).
"""

from __future__ import annotations

import binascii
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch

from pipelines.near_duplicates import NUM_PERM, SIMILAR, Fingerprint, LshIndex, band_keys
from store import mapping
from store.lookup import stored_sources

INDEX_MEMORY = 5_000  # mentions of this run kept in memory (band index ~5 KB each, cluster ids); older ones are
# found in the store like any earlier run's (the Elasticsearch stage makes them searchable in time:
# pipelines.elasticsearch.VISIBLE_WITHIN), so memory stays flat whatever the input's size
MAX_CLUSTERS = 2_000  # stored clusters considered per batch (founders sharing a band with one of its documents)
FOUNDER_CACHE = 2_000  # founder signatures kept (least recently used go first): ~1 KB each


def band_number(key: str) -> int:
    """A band key ("05" + 8 hex digits) as one int: band << 32 | crc (8 bytes instead of a 59-byte string)."""
    return int(key[:2]) << 32 | int(key[2:], 16)


@dataclass(frozen=True, slots=True)
class Founder:
    """A stored cluster's first member as the resolver compares it: signature, band keys (as numbers), brand."""

    array: np.ndarray  # NUM_PERM uint32
    bands: tuple[int, ...]
    brand: str | None

    @classmethod
    def of(cls, minhash: str, brand: str | None) -> Founder:
        array = np.frombuffer(binascii.a2b_base64(minhash), dtype="<u4").astype(np.uint32)
        return cls(array, tuple(band_number(k) for k in band_keys(array)), brand)


class ClusterResolver:
    def __init__(self, es: Elasticsearch, prefix: str, call: Callable[..., Any], memory: int = INDEX_MEMORY):
        self.es = es
        self.prefix = prefix
        self.call = call  # the writer's retrying caller: failures surface as StoreUnavailable
        self.index = LshIndex(memory)
        self.cluster_of: OrderedDict[str, str] = OrderedDict()
        self.memory = memory
        self.founders: OrderedDict[str, Founder] = OrderedDict()  # cluster id -> its founder

    def _remember(self, mention_id: str, cluster_id: str) -> None:
        self.cluster_of[mention_id] = cluster_id
        self.cluster_of.move_to_end(mention_id)

    def _forget(self, keep: int) -> None:
        """Down to the newest `keep` mentions (after a batch: a batch never forgets its own)."""
        while len(self.cluster_of) > keep:
            self.cluster_of.popitem(last=False)
        self.index.capacity = keep
        self.index.trim()

    # --- what is stored -------------------------------------------------------------------------------

    def _stored_clusters(self, docs: list[dict[str, Any]]) -> list[str]:
        """The stored clusters whose founder shares a band key with a document of the batch, by id (sorted, so
        that ties between equally similar founders go the same way whatever order the node returns them in)."""
        bands = sorted({b for d in docs for b in d.get("lsh_bands") or ()})
        if not bands:
            return []
        resp = self.call(
            self.es.search,
            index=mapping.alias(self.prefix),
            size=MAX_CLUSTERS,
            query={"bool": {"filter": [{"terms": {"cluster_bands": bands}}]}},
            # more than MAX_CLUSTERS founders share a band with the batch once very many are stored (3-gram bands
            # of 4 rows collide across unrelated short posts): the newest are compared, as copies spread while new
            sort=[{"first_seen_at": {"order": "desc", "unmapped_type": "date"}}],
            # the founder's id from its doc values: reading up to 2,000 stored _id fields cost more than the search
            stored_fields="_none_",
            docvalue_fields=["mention_id"],
            track_total_hits=False,
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        return sorted({str(h["fields"]["mention_id"][0]) for h in resp["hits"]["hits"] if h.get("fields")})

    def _load_founders(self, cluster_ids: list[str]) -> None:
        for c in cluster_ids:
            if c in self.founders:
                self.founders.move_to_end(c)
        missing = [c for c in cluster_ids if c not in self.founders]
        for cid, src in stored_sources(self.es, self.prefix, missing, ["minhash", "brand"], self.call):
            if src.get("minhash"):
                self.founders[cid] = Founder.of(src["minhash"], src.get("brand"))
        while len(self.founders) > max(FOUNDER_CACHE, len(cluster_ids)):
            self.founders.popitem(last=False)

    def _best_stored(
        self, docs: list[dict[str, Any]], sigs: list[tuple[int, ...] | None]
    ) -> list[tuple[str, float] | None]:
        """For each document, the most similar stored cluster founder at or above SIMILAR."""
        # clusters whose founder is in the in-memory index are compared there; whether the store shows them yet is
        # down to its refresh timing, which must not change the answer (same documents, however fast we write)
        clusters = [c for c in self._stored_clusters(docs) if c not in self.index.entries]
        self._load_founders(clusters)
        known = [c for c in clusters if c in self.founders]
        out: list[tuple[str, float] | None] = [None] * len(docs)
        if not known:
            return out
        # LSH's candidates: the founders sharing a band with a document are its candidates (as in the in-memory
        # index), so a document's cluster does not depend on which other documents share its batch
        rows: dict[int, list[int]] = {}  # band -> the documents that have it
        for i, (doc, sig) in enumerate(zip(docs, sigs, strict=True)):
            if sig is not None and len(sig) == NUM_PERM:
                for band in doc.get("lsh_bands") or ():
                    rows.setdefault(band_number(band), []).append(i)
        near: dict[int, list[str]] = {}  # document -> its candidate founders, in id order (known is sorted)
        for c in known:
            founder = self.founders[c]
            for i in {i for band in founder.bands for i in rows.get(band, ())}:
                near.setdefault(i, []).append(c)
        for i, candidates in sorted(near.items()):
            doc, sig = docs[i], sigs[i]
            assert sig is not None
            brand = doc.get("brand")
            ids = [c for c in candidates if not brand or self.founders[c].brand in (None, "", brand)]
            if not ids:  # (copies of one complaint name one brand)
                continue
            matrix = np.stack([self.founders[c].array for c in ids])
            sims = np.count_nonzero(matrix == np.asarray(sig, dtype=np.uint32), axis=1) / NUM_PERM
            best = int(np.argmax(sims))  # the first maximum: the founder first in id order, as before
            if sims[best] >= SIMILAR:
                out[i] = (ids[best], float(sims[best]))
        return out

    def _stored_ids(self, docs: list[dict[str, Any]]) -> dict[str, str]:
        """Stored cluster ids of the batch's mentions and of the originals its reposts point at, for those this run
        no longer (or never) had in memory: one ids search. A stored mention keeps its cluster (mapping.merge), so a
        copy of it joins that cluster, as it did when the run still remembered it."""
        wanted = {d["mention_id"] for d in docs if d["mention_id"] not in self.cluster_of} | {
            oid for d in docs if d.get("repost_of")
            and (oid := mapping.doc_id(d["platform"], d["repost_of"])) not in self.cluster_of
        }
        out: dict[str, str] = {}
        for mid, src in stored_sources(self.es, self.prefix, wanted, ["cluster_id"], self.call):
            if src.get("cluster_id"):
                out.setdefault(mid, src["cluster_id"])
        return out

    # --- deciding -------------------------------------------------------------------------------------

    def resolve(self, docs: list[dict[str, Any]]) -> None:
        """Set cluster_id on every document, in order (earlier documents of the batch count as earlier)."""
        sigs = [Fingerprint.decode(d["minhash"]) if d.get("minhash") else None for d in docs]  # decoded once
        stored = self._best_stored(docs, sigs)
        stored_ids = self._stored_ids(docs)
        self.index.capacity = self.memory + len(docs)
        for doc, sig, best_stored in zip(docs, sigs, stored, strict=True):
            mid = doc["mention_id"]
            fp = Fingerprint(sig, tuple(doc.get("lsh_bands") or ())) if sig is not None else None
            cluster = self._choose(doc, fp, best_stored, stored_ids)
            doc["cluster_id"] = cluster
            self._remember(mid, cluster)
            if fp is not None and fp.bands:
                self.index.add(mid, cluster, fp, doc.get("brand"))
        self._forget(self.memory)

    def _choose(
        self, doc: dict[str, Any], fp: Fingerprint | None, best_stored: tuple[str, float] | None,
        stored_ids: dict[str, str],
    ) -> str:
        mid = doc["mention_id"]
        if mid in self.cluster_of:  # seen a moment ago in this run
            return self.cluster_of[mid]
        if mid in stored_ids:  # stored: it keeps its cluster
            return stored_ids[mid]
        if doc.get("repost_of"):
            oid = mapping.doc_id(doc["platform"], doc["repost_of"])
            if oid in self.cluster_of:
                return self.cluster_of[oid]
            if oid in stored_ids:
                return stored_ids[oid]
        if fp is None:
            return mid
        in_memory = self.index.best(fp, exclude=mid, group=doc.get("brand"))
        candidates = [c for c in (in_memory, best_stored) if c is not None]
        return max(candidates, key=lambda c: c[1])[0] if candidates else mid
