"""Repeat complaints: the same author complaining about the same brand again within 30 days is marked at index
time, against the store (one search per batch) and within the batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from pipelines.repeats import Earlier, RepeatResolver, lookup_query, mark_repeats
from store import mapping
from tests.conftest import Gs, write_jsonl

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def doc(mid: str, at: datetime, *, author_id: str | None = "u1", author: str = "老王", brand: str = "小米",
        complaint: bool = True, platform: str = "weibo") -> dict[str, Any]:
    return {"mention_id": mid, "platform": platform, "author_id": author_id, "author": author, "brand": brand,
            "published_at": at.isoformat(), "complaint": {"is_complaint": complaint, "categories": ["logistics"]}}


def test_marks_the_latest_earlier_complaint_in_the_batch_within_30_days() -> None:
    docs = [doc("c", T0 + timedelta(days=20)), doc("a", T0), doc("b", T0 + timedelta(days=3)),
            doc("late", T0 + timedelta(days=60)), doc("other-brand", T0 + timedelta(days=4), brand="华为"),
            doc("praise", T0 + timedelta(days=5), complaint=False)]
    assert mark_repeats(docs, {}) == 2
    by = {d["mention_id"]: d["complaint"] for d in docs}
    assert by["a"]["repeat"] is False and by["a"]["previous_id"] is None
    assert (by["b"]["repeat"], by["b"]["previous_id"]) == (True, "a")
    assert (by["c"]["repeat"], by["c"]["previous_id"]) == (True, "b")  # the latest earlier one
    assert by["late"]["repeat"] is False  # 40 days after the last one
    assert by["other-brand"]["repeat"] is False and "repeat" not in by["praise"]


def test_stored_complaints_count_but_never_the_mention_itself() -> None:
    key = ("weibo:id:u1", "小米")
    again = doc("x", T0 + timedelta(days=1))
    mark_repeats([again], {key: [Earlier("x", T0), Earlier("old", T0 - timedelta(days=2))]})
    assert again["complaint"]["previous_id"] == "old"
    # the author id identifies, else the name; per platform
    by_name = doc("n", T0 + timedelta(days=1), author_id=None, author="路人")
    other_platform = doc("p", T0 + timedelta(days=1), platform="bilibili")
    mark_repeats([by_name, other_platform], {("weibo:name:路人", "小米"): [Earlier("n0", T0)]})
    assert by_name["complaint"]["previous_id"] == "n0" and other_platform["complaint"]["repeat"] is False


def test_lookup_is_one_query_for_the_batch() -> None:
    q = lookup_query([doc("a", T0), doc("b", T0, author_id=None, author="路人"), doc("c", T0, complaint=False)])
    assert q is not None
    filters = q["bool"]["filter"]
    assert {"terms": {"brand": ["小米"]}} in filters
    authors = filters[-1]["bool"]["should"]
    assert {"terms": {"author_id": ["u1"]}} in authors[0]["bool"]["filter"]
    assert {"terms": {"author": ["路人"]}} in authors[1]["bool"]["filter"]
    assert lookup_query([doc("c", T0, complaint=False)]) is None


@pytest.mark.es
def test_repeat_marked_at_index_time_against_the_store(es: Elasticsearch, prefix: str, gs: Gs,
                                                       tmp_path: Path) -> None:
    def row(sid: str, at: datetime, author_id: str = "u1") -> dict[str, Any]:
        return {"platform": "weibo", "source_id": sid, "author": "老王", "author_id": author_id, "brand": "小米",
                "published_at": at.isoformat(), "text": "小米 快递一直不到，物流太慢了，非常失望"}

    first = gs("ingest", str(write_jsonl(tmp_path / "1.jsonl", [row("1", T0)])))
    assert first.exit_code == 0, first.output
    second = gs("ingest", str(write_jsonl(tmp_path / "2.jsonl", [
        row("2", T0 + timedelta(days=2)), row("3", T0 + timedelta(days=3), author_id="u9")])))
    assert second.exit_code == 0, second.output
    es.indices.refresh(index=mapping.alias(prefix))
    got = {h["_source"]["source_id"]: h["_source"]["complaint"]
           for h in es.search(index=mapping.alias(prefix), size=10)["hits"]["hits"]}
    assert got["1"]["is_complaint"], got  # the example is a complaint at all
    assert (got["2"]["repeat"], got["2"]["previous_id"]) == (True, mapping.doc_id("weibo", "1"))
    assert got["1"]["repeat"] is False and got["3"]["repeat"] is False
    # the count the console and the Kibana panel show
    res = es.search(index=mapping.alias(prefix), size=0, query={"term": {"complaint.repeat": True}},
                    aggs={"c": {"terms": {"field": "complaint.categories", "include": "[^.]+"}}})
    assert [(b["key"], b["doc_count"]) for b in res["aggregations"]["c"]["buckets"]] == [("logistics", 1)]


@pytest.mark.es
def test_resolver_asks_once_per_batch(es: Elasticsearch, prefix: str) -> None:
    calls: list[str] = []

    def call(fn: Any, **kwargs: Any) -> Any:
        calls.append(fn.__name__)
        return fn(**kwargs)

    docs = [doc(str(i), T0 + timedelta(hours=i), author_id=f"u{i % 7}") for i in range(50)]
    marked = RepeatResolver(es, prefix, call).resolve(docs)
    assert calls == ["search"] and marked == 43
