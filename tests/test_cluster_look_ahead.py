"""`groundswell ingest` looks a batch ahead (pipelines.clusters.look_ahead: a batch's ids and founder searches run
while the batch before it is resolved) and stores what it stores without: the same cluster ids, repeat marks and
merges, with the founder search's cut binding (a few founders a batch) and the lookups' memory small enough to forget
within the sample, so that both ways of the look-ahead's answer run: taken, and searched again when the in-memory
founders it could not leave out yet took too many of its places."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from elasticsearch import Elasticsearch

from pipelines import clusters
from pipelines import elasticsearch as es_stage
from pipelines.near_duplicates import NUM_PERM
from store import mapping
from store.client import ensure_schema
from store.writer import MentionWriter, Pending
from tests.conftest import Gs, delete_prefix, write_jsonl
from tests.test_cluster_founders import URL, _signed, resolver
from tests.test_parallel_ingest import sample, stored


@pytest.mark.es
def test_looking_ahead_stores_what_resolving_each_batch_alone_stores(
    es: Elasticsearch, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_jsonl(tmp_path / "sample.jsonl", sample(1200, seed=12))
    monkeypatch.setattr(clusters, "MAX_CLUSTERS", 4)
    monkeypatch.setattr(clusters, "LOOK_AHEAD_SLACK", 2)
    monkeypatch.setattr(es_stage, "MEMORY", 300)  # forgets within the sample: what it forgot is searched for
    looked: dict[str, int] = {"used": 0, "searched_again": 0}
    close = clusters.ClusterResolver.close

    def counted(self: clusters.ClusterResolver) -> None:
        for k, v in self.looked.items():
            looked[k] += v
        close(self)

    monkeypatch.setattr(clusters.ClusterResolver, "close", counted)
    docs: dict[str, dict[str, Any]] = {}
    for ahead in (True, False):
        if not ahead:
            monkeypatch.setattr(es_stage.ElasticsearchPipeline, "_look_ahead", lambda self, batch, before: None)
        name = f"{prefix}-ahead{int(ahead)}"
        try:
            result = Gs(name)("ingest", str(path), "--batch-size", "50", "--workers", "0", "--json")
            assert result.exit_code == 1, result.output  # the bad line
            docs[str(ahead)] = stored(es, name)
        finally:
            delete_prefix(es, name)
    with_, without = docs["True"], docs["False"]
    assert len(with_) > 1000 and with_.keys() == without.keys()
    assert {k for k in with_ if with_[k] != without[k]} == set()
    assert sum(1 for d in with_.values() if d["cluster_id"] != d["mention_id"]) > 50
    assert looked["used"] > 5 and looked["searched_again"] > 0, looked


@pytest.mark.es
def test_a_founder_the_batch_before_brought_into_memory_is_searched_past(
    es: Elasticsearch, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look-ahead's search cannot leave out a stored founder that the batch resolved before it re-observes (it
    is in memory only once that batch is resolved). When such founders take every place of its cut, the batch's
    stored founders are searched again: here the only place went to a founder of another brand, and without the
    search again the new post would miss the stored cluster it copies (s = 0.75) and found its own."""
    monkeypatch.setattr(clusters, "MAX_CLUSTERS", 1)
    monkeypatch.setattr(clusters, "LOOK_AHEAD_SLACK", 0)
    ensure_schema(es, prefix)
    rng = np.random.default_rng(11)
    original = rng.integers(0, 2**32, NUM_PERM, dtype=np.uint64).astype(np.uint32)
    copy = original.copy()
    copy[:32] = rng.integers(0, 2**32, 32, dtype=np.uint64).astype(np.uint32)  # 24 of the 32 bands shared
    stored = _signed("1", original, "2026-10-05T08:00:00.000Z")
    other = _signed("2", copy, "2026-10-05T09:00:00.000Z", brand="华为")  # every band shared: first in the cut
    MentionWriter(es, prefix, URL).write([Pending(stored), Pending(other)])
    es.indices.refresh(index=mapping.alias(prefix))

    r = resolver(es, prefix)
    before = [{**other, "likes": 5}]  # the other brand's founder seen again: in memory once resolved
    new = _signed("3", copy, "2026-10-05T10:00:00.000Z")
    r.look_ahead(before, [])
    r.look_ahead([new], before)
    r.resolve(before)
    assert before[0]["cluster_id"] == other["mention_id"]
    r.resolve([new])
    assert new["cluster_id"] == stored["mention_id"]
    assert r.looked == {"used": 0, "searched_again": 1}  # (the batch before had no post to compare)
    r.close()


def test_a_look_ahead_that_left_out_a_founder_no_longer_in_memory_is_not_taken() -> None:
    r = clusters.ClusterResolver(Elasticsearch(URL), "unused", lambda f, **kw: f(**kw))
    looked = clusters.Looked({}, clusters.Found([], {}, True), (0,), [("a", "i")], frozenset({"gone"}), 5)
    assert r._cut(looked, [{"lsh_bands": ["00aaaaaaaa"]}]) is None
