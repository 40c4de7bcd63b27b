"""Stored clusters are found through their founders' band keys (`cluster_bands`, mapping version 4): the writer
sets them on founders only, and store.upgrade gives them to founders stored by an earlier version."""

from __future__ import annotations

from typing import Any

import pytest
from elasticsearch import Elasticsearch

from pipelines.clusters import ClusterResolver
from pipelines.near_duplicates import fingerprint
from store import mapping
from store.client import ensure_schema
from store.writer import MentionWriter, Pending

URL = "http://127.0.0.1:9200"
TEXT = "买的耳机用了三天就断连，申请换货被拒，运费还要自理，客服一直不回复"


def doc(source_id: str, text: str = TEXT, cluster: str | None = None) -> dict[str, Any]:
    fp = fingerprint(text)
    assert fp is not None
    mid = mapping.doc_id("weibo", source_id)
    return {"mention_id": mid, "platform": "weibo", "source_id": source_id, "text": text, "brand": "小米",
            "published_at": "2026-10-05T08:00:00.000Z", "crawled_at": "2026-10-05T08:00:00.000Z",
            "first_seen_at": "2026-10-05T08:00:00.000Z", "engagement_history": [],
            "cluster_id": cluster or mid, "lsh_bands": list(fp.bands), "minhash": fp.encode()}


def resolver(es: Elasticsearch, prefix: str) -> ClusterResolver:
    return ClusterResolver(es, prefix, MentionWriter(es, prefix, URL)._call)


@pytest.mark.es
def test_the_writer_marks_founders_only_and_their_cluster_is_found_once(es: Elasticsearch, prefix: str) -> None:
    ensure_schema(es, prefix)
    founder = doc("1")
    copies = [doc(str(i), cluster=founder["mention_id"]) for i in range(2, 40)]
    res = MentionWriter(es, prefix, URL).write([Pending(d) for d in [founder, *copies]])
    assert res.indexed == 39
    es.indices.refresh(index=mapping.alias(prefix))
    got = es.get(index=f"{prefix}-mentions-2026.10", id=founder["mention_id"])["_source"]
    assert got["cluster_bands"] == founder["lsh_bands"]
    assert es.get(index=f"{prefix}-mentions-2026.10", id=copies[0]["mention_id"])["_source"]["cluster_bands"] == []
    r = resolver(es, prefix)  # a new run: nothing in memory
    new = doc("100", TEXT + "！！")
    assert r._stored_clusters([new]) == [founder["mention_id"]]  # one hit for the cluster, not one per copy
    r.resolve([new])
    assert new["cluster_id"] == founder["mention_id"]


@pytest.mark.es
def test_founders_stored_before_version_4_are_marked_by_the_upgrade(es: Elasticsearch, prefix: str) -> None:
    old = {k: v for k, v in mapping.PROPERTIES.items() if k != "cluster_bands"}
    old["lsh_bands"] = {"type": "keyword"}  # as version 3 had it: indexed (an index cannot change that later)
    template = mapping.index_template(prefix)
    template["template"]["mappings"] = {"dynamic": "strict", "properties": old,
                                        "_meta": {"managed_by": "groundswell", "mapping_version": 3}}
    es.indices.put_index_template(name=mapping.template_name(prefix), **template)
    founder = doc("1")
    copy = doc("2", cluster=founder["mention_id"])
    for d in (founder, copy):
        es.index(index=f"{prefix}-mentions-2026.10", id=d["mention_id"], document=d)

    ensure_schema(es, prefix)
    es.indices.refresh(index=mapping.alias(prefix))
    index = f"{prefix}-mentions-2026.10"
    assert es.get(index=index, id=founder["mention_id"])["_source"]["cluster_bands"] == founder["lsh_bands"]
    assert "cluster_bands" not in es.get(index=index, id=copy["mention_id"])["_source"]
    meta = es.indices.get_mapping(index=index).body[index]["mappings"]["_meta"]
    assert meta["mapping_version"] == mapping.MAPPING_VERSION
    assert es.indices.get_mapping(index=index).body[index]["mappings"]["properties"]["lsh_bands"] == {"type": "keyword"}
    new = doc("3", TEXT + "。")
    resolver(es, prefix).resolve([new])
    assert new["cluster_id"] == founder["mention_id"]


def test_what_the_lookups_forget_is_searchable_by_then() -> None:
    """The Elasticsearch stage refreshes before the run's memories forget what it wrote (see VISIBLE_WITHIN)."""
    from pipelines.clusters import INDEX_MEMORY
    from pipelines.elasticsearch import VISIBLE_WITHIN
    from pipelines.repeats import RepeatResolver
    from store.writer import LOCATIONS_KEPT

    batch = 500  # the largest batch the stage writes at once by default
    # a batch's lookups run while the batch before it is still being written (the committer thread): two batches
    # may be unwritten, besides what was written since the last refresh
    assert VISIBLE_WITHIN + 2 * batch <= min(INDEX_MEMORY, RepeatResolver.MEMORY, LOCATIONS_KEPT)


@pytest.mark.es
def test_posts_whose_cluster_an_id_decides_are_not_compared_with_founders(es: Elasticsearch, prefix: str) -> None:
    """A stored post seen again keeps its cluster, and a repost of a known original joins the original's: neither
    needs the founder search (a crawl sees many posts again), and the answer is what it was."""
    ensure_schema(es, prefix)
    founder, other = doc("1"), doc("2", "另一条完全不同的投诉：洗衣机漏水两次，上门维修一直没人来，电话也打不通")
    MentionWriter(es, prefix, URL).write([Pending(founder), Pending(other)])
    es.indices.refresh(index=mapping.alias(prefix))
    searched: list[list[str]] = []
    r = resolver(es, prefix)
    plain = r._stored_clusters

    def spy(docs: list[dict[str, Any]], times: Any = None) -> list[str]:
        searched.append([d["mention_id"] for d in docs])
        return plain(docs, times)

    r._stored_clusters = spy  # type: ignore[method-assign]
    again = doc("2", other["text"])  # the stored post, crawled again: its own cluster
    repost = doc("3", "转发 " + other["text"])
    repost["repost_of"] = "1"  # a repost of the founder: the founder's cluster, whatever the text says
    fresh = doc("4", TEXT + "！！")  # new: the founder's cluster by its text
    r.resolve([again, repost, fresh])
    assert searched == [[fresh["mention_id"]]]
    assert (again["cluster_id"], repost["cluster_id"], fresh["cluster_id"]) == (
        other["mention_id"], founder["mention_id"], founder["mention_id"])
