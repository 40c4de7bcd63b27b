"""Stored clusters are found through their founders' band keys (`cluster_band_ids`, mapping version 5; version 4 kept
them as keywords in `cluster_bands`): the writer sets them on founders only, store.upgrade gives them to founders
stored by an earlier version without them, and the founder search still finds version 4's founders."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from elasticsearch import Elasticsearch

from pipelines import clusters
from pipelines.clusters import ClusterResolver
from pipelines.near_duplicates import NUM_PERM, band_keys, encode_signature, fingerprint
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
    assert got["cluster_band_ids"] == [int(k, 16) for k in founder["lsh_bands"]]
    assert "cluster_bands" not in got and "lsh_bands" not in got  # lsh_bands: the run's own (mapping.stored_form)
    assert es.get(index=f"{prefix}-mentions-2026.10", id=copies[0]["mention_id"])["_source"]["cluster_band_ids"] == []
    r = resolver(es, prefix)  # a new run: nothing in memory
    new = doc("100", TEXT + "！！")
    assert r._stored_clusters([new]) == [founder["mention_id"]]  # one hit for the cluster, not one per copy
    r.resolve([new])
    assert new["cluster_id"] == founder["mention_id"]


V4 = {k: v for k, v in mapping.PROPERTIES.items() if k != "cluster_band_ids"}  # version 4: keys as keywords only


def put_older_template(es: Elasticsearch, prefix: str, properties: dict[str, Any], version: int) -> None:
    """Put the template an older version put (its fields, its version), as that version's process does at start."""
    template = mapping.index_template(prefix)
    template["template"]["mappings"] = {"dynamic": "strict", "properties": properties,
                                        "_meta": {"managed_by": "groundswell", "mapping_version": version}}
    es.indices.put_index_template(name=mapping.template_name(prefix), **template)


@pytest.mark.es
def test_founders_stored_before_version_4_are_marked_by_the_upgrade(es: Elasticsearch, prefix: str) -> None:
    old = {k: v for k, v in mapping.PROPERTIES.items() if k not in ("cluster_bands", "cluster_band_ids")}
    old["lsh_bands"] = {"type": "keyword"}  # as version 3 had it: indexed (an index cannot change that later)
    put_older_template(es, prefix, old, 3)
    founder = doc("1")
    copy = doc("2", cluster=founder["mention_id"])
    for d in (founder, copy):
        es.index(index=f"{prefix}-mentions-2026.10", id=d["mention_id"], document=d)

    ensure_schema(es, prefix)
    es.indices.refresh(index=mapping.alias(prefix))
    index = f"{prefix}-mentions-2026.10"
    assert es.get(index=index, id=founder["mention_id"])["_source"]["cluster_band_ids"] == [
        mapping.band_id(k) for k in founder["lsh_bands"]]
    assert "cluster_band_ids" not in es.get(index=index, id=copy["mention_id"])["_source"]
    meta = es.indices.get_mapping(index=index).body[index]["mappings"]["_meta"]
    assert meta["mapping_version"] == mapping.MAPPING_VERSION
    assert es.indices.get_mapping(index=index).body[index]["mappings"]["properties"]["lsh_bands"] == {"type": "keyword"}
    new = doc("3", TEXT + "。")
    resolver(es, prefix).resolve([new])
    assert new["cluster_id"] == founder["mention_id"]


@pytest.mark.es
def test_founders_stored_by_version_4_are_still_found_and_written_again_in_the_new_form(
        es: Elasticsearch, prefix: str) -> None:
    """A month written by version 4 holds its founders' keys as keyword terms: the upgrade leaves them (they are
    found as they are), the founder search finds them there, and a founder written again carries the numbers."""
    put_older_template(es, prefix, V4, 4)
    index = f"{prefix}-mentions-2026.10"
    founder = doc("1")
    copy = doc("2", TEXT + "？", cluster=founder["mention_id"])
    for d in (founder, copy):  # as version 4's writer wrote them
        es.index(index=index, id=d["mention_id"], document={**d, "cluster_bands": mapping.founder_bands(d)})

    ensure_schema(es, prefix)
    es.indices.refresh(index=mapping.alias(prefix))
    got = es.get(index=index, id=founder["mention_id"])["_source"]
    assert got["cluster_bands"] == founder["lsh_bands"] and "cluster_band_ids" not in got  # not rewritten
    assert es.indices.get_mapping(index=index).body[index]["mappings"]["_meta"]["mapping_version"] == 5
    new = doc("3", TEXT + "。")
    resolver(es, prefix).resolve([new])
    assert new["cluster_id"] == founder["mention_id"]  # found by its keyword terms

    # the founder seen again (more engagement): written with the numbers, and still found
    again = {**doc("1"), "engagement_history": [{"crawled_at": "2026-10-06T08:00:00.000Z", "likes": 9,
                                                 "reposts": 0, "comments": 0}]}
    MentionWriter(es, prefix, URL).write([Pending(again)])
    es.indices.refresh(index=mapping.alias(prefix))
    got = es.get(index=index, id=founder["mention_id"])["_source"]
    assert got["cluster_band_ids"] == [mapping.band_id(k) for k in founder["lsh_bands"]]
    assert "cluster_bands" not in got
    later = doc("4", TEXT + "!!")
    resolver(es, prefix).resolve([later])
    assert later["cluster_id"] == founder["mention_id"]


