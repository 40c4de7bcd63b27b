"""One document per post, whatever its times do: a re-crawl whose relative time ("1小时前") moves the post across
a month boundary, a re-crawl in the next month, a spool replay and copies left by older versions all end in one
document, in the index the post was first written to."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from alerts.rules.base import EvalContext
from alerts.rules.kinds.threshold import ThresholdRule
from alerts.rules.registry import evaluate
from core.mention import Mention
from pipelines.normalize import normalize
from store import mapping
from store.client import ensure_schema
from store.writer import MentionWriter, Pending
from tests.conftest import Gs, write_jsonl

pytestmark = pytest.mark.es

URL = "http://127.0.0.1:9200"


def crawl(crawled: datetime, published: datetime, reposts: int, text: str = "小米手机黑屏了，太失望") -> Pending:
    m = Mention(platform="weibo", source_id="4990099", text=text, published_at=published, crawled_at=crawled,
                author="数码小王", brand="小米", reposts=reposts, sentiment_label="negative", sentiment_score=0.1)
    return Pending(mapping.to_document(normalize(m, crawled)), f"crawl at {crawled:%m-%d %H:%M}")


def copies(es: Elasticsearch, prefix: str, mention_id: str) -> list[tuple[str, dict[str, object]]]:
    es.indices.refresh(index=mapping.alias(prefix))
    res = es.search(index=mapping.alias(prefix), query={"ids": {"values": [mention_id]}}, size=10)
    return sorted((h["_index"], h["_source"]) for h in res["hits"]["hits"])


def test_a_recrawl_across_a_month_boundary_stays_one_document(es: Elasticsearch, prefix: str) -> None:
    writer = MentionWriter(es, prefix, URL)
    ensure_schema(es, prefix)
    # 00:20 on 1 December: "1小时前" reads as 23:20 on 30 November
    first = crawl(datetime(2026, 12, 1, 0, 20, tzinfo=UTC), datetime(2026, 11, 30, 23, 20, tzinfo=UTC), 10)
    # 01:05: still "1小时前", now 00:05 on 1 December; the counts grew
    again = crawl(datetime(2026, 12, 1, 1, 5, tzinfo=UTC), datetime(2026, 12, 1, 0, 5, tzinfo=UTC), 90)
    assert writer.write([first]).indexed == 1
    res = writer.write([again])
    assert (res.indexed, res.updated, res.failed) == (0, 1, [])
    found = copies(es, prefix, first.doc["mention_id"])
    assert len(found) == 1, [i for i, _ in found]
    index, doc = found[0]
    assert index == f"{prefix}-mentions-2026.12"  # the month it was first seen
    assert [o["reposts"] for o in doc["engagement_history"]] == [10, 90]  # type: ignore[index]
    assert doc["first_seen_at"] == "2026-12-01T00:20:00.000Z"


def test_a_recrawl_in_the_next_month_finds_the_stored_post(es: Elasticsearch, prefix: str) -> None:
    writer = MentionWriter(es, prefix, URL)
    ensure_schema(es, prefix)
    published = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    writer.write([crawl(datetime(2026, 11, 30, 23, 50, tzinfo=UTC), published, 5)])
    # the next crawls are in December, in separate batches and in one batch with the same post twice
    writer.write([crawl(datetime(2026, 12, 1, 0, 5, tzinfo=UTC), published, 40)])
    res = writer.write([crawl(datetime(2026, 12, 1, 1, 0, tzinfo=UTC), published + timedelta(minutes=1), 70),
                        crawl(datetime(2026, 12, 1, 2, 0, tzinfo=UTC), published, 95)])
    assert (res.indexed, res.updated) == (0, 2)
    found = copies(es, prefix, mapping.doc_id("weibo", "4990099"))
    assert [i for i, _ in found] == [f"{prefix}-mentions-2026.11"]
    assert [o["reposts"] for o in found[0][1]["engagement_history"]] == [5, 40, 70, 95]  # type: ignore[index]


def test_copies_left_by_an_older_version_are_merged_into_one(es: Elasticsearch, prefix: str) -> None:
    """Before this version the index followed published_at, so one post could be stored in two months."""
    ensure_schema(es, prefix)
    a = crawl(datetime(2026, 12, 1, 0, 20, tzinfo=UTC), datetime(2026, 11, 30, 23, 20, tzinfo=UTC), 10).doc
    b = crawl(datetime(2026, 12, 1, 1, 5, tzinfo=UTC), datetime(2026, 12, 1, 0, 5, tzinfo=UTC), 90).doc
    es.index(index=f"{prefix}-mentions-2026.11", id=a["mention_id"], document=a)
    es.index(index=f"{prefix}-mentions-2026.12", id=b["mention_id"], document=b)
    es.indices.refresh(index=mapping.alias(prefix))
    rule = ThresholdRule(name="t", query="黑屏", threshold=1, window_minutes=600)
    at = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    ctx = EvalContext(es=es, prefix=prefix, at=at)
    assert evaluate(rule, ctx)[0].evidence["mentions"] == 2  # the post counted twice

    later = crawl(datetime(2026, 12, 1, 2, 0, tzinfo=UTC), datetime(2026, 12, 1, 1, 0, tzinfo=UTC), 150)
    res = MentionWriter(es, prefix, URL).write([later])
    assert (res.updated, res.failed) == (1, [])
    found = copies(es, prefix, a["mention_id"])
    assert len(found) == 1
    index, doc = found[0]
    assert index == f"{prefix}-mentions-2026.11"  # where its earliest copy was
    assert [o["reposts"] for o in doc["engagement_history"]] == [10, 90, 150]  # type: ignore[index]
    assert doc["first_seen_at"] == "2026-12-01T00:20:00.000Z"
    assert evaluate(rule, ctx)[0].evidence["mentions"] == 1


def test_ingest_of_relative_times_and_a_spool_replay_keep_one_document(gs: Gs, es: Elasticsearch,
                                                                       tmp_path: Path) -> None:
    row = {"platform": "weibo", "source_id": "rel1", "author": "阿杰", "brand": "小米", "text": "小米客服太差了"}
    files = [
        write_jsonl(tmp_path / "a.jsonl", [dict(row, published_at="2026-11-30T23:30:00Z",
                                                crawled_at="2026-11-30T23:45:00Z", reposts=1)]),
        write_jsonl(tmp_path / "b.jsonl", [dict(row, published_at="2026-12-01T00:10:00Z",
                                                crawled_at="2026-12-01T01:10:00Z", reposts=7)]),
    ]
    for f in files:
        result = gs("ingest", "--json", str(f))
        assert result.exit_code == 0, result.output
    # a crawl of the first hour of December that could not reach Elasticsearch, replayed later
    from core import paths
    from store.spool import Spool

    at = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    m = Mention(**row, published_at=datetime(2026, 12, 1, 0, 0, tzinfo=UTC), crawled_at=at, reposts=3)
    late = mapping.to_document(normalize(m, at))
    Spool(paths.spool_dir(), gs.prefix).append([(late, "spooled line")])
    replay = gs("ingest", "--json")
    assert replay.exit_code == 0, replay.output
    assert json.loads(replay.output.strip().splitlines()[-1])["replayed"] == 1
    found = copies(es, gs.prefix, mapping.doc_id("weibo", "rel1"))
    assert [i for i, _ in found] == [f"{gs.prefix}-mentions-2026.11"]
    assert [o["reposts"] for o in found[0][1]["engagement_history"]] == [1, 3, 7]  # type: ignore[index]


def test_indices_of_an_older_version_are_upgraded_in_place(es: Elasticsearch, prefix: str) -> None:
    """A version 1 index (no author_key in its strict mapping) takes merged documents again, and its mentions get
    their author_key, so distinct authors count old mentions too."""
    old = {k: v for k, v in mapping.PROPERTIES.items() if k != "author_key"}
    template = mapping.index_template(prefix)
    template["template"]["mappings"] = {"dynamic": "strict", "properties": old}
    template["_meta"] = {"managed_by": "groundswell", "mapping_version": 1}
    es.indices.put_index_template(name=mapping.template_name(prefix), **template)
    stored = crawl(datetime(2026, 10, 5, 8, 0, tzinfo=UTC), datetime(2026, 10, 5, 7, 0, tzinfo=UTC), 3).doc
    del stored["author_key"]
    es.index(index=f"{prefix}-mentions-2026.10", id=stored["mention_id"], document=stored, refresh=True)

    ensure_schema(es, prefix)
    got = es.get(index=f"{prefix}-mentions-2026.10", id=stored["mention_id"])["_source"]
    assert got["author_key"] == "weibo:name:数码小王"
    meta = es.indices.get_mapping(index=f"{prefix}-mentions-2026.10").body[f"{prefix}-mentions-2026.10"]
    assert meta["mappings"]["_meta"]["mapping_version"] == mapping.MAPPING_VERSION
    res = MentionWriter(es, prefix, URL).write(
        [crawl(datetime(2026, 10, 5, 9, 0, tzinfo=UTC), datetime(2026, 10, 5, 7, 0, tzinfo=UTC), 30)])
    assert (res.updated, res.failed) == (1, [])


class _Counting:
    """The real client, counting the ids searches it is asked for (the writer's own lookups)."""

    def __init__(self, es: Elasticsearch):
        self._es, self.ids_searches = es, 0

    def search(self, **kwargs: object) -> object:
        if "ids" in (kwargs.get("query") or {}):  # type: ignore[operator]
            self.ids_searches += 1
        return self._es.search(**kwargs)

    def __getattr__(self, name: str) -> object:
        return getattr(self._es, name)


def test_the_writer_reads_where_posts_are_from_the_cluster_resolvers_search(es: Elasticsearch, prefix: str) -> None:
    """The Elasticsearch stage's cluster resolver searches every id of a batch; the writer reads the stored copies
    where that search found them (one alias-wide ids search per batch, not two), and what it wrote itself since."""
    from pipelines.clusters import ClusterResolver

    ensure_schema(es, prefix)
    published = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    first = crawl(datetime(2026, 11, 30, 23, 50, tzinfo=UTC), published, 5)
    MentionWriter(es, prefix, URL).write([first])
    es.indices.refresh(index=mapping.alias(prefix))
    counting = _Counting(es)
    writer = MentionWriter(counting, prefix, URL)  # type: ignore[arg-type]
    resolver = ClusterResolver(es, prefix, writer._call)
    again = crawl(datetime(2026, 12, 1, 0, 5, tzinfo=UTC), published, 40)
    other = crawl(datetime(2026, 12, 1, 0, 6, tzinfo=UTC), published, 1, text="另一条：华为耳机断连三次了")
    other.doc["mention_id"] = mapping.doc_id("weibo", "4990100")
    where = resolver.resolve([again.doc, other.doc])
    assert where == {first.doc["mention_id"]: {f"{prefix}-mentions-2026.11"}}
    res = writer.write([again, other], where)
    assert (res.indexed, res.updated, res.failed) == (1, 1, []) and counting.ids_searches == 0
    # the next batch: the resolver's search ran before the write above was searchable; the writer knows it wrote it
    late = crawl(datetime(2026, 12, 1, 0, 30, tzinfo=UTC), published, 70)
    res = writer.write([late], {})
    assert (res.indexed, res.updated) == (0, 1) and counting.ids_searches == 0
    # an answer cut short (None): the writer searches for itself
    res = writer.write([crawl(datetime(2026, 12, 1, 1, 0, tzinfo=UTC), published, 95)], None)
    assert (res.indexed, res.updated) == (0, 1) and counting.ids_searches == 1
    found = copies(es, prefix, first.doc["mention_id"])
    assert [i for i, _ in found] == [f"{prefix}-mentions-2026.11"]
    assert [o["reposts"] for o in found[0][1]["engagement_history"]] == [5, 40, 70, 95]  # type: ignore[index]


def test_an_ids_answer_cut_short_says_so(es: Elasticsearch, prefix: str) -> None:
    """A post stored in more indices than the search reads (two per id) makes the answer incomplete, so the writer
    searches for itself rather than miss a copy."""
    from store.lookup import stored_copies

    ensure_schema(es, prefix)
    doc = crawl(datetime(2026, 12, 1, 0, 20, tzinfo=UTC), datetime(2026, 11, 30, 23, 20, tzinfo=UTC), 10).doc
    for month in ("2026.10", "2026.11", "2026.12"):
        es.index(index=f"{prefix}-mentions-{month}", id=doc["mention_id"], document=doc)
    es.indices.refresh(index=mapping.alias(prefix))
    found = stored_copies(es, prefix, [doc["mention_id"]], ["cluster_id"])
    assert not found.complete and len(found.sources) == 2
    res = MentionWriter(es, prefix, URL).write([Pending(dict(doc))], None)
    assert res.failed == [] and len(copies(es, prefix, doc["mention_id"])) == 1
