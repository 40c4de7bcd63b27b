"""A mention joins a stored cluster only while the cluster is young: its founder first seen within the window
(`clusters.window_days`) of the mention, whichever path finds it (the store or this run's memory). The founder
search asks only the monthly indices of the window, which is what keeps it flat in what is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from pipelines.clusters import ClusterResolver, months
from pipelines.near_duplicates import fingerprint
from store import mapping
from store.client import ensure_schema
from store.writer import MentionWriter, Pending

URL = "http://127.0.0.1:9200"
TEXT = "买的耳机用了三天就断连，申请换货被拒，运费还要自理，客服一直不回复"


def doc(source_id: str, seen: str, text: str = TEXT) -> dict[str, Any]:
    fp = fingerprint(text)
    assert fp is not None
    mid = mapping.doc_id("weibo", source_id)
    return {"mention_id": mid, "platform": "weibo", "source_id": source_id, "text": text, "brand": "小米",
            "published_at": seen, "crawled_at": seen, "first_seen_at": seen, "engagement_history": [],
            "cluster_id": mid, "lsh_bands": list(fp.bands), "minhash": fp.encode()}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_months_cover_the_window_and_one_more() -> None:
    names = months("p", [at("2026-10-05T00:00:00")], timedelta(days=30))
    assert names == ["p-mentions-2026.09", "p-mentions-2026.10", "p-mentions-2026.11", "p-mentions-2026.12"]
    assert months("p", [at("2026-12-20T00:00:00")], timedelta(days=5)) == ["p-mentions-2026.12", "p-mentions-2027.01"]
    assert months("p", [], timedelta(days=5)) == []


def _store(es: Elasticsearch, prefix: str, docs: list[dict[str, Any]]) -> None:
    ensure_schema(es, prefix)
    assert MentionWriter(es, prefix, URL).write([Pending(d) for d in docs]).indexed == len(docs)
    es.indices.refresh(index=mapping.alias(prefix))


@pytest.mark.es
def test_a_stored_cluster_is_joined_within_the_window_only(es: Elasticsearch, prefix: str) -> None:
    young = doc("1", "2026-09-20T08:00:00.000Z")  # 15 days before the copy, in the month before
    old = doc("2", "2026-08-01T08:00:00.000Z", TEXT + "，第二次了")  # 65 days before
    _store(es, prefix, [young, old])
    r = ClusterResolver(es, prefix, MentionWriter(es, prefix, URL)._call)
    copies = [doc("10", "2026-10-05T08:00:00.000Z"), doc("11", "2026-10-05T08:00:00.000Z", TEXT + "，第二次了")]
    r.resolve(copies)
    assert copies[0]["cluster_id"] == young["mention_id"]  # (the old one is as similar to it: the window decides)
    assert copies[1]["cluster_id"] == young["mention_id"]  # not the old one's, its exact copy: too old
    wide = ClusterResolver(es, prefix, MentionWriter(es, prefix, URL)._call, window=timedelta(days=90))
    later = [doc("12", "2026-10-06T08:00:00.000Z", TEXT + "，第二次了")]
    wide.resolve(later)
    assert later[0]["cluster_id"] == old["mention_id"]  # its August index is searched with a 90-day window


@pytest.mark.es
def test_the_window_holds_in_memory_too(es: Elasticsearch, prefix: str) -> None:
    """A backlog out of order in one run: a copy 55 days from the post in memory starts its own cluster, as it would
    if that post were found in the store."""
    ensure_schema(es, prefix)
    r = ClusterResolver(es, prefix, MentionWriter(es, prefix, URL)._call)
    first, far, near = (doc("1", "2026-10-30T08:00:00.000Z"), doc("2", "2026-09-05T08:00:00.000Z"),
                        doc("3", "2026-10-20T08:00:00.000Z"))
    r.resolve([first])
    r.resolve([far, near])
    assert far["cluster_id"] == far["mention_id"]
    assert near["cluster_id"] == first["mention_id"]  # the newest similar entry whose cluster is young enough


def test_a_batch_out_of_order_searches_the_alias() -> None:
    """A window reaching more than MAX_MONTHS months (a backlog out of order) asks the alias, not 30 index names."""
    from pipelines import clusters

    names = months("p", [at("2024-01-01T00:00:00"), at("2026-10-01T00:00:00")], timedelta(days=30))
    assert len(names) > clusters.MAX_MONTHS


def test_the_in_memory_check_is_the_window() -> None:
    """The predicate the in-memory index asks of each candidate cluster (_young_for: the window's ends computed once)
    answers as _young, at the window's very ends and at the calendar's."""
    r = ClusterResolver(None, "p", lambda f, **kw: f(**kw), window=timedelta(days=30))  # type: ignore[arg-type]
    base = at("2026-10-05T00:00:00")
    r.cluster_seen["c"] = base
    r.cluster_seen["old"] = datetime.min.replace(tzinfo=UTC)
    steps = [timedelta(0), timedelta(days=30), timedelta(days=30, microseconds=1), timedelta(days=-30),
             timedelta(days=-30, microseconds=-1), timedelta(days=400)]
    whens: list[datetime | None] = [None, *(base + s for s in steps), datetime.max.replace(tzinfo=UTC),
                                    datetime.min.replace(tzinfo=UTC) + timedelta(days=1)]
    for when in whens:
        allow = r._young_for(when)
        for c in ("c", "old", "unknown"):
            assert (allow is None or allow(c)) == r._young(r.cluster_seen.get(c), when), (when, c)