@pytest.mark.es
def test_the_keyword_form_is_searched_only_in_the_months_that_hold_it(es: Elasticsearch, prefix: str) -> None:
    """Version 4's keyword terms cost the node a quarter of every founder search (bench/RESULTS.md, issue 14 part 10):
    they are asked of the months holding a founder in that form only, and founders of both forms are still found."""
    ensure_schema(es, prefix)
    other = "新买的洗衣机第二天就漏水了，售后说要等一周才能上门，太离谱了，再也不买了"
    october, september = f"{prefix}-mentions-2026.10", f"{prefix}-mentions-2026.09"
    old = doc("1")  # a version-4 founder, as a version-4 process still writes it during a rolling upgrade
    es.index(index=october, id=old["mention_id"], document={**old, "cluster_bands": mapping.founder_bands(old)})
    new = {**doc("2", other), "published_at": "2026-09-28T08:00:00.000Z", "crawled_at": "2026-09-28T08:00:00.000Z",
           "first_seen_at": "2026-09-28T08:00:00.000Z"}
    MentionWriter(es, prefix, URL).write([Pending(new)])
    es.indices.refresh(index=mapping.alias(prefix))
    r = resolver(es, prefix)
    assert r._months_with_v4_founders(f"{september},{october}") == [october]
    assert r._months_with_v4_founders(september) == []
    a, b = doc("3", TEXT + "。"), doc("4", other + "。")
    r.resolve([a, b])
    assert (a["cluster_id"], b["cluster_id"]) == (old["mention_id"], new["mention_id"])


def test_band_ids_are_distinct_numbers_of_the_keys() -> None:
    """Every band key of a signature becomes its own number, within a long, and keys that differ stay apart."""
    from pipelines.near_duplicates import BANDS

    keys = [f"{b:02d}{c:08x}" for b in range(BANDS) for c in (0, 1, 0xFFFFFFFF, 0x12345678)]
    ids = [mapping.band_id(k) for k in keys]
    assert len(set(ids)) == len(keys)
    assert all(0 <= i < 2**63 for i in ids)
    assert mapping.band_id("00000000ff") == 255 and mapping.band_id("3100000000") == 0x31 << 32


@pytest.mark.parametrize("batch", [1, 500, 1000, 2000, 10_000])
def test_what_the_lookups_forget_is_searchable_by_then(batch: int) -> None:
    """The Elasticsearch stage refreshes before the run's memories forget what it wrote (see VISIBLE_WITHIN), at
    any batch size `ingest --batch-size` allows: it refreshes more often, and past 1,000 the memories grow."""
    from core import config as gsconfig
    from pipelines.elasticsearch import ElasticsearchPipeline

    cfg = gsconfig.load(None, env={})
    stage = ElasticsearchPipeline(cfg, None, batch_size=batch, es=Elasticsearch("http://127.0.0.1:9"))
    # a batch's lookups run while the batch before it is still being written (the committer thread), and with
    # ingest's look-ahead (pipelines.clusters.look_ahead) while the batch before it is resolved and the one before
    # that written: two batches may be unwritten, besides what was written since the last refresh
    kept = min(stage.clusters.memory, stage.clusters.index.capacity, stage.repeats.memory, stage.writer.kept)
    assert stage.visible_within + 2 * batch <= kept
    assert stage.visible_within >= min(batch, 4_000)  # not a refresh per mention
    assert kept == max(5_000, stage.visible_within + 2 * batch)  # no larger: memory stays flat in the input
    assert kept == 5_000 or batch > 1_000


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


