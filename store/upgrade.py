"""Brings monthly mention indices written by an older Groundswell up to the current document shape.

The index template shapes only the indices created after it, and the mapping is strict, so a field added in a
newer version must be put into the existing indices before a merged document that carries it can be written there,
and documents stored without it get it computed from their own fields (partial updates: there is no painless,
ingest pipeline or reindex on the integ-test-zip, so nothing here needs them):
- author_key (mapping version 2) from author_id, author and platform, so distinct-author counts cover old mentions;
- the founder's band keys (version 4 as cluster_bands, version 5 as cluster_band_ids) on every cluster founder
  (cluster_id == its own id), so clusters stored before them are still found by the founder search of
  pipelines.clusters. A founder stored by version 4 keeps its cluster_bands, which that search still reads: only
  founders with neither get cluster_band_ids.
Each index records the version it was brought to in its mapping's _meta, so this costs one mapping read once it is
done (the backfill reads an index once); it is idempotent, and two processes doing it at once only repeat work.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from elasticsearch import Elasticsearch, helpers

from store import mapping

log = logging.getLogger(__name__)

_NEEDS_AUTHOR_KEY = {
    "bool": {
        "must_not": [{"exists": {"field": "author_key"}}],
        "should": [{"exists": {"field": "author_id"}}, {"exists": {"field": "author"}}],
        "minimum_should_match": 1,
    }
}
# founders among these are told apart client-side (cluster_id == _id needs a script on the node)
_MAY_FOUND_A_CLUSTER = {
    # (lsh_bands cannot be asked for here: an index may keep it in _source only, store.mapping)
    "bool": {"filter": [{"exists": {"field": "cluster_id"}}],
             "must_not": [{"exists": {"field": "cluster_bands"}}, {"exists": {"field": "cluster_band_ids"}}]}
}


def outdated(es: Elasticsearch, prefix: str) -> list[str]:
    """The mention indices whose mapping predates the current version."""
    found = es.indices.get_mapping(index=mapping.index_pattern(prefix), allow_no_indices=True,
                                   ignore_unavailable=True).body
    return sorted(
        name for name, body in found.items()
        if int(((body.get("mappings") or {}).get("_meta") or {}).get("mapping_version") or 1)
        < mapping.MAPPING_VERSION
    )


def _updates(es: Elasticsearch, index: str) -> Iterator[dict[str, Any]]:
    """Partial updates that give old documents the fields they lack (author_key, then cluster_band_ids)."""
    for hit in helpers.scan(es, index=index, query={"query": _NEEDS_AUTHOR_KEY},
                            _source=["platform", "author_id", "author"], size=1000):
        src = hit["_source"]
        key = mapping.author_key(str(src.get("platform") or ""), src.get("author_id"), src.get("author"))
        if key is not None:
            yield {"_op_type": "update", "_index": index, "_id": hit["_id"], "doc": {"author_key": key},
                   "retry_on_conflict": 3}
    for hit in helpers.scan(es, index=index, query={"query": _MAY_FOUND_A_CLUSTER},
                            _source=["cluster_id", "lsh_bands"], size=1000):
        bands = mapping.founder_bands({**hit["_source"], "mention_id": hit["_id"]})
        if bands:
            yield {"_op_type": "update", "_index": index, "_id": hit["_id"],
                   "doc": {"cluster_band_ids": list(map(mapping.band_id, bands))},
                   "retry_on_conflict": 3}


def missing_fields(es: Elasticsearch, index: str) -> dict[str, Any]:
    """The current mapping's top-level fields the index lacks. Only those are put: a field it has keeps its own
    parameters (an index cannot change them, e.g. lsh_bands, indexed before version 4's indices stopped it)."""
    found = es.indices.get_mapping(index=index).body
    have: set[str] = set()
    for body in found.values():
        have |= set((body.get("mappings") or {}).get("properties") or {})
    return {name: spec for name, spec in mapping.PROPERTIES.items() if name not in have}


def upgrade(es: Elasticsearch, prefix: str) -> dict[str, int]:
    """Bring every outdated mention index of the prefix to the current mapping; {index: documents updated}."""
    done: dict[str, int] = {}
    for index in outdated(es, prefix):
        lacking = missing_fields(es, index)
        if lacking:
            es.indices.put_mapping(index=index, properties=lacking)
        es.indices.refresh(index=index)  # the scans below see what an older writer wrote a moment ago
        updated, _ = helpers.bulk(es, _updates(es, index), chunk_size=1000, stats_only=True,
                                  raise_on_error=True, refresh=False)
        es.indices.put_mapping(index=index, meta=mapping.META)
        if updated:
            log.warning("%s: brought to mapping version %d (author_key or cluster_band_ids set on %d mentions)", index,
                        mapping.MAPPING_VERSION, updated)
        done[index] = int(updated)
    return done
