"""Resolves near-duplicate cluster ids against everything already stored, one msearch per batch.

The fingerprint (pipelines.near_duplicates) travels with each document; here each document of a batch
gets the cluster of its most similar earlier mention: one seen earlier in this process (in memory), or
one stored in Elasticsearch by any earlier run or other process (its LSH band keys are indexed). A repost
whose original is known joins the original's cluster. A mention seen again keeps its stored cluster.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from elasticsearch import Elasticsearch

from groundswell.store import mapping
from pipelines.near_duplicates import SIMILAR, Fingerprint, LshIndex, similarity

CANDIDATES = 10


class ClusterResolver:
    def __init__(self, es: Elasticsearch, prefix: str, call: Callable[..., Any], memory: int = 200_000):
        self.es = es
        self.prefix = prefix
        self.call = call  # the writer's retrying caller: failures surface as StoreUnavailable
        self.index = LshIndex(memory)
        self.cluster_of: OrderedDict[str, str] = OrderedDict()
        self.memory = memory

    def _remember(self, mention_id: str, cluster_id: str) -> None:
        self.cluster_of[mention_id] = cluster_id
        self.cluster_of.move_to_end(mention_id)
        if len(self.cluster_of) > self.memory:
            self.cluster_of.popitem(last=False)

    def _stored_candidates(self, docs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        searches: list[dict[str, Any]] = []
        asked = [d for d in docs if d.get("lsh_bands")]
        for d in asked:
            searches.append({"index": mapping.alias(self.prefix), "ignore_unavailable": True, "allow_no_indices": True})
            searches.append(
                {
                    "size": CANDIDATES,
                    "query": {"bool": {"filter": [{"terms": {"lsh_bands": d["lsh_bands"]}}]}},
                    "_source": ["mention_id", "cluster_id", "minhash"],
                    "sort": [{"published_at": "asc"}],
                }
            )
        found: dict[str, list[dict[str, Any]]] = {}
        if searches:
            resp = self.call(self.es.msearch, searches=searches)
            for d, r in zip(asked, resp["responses"], strict=True):
                found[d["mention_id"]] = [h["_source"] for h in (r.get("hits") or {}).get("hits", [])]
        return [found.get(d["mention_id"], []) for d in docs]

    def _originals(self, docs: list[dict[str, Any]]) -> dict[str, str]:
        """Cluster ids of the originals that reposts in this batch point at, from memory or the store."""
        wanted: dict[str, str] = {}
        for d in docs:
            if d.get("repost_of"):
                oid = mapping.doc_id(d["platform"], d["repost_of"])
                if oid not in self.cluster_of:
                    wanted[oid] = d["published_at"]
        out: dict[str, str] = {}
        if wanted:
            resp = self.call(
                self.es.search,
                index=mapping.alias(self.prefix),
                query={"ids": {"values": list(wanted)}},
                size=len(wanted),
                source=["mention_id", "cluster_id"],
                ignore_unavailable=True,
                allow_no_indices=True,
            )
            for h in resp["hits"]["hits"]:
                if h["_source"].get("cluster_id"):
                    out[h["_source"]["mention_id"]] = h["_source"]["cluster_id"]
        return out

    def resolve(self, docs: list[dict[str, Any]]) -> None:
        """Set cluster_id on every document, in order (earlier documents of the batch count as earlier)."""
        stored = self._stored_candidates(docs)
        originals = self._originals(docs)
        for doc, candidates in zip(docs, stored, strict=True):
            mid = doc["mention_id"]
            cluster = self._choose(doc, candidates, originals)
            doc["cluster_id"] = cluster
            self._remember(mid, cluster)
            if doc.get("lsh_bands") and doc.get("minhash"):
                fp = Fingerprint(Fingerprint.decode(doc["minhash"]), tuple(doc["lsh_bands"]))
                self.index.add(mid, cluster, fp)

    def _choose(self, doc: dict[str, Any], candidates: list[dict[str, Any]], originals: dict[str, str]) -> str:
        mid = doc["mention_id"]
        if mid in self.cluster_of:  # seen earlier in this run
            return self.cluster_of[mid]
        for c in candidates:  # stored by an earlier run: keep its cluster
            if c.get("mention_id") == mid and c.get("cluster_id"):
                return str(c["cluster_id"])
        if doc.get("repost_of"):
            oid = mapping.doc_id(doc["platform"], doc["repost_of"])
            if oid in self.cluster_of:
                return self.cluster_of[oid]
            if oid in originals:
                return originals[oid]
        if not doc.get("minhash"):
            return mid
        signature = Fingerprint.decode(doc["minhash"])
        best: tuple[str, float] | None = self.index.best(Fingerprint(signature, tuple(doc["lsh_bands"])), exclude=mid)
        for c in candidates:
            if not c.get("minhash") or not c.get("cluster_id"):
                continue
            s = similarity(signature, Fingerprint.decode(c["minhash"]))
            if s >= SIMILAR and (best is None or s > best[1]):
                best = (str(c["cluster_id"]), s)
        return best[0] if best else mid