def _signed(source_id: str, sig: Any, seen: str, brand: str = "小米") -> dict[str, Any]:
    """A founder-shaped document with a made-up signature (its bands follow from it), first seen at `seen`."""
    d = doc(source_id)
    d.update(minhash=encode_signature(sig), lsh_bands=list(band_keys(sig)), brand=brand,
             published_at=seen, crawled_at=seen, first_seen_at=seen)
    return d


@pytest.mark.es
def test_beyond_the_cap_the_founders_sharing_the_most_bands_are_compared(
        es: Elasticsearch, prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """More founders share a band with a batch than the search returns (MAX_CLUSTERS): those sharing the most bands
    with it are compared, not the newest, so an older founder at s = 0.625 (20 bands shared) is joined although ten
    newer ones sharing one band each (s = 4/128) would fill the cap; a nearer founder of another brand is not."""
    rng = np.random.default_rng(14)
    new_sig = rng.integers(0, 2**32, NUM_PERM, dtype=np.uint32)
    near = rng.integers(0, 2**32, NUM_PERM, dtype=np.uint32)
    near[:80] = new_sig[:80]  # the first 20 bands the same
    founder = _signed("near", near, "2026-10-03T08:00:00.000Z")
    decoys = []
    for i in range(10):
        sig = rng.integers(0, 2**32, NUM_PERM, dtype=np.uint32)
        sig[:4] = new_sig[:4]  # the first band only
        decoys.append(_signed(f"decoy{i}", sig, f"2026-10-04T0{i}:00:00.000Z"))
    other_brand = rng.integers(0, 2**32, NUM_PERM, dtype=np.uint32)
    other_brand[:100] = new_sig[:100]
    other = _signed("other", other_brand, "2026-10-03T09:00:00.000Z", brand="华为")
    ensure_schema(es, prefix)
    MentionWriter(es, prefix, URL).write([Pending(d) for d in [founder, *decoys, other]])
    es.indices.refresh(index=mapping.alias(prefix))
    monkeypatch.setattr(clusters, "MAX_CLUSTERS", 5)

    monkeypatch.setattr(clusters, "RANKED", False)  # before: the newest five, all of them decoys
    alone = _signed("new", new_sig, "2026-10-05T08:00:00.000Z")
    resolver(es, prefix).resolve([alone])
    assert alone["cluster_id"] == alone["mention_id"]

    monkeypatch.setattr(clusters, "RANKED", True)
    r = resolver(es, prefix)
    found = r._stored_clusters([_signed("new", new_sig, "2026-10-05T08:00:00.000Z")])
    assert len(found) == 5 and {founder["mention_id"], other["mention_id"]} <= set(found)  # 20 and 25 bands shared
    new = _signed("new", new_sig, "2026-10-05T08:00:00.000Z")
    r.resolve([new])
    assert new["cluster_id"] == founder["mention_id"]


@pytest.mark.es
def test_a_month_made_from_an_older_template_during_a_rolling_upgrade_is_mended_and_written(
        es: Elasticsearch, prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    """A version-4 process that starts after this one puts its template back; the month it then creates lacks
    cluster_band_ids, which the strict mapping refuses on this writer's founders. The writer puts the current
    template and the missing fields in place once and writes them again: nothing is lost."""
    ensure_schema(es, prefix)  # this (version 5) writer's start
    writer = MentionWriter(es, prefix, URL)
    put_older_template(es, prefix, V4, 4)  # the older process's start
    old = doc("1")
    es.index(index=f"{prefix}-mentions-2026.10", id=old["mention_id"],  # it creates October, as version 4 wrote
             document={**mapping.stored_form(old), "cluster_bands": mapping.founder_bands(old)})

    founder, copy = doc("2", "完全不同的一条帖子：洗衣机漏水三次上门都没修好，售后电话永远占线"), doc("3")
    copy["cluster_id"] = old["mention_id"]
    res = writer.write([Pending(founder, "in:1"), Pending(copy, "in:2")])
    assert (res.indexed, res.failed) == (2, [])
    got = es.get(index=f"{prefix}-mentions-2026.10", id=founder["mention_id"])["_source"]
    assert got["cluster_band_ids"] == [mapping.band_id(k) for k in founder["lsh_bands"]]
    assert "refused a field of mapping version" in caplog.text
    body = es.indices.get_index_template(name=mapping.template_name(prefix))["index_templates"][0]
    assert body["index_template"]["template"]["mappings"]["_meta"]["mapping_version"] == mapping.MAPPING_VERSION


@pytest.mark.es
def test_copies_merged_into_a_month_an_older_template_made_are_mended_too(es: Elasticsearch, prefix: str) -> None:
    """A post stored twice (left by an older version in two months) is merged into its first-seen copy on its next
    write; when that month was made from an older template during a rolling upgrade, the merge is mended the same
    way and the post ends as one document there."""
    ensure_schema(es, prefix)
    post = doc("1")
    es.index(index=f"{prefix}-mentions-2026.10", id=post["mention_id"],  # a current month's copy
             document=mapping.stored_form({**post, "crawled_at": "2026-10-06T08:00:00.000Z"}))
    put_older_template(es, prefix, V4, 4)
    first = {k: v for k, v in mapping.stored_form(post).items() if k != "cluster_band_ids"}
    first.update(first_seen_at="2026-09-30T08:00:00.000Z", crawled_at="2026-09-30T08:00:00.000Z")
    es.index(index=f"{prefix}-mentions-2026.09", id=post["mention_id"], document=first)  # made by version 4
    es.indices.refresh(index=mapping.alias(prefix))

    again = {**doc("1"), "crawled_at": "2026-10-07T08:00:00.000Z", "likes": 5}
    res = MentionWriter(es, prefix, URL).write([Pending(again, "in:1")])
    assert res.failed == [] and res.indexed + res.updated + res.duplicates == 1
    es.indices.refresh(index=mapping.alias(prefix))
    hits = es.search(index=mapping.alias(prefix), query={"ids": {"values": [post["mention_id"]]}})["hits"]["hits"]
    assert [h["_index"] for h in hits] == [f"{prefix}-mentions-2026.09"]


@pytest.mark.es
def test_founders_in_memory_take_no_place_in_the_search_cut(
    es: Elasticsearch, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When more founders match than the search returns (MAX_CLUSTERS), a founder this run holds in memory (compared
    there) must not take a place from a stored one: once the store showed it, it did, and the stored cluster beyond
    the cut was compared by nothing (on the benchmark's posts a fifth to all of the 1,000 places)."""
    monkeypatch.setattr(clusters, "MAX_CLUSTERS", 1)
    ensure_schema(es, prefix)
    rng = np.random.default_rng(7)

    def synthetic(source_id: str, sig: np.ndarray, seen: str, brand: str = "小米") -> dict[str, Any]:
        d = doc(source_id)
        d.update(brand=brand, minhash=encode_signature(sig), lsh_bands=list(band_keys(sig)),
                 first_seen_at=seen, crawled_at=seen, published_at=seen)
        return d

    half = NUM_PERM // 2
    stored_sig = rng.integers(0, 2**32, NUM_PERM, dtype=np.uint64).astype(np.uint32)
    new_sig = stored_sig.copy()
    # half the positions the same (similarity 0.5, the threshold): its last 16 bands
    new_sig[:half] = rng.integers(0, 2**32, half, dtype=np.uint64).astype(np.uint32)
    other_sig = rng.integers(0, 2**32, NUM_PERM, dtype=np.uint64).astype(np.uint32)
    other_sig[half:] = new_sig[half:]  # the same 16 bands, newer, another brand: never the new post's cluster
    stored = synthetic("1", stored_sig, "2026-10-05T08:00:00.000Z")
    MentionWriter(es, prefix, URL).write([Pending(stored)])  # an earlier run's founder, out of this run's memory

    r = resolver(es, prefix)
    in_memory = synthetic("2", other_sig, "2026-10-05T09:00:00.000Z", brand="华为")
    r.resolve([in_memory])
    assert in_memory["cluster_id"] == in_memory["mention_id"]  # a founder, held in memory
    MentionWriter(es, prefix, URL).write([Pending(in_memory)])
    es.indices.refresh(index=mapping.alias(prefix))  # and shown by the store: first in the search's order
    new = synthetic("3", new_sig, "2026-10-05T10:00:00.000Z")
    r.resolve([new])
    assert new["cluster_id"] == stored["mention_id"]
