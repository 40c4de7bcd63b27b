"""The fast path stores the same documents as the reference path: `groundswell ingest --workers 2` (analysis in
worker processes, writes overlapping it) against `--workers 0` (everything in one process, in order), on a sample
with what depends on order and on the store: copies of one complaint across batches (cluster ids), an author
complaining again (repeat marks), reposts, re-observations with higher counts, and a bad line."""

from __future__ import annotations

import multiprocessing
import os
import random
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch, helpers

from core.mention import Mention
from pipelines.parallel import BatchPipeline, split
from store import mapping
from tests.conftest import Gs, delete_prefix, write_jsonl

BRANDS = ("小米", "华为", "Lumio")
COMPLAINTS = (
    "{b}客服一直不回复，退款申请提交七天了还没有处理，太失望了",
    "买的{b}耳机用了三天就断连，申请换货被拒，运费还要自理",
    "{b}快递说好的次日达，等了一周还没到，物流信息一直不更新",
)
PRAISE = ("{b}这次的新品真不错，续航很顶，推荐给大家", "{b}的售后小姐姐态度很好，半天就给换了新的")


def sample(n: int = 900, seed: int = 14) -> list[dict[str, Any] | str]:
    rnd = random.Random(seed)
    rows: list[dict[str, Any] | str] = []
    for i in range(n):
        brand = rnd.choice(BRANDS)
        base = rnd.choice(COMPLAINTS if rnd.random() < 0.6 else PRAISE).format(b=brand)
        text = base if rnd.random() < 0.5 else f"{base}{'！' * rnd.randint(1, 3)} 第{rnd.randint(1, 40)}次了"
        row: dict[str, Any] = {
            "platform": rnd.choice(("weibo", "jd")), "source_id": str(10_000 + i), "text": text,
            "author": f"user{rnd.randint(1, 60)}", "brand": brand,
            "published_at": f"2026-10-{1 + i * 27 // n:02d}T{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:00+08:00",
            "crawled_at": "2026-11-01T00:00:00Z", "likes": rnd.randint(0, 50),
        }
        if i > 20 and rnd.random() < 0.08:  # a repost of an earlier post
            row["repost_of"] = str(10_000 + rnd.randint(0, i - 1))
            row["text"] = f"转发微博 //@{row['author']}: {text}"
        rows.append(row)
        if i > 50 and rnd.random() < 0.05:  # an earlier post crawled again, with more likes
            earlier = rnd.choice([r for r in rows if isinstance(r, dict)])
            rows.append({**earlier, "likes": int(earlier["likes"]) + 100, "crawled_at": "2026-11-02T00:00:00Z"})
        if i == n // 2:
            rows.append("{not json")
    return rows


def stored(es: Elasticsearch, prefix: str) -> dict[str, dict[str, Any]]:
    es.indices.refresh(index=mapping.alias(prefix))
    hits = helpers.scan(es, index=mapping.alias(prefix), query={"query": {"match_all": {}}})
    return {h["_id"]: h["_source"] for h in hits}


BRANDS_CONFIG = """brands:
  - name: 小米
    aliases: [Xiaomi]
  - name: 华为
  - name: Lumio
"""


def _branded(rows: list[dict[str, Any] | str]) -> list[dict[str, Any] | str]:
    """The sample for a configured brand list: brands found in the text, and reposts that name none (they take
    their original's brand, from the stage's memory of the posts before them), and off-topic posts (dropped)."""
    out: list[dict[str, Any] | str] = []
    for i, row in enumerate(rows):
        if isinstance(row, dict):
            row = {k: v for k, v in row.items() if k != "brand"}
            if row.get("repost_of"):
                row["text"] = "转发微博"
            elif i % 37 == 0:
                row["text"] = "今天天气不错，出去走走"
        out.append(row)
    return out


@pytest.mark.es
@pytest.mark.parametrize("brands", [False, True], ids=["no-brands", "brands"])
def test_workers_store_the_same_documents_as_one_process(
    es: Elasticsearch, prefix: str, tmp_path: Path, brands: bool
) -> None:
    """Without brands configured the brand stage is pure and runs in the workers with normalize; with brands it keeps
    the posts' brands for their reposts, in order, in the ingest process: both store what one process stores."""
    rows = _branded(sample()) if brands else sample()
    path = write_jsonl(tmp_path / "sample.jsonl", rows)
    config = tmp_path / "groundswell.yaml"
    config.write_text(BRANDS_CONFIG if brands else "", encoding="utf-8")
    docs = {}
    for workers in ("0", "2"):
        name = f"{prefix}-w{workers}"
        try:
            result = Gs(name)("ingest", str(path), "--config", str(config), "--batch-size", "100",
                              "--workers", workers, "--json")
            assert result.exit_code == 1, result.output  # the bad line
            docs[workers] = stored(es, name)
        finally:
            delete_prefix(es, name)
    one, fast = docs["0"], docs["2"]
    assert len(one) > (700 if brands else 800) and one.keys() == fast.keys()
    if brands:  # reposts that name no brand took their original's
        reposts = [d for d in one.values() if d.get("repost_of") and d["text"] == "转发微博"]
        assert len(reposts) > 15 and all(d["brand"] in ("小米", "华为", "Lumio") for d in reposts)
    differ = {f for k in one for f in set(one[k]) | set(fast[k]) if one[k].get(f) != fast[k].get(f)}
    assert differ == set()
    # the sample exercises what depends on order and on the store
    assert sum(1 for d in one.values() if (d.get("complaint") or {}).get("repeat")) > 20
    assert sum(1 for d in one.values() if d["cluster_id"] != d["mention_id"]) > 50
    assert sum(1 for d in one.values() if len(d.get("engagement_history") or ()) > 1) > 5
    assert {round(d["sentiment"]["score"], 6) for d in one.values()} == {
        round(d["sentiment"]["score"], 6) for d in fast.values()}


class _Stage:
    def __init__(self, safe: bool):
        self.PARALLEL_SAFE = safe


def test_split_keeps_stateful_stages_in_order_around_the_parallel_run() -> None:
    normalize, brands, fingerprint, sentiment, sink = (_Stage(True), _Stage(False), _Stage(True), _Stage(True),
                                                       _Stage(False))
    assert split([normalize, brands, fingerprint, sentiment, sink]) == ([normalize, brands], [fingerprint, sentiment],
                                                                        [sink])
    assert split([sink]) == ([], [], [sink])
    assert split([normalize]) == ([], [normalize], [])


class _Upper:
    PARALLEL_SAFE = True

    def process_item(self, item: Any) -> Any:
        item.text = item.text.upper()
        return item


class _DiesInAWorker(_Upper):
    def process_item(self, item: Any) -> Any:
        if item.text == "KILL" and multiprocessing.parent_process() is not None:
            os._exit(9)  # an analysis worker killed mid-batch (the OOM killer, a segfault in a library)
        return item


class _Collect:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def process_item(self, item: Any) -> Any:
        self.seen.append(item.text)
        return item


def test_a_dead_worker_loses_nothing_and_keeps_the_order(caplog: pytest.LogCaptureFixture) -> None:
    sink = _Collect()
    flow = BatchPipeline([_Upper(), _DiesInAWorker(), sink], None, workers=2, depth=2)
    out: list[list[str]] = []
    with flow:
        for start in range(0, 60, 10):
            texts = ["kill" if start + i == 25 else f"m{start + i}" for i in range(10)]
            flow.submit([Mention(platform="x", text=t) for t in texts],
                        lambda outcomes: out.append([o.text for o in outcomes]))  # type: ignore[union-attr]
    expected = ["KILL" if i == 25 else f"M{i}" for i in range(60)]
    assert sink.seen == expected
    assert [t for batch in out for t in batch] == expected
    assert "an analysis worker died" in caplog.text


def test_what_waits_between_head_and_tail_is_bounded_in_mentions_not_batches() -> None:
    """Larger batches do not hold more in memory: about a thousand mentions per worker, at least two batches (as
    `2 x workers` batches of 500 did)."""
    from pipelines.parallel import depth_for

    assert [depth_for(w, 500) for w in (0, 1, 2, 4)] == [2, 2, 4, 8]
    assert [depth_for(w, 1000) for w in (0, 1, 2, 4)] == [2, 2, 2, 4]
    assert depth_for(2, 10_000) == 2 and depth_for(2, 1) == 2000


class _Documented(_Upper):
    """The last analysis stage: the item's stored document, as pipelines.document builds it."""

    def process_item(self, item: Any) -> Any:
        item.document = {"text": item.text.upper(), "n": len(item.text)}
        return item


@pytest.mark.parametrize("whole", [True, False])
def test_a_caller_that_reads_outcomes_only_gets_what_the_tail_wrote(whole: bool) -> None:
    """With whole=False (ingest) a worker hands back an item's document and origin (core.mention.Analysed), which is
    all the tail reads; a crawl (whole=True) gets its analysed items. Drops come back as drops either way, and in the
    one-process path (no worker) the items stay whole."""
    from scrapy.exceptions import DropItem

    from core.mention import Analysed

    class _Drops(_Upper):
        def process_item(self, item: Any) -> Any:
            if item.text == "drop":
                raise DropItem("off-topic")
            return item

    class _Writes:  # the tail reads what the Elasticsearch stage reads
        READS_DOCUMENT_ONLY = True

        def process_item(self, item: Any) -> Any:
            assert item.document is not None and item.origin
            return item

    for workers in (2, 0):
        flow = BatchPipeline([_Drops(), _Documented(), _Writes()], None, workers=workers, depth=2, whole=whole)
        out: list[Any] = []
        with flow:
            for start in range(0, 30, 10):
                texts = ["drop" if start + i == 13 else f"m{start + i}" for i in range(10)]
                flow.submit([Mention(platform="x", text=t, origin=f"in:{start + i}") for i, t in enumerate(texts)],
                            out.extend)
        assert [type(o) for o in out] == [DropItem if i == 13 else (Mention if whole or not workers else Analysed)
                                          for i in range(30)]
        kept = [o for o in out if not isinstance(o, DropItem)]
        assert [o.document for o in kept] == [{"text": f"M{i}", "n": len(f"m{i}")} for i in range(30) if i != 13]
        assert [o.origin for o in kept] == [f"in:{i}" for i in range(30) if i != 13]


def test_a_tail_that_reads_more_than_the_document_gets_whole_items() -> None:
    """A tail stage that does not declare READS_DOCUMENT_ONLY (a chain configured with a stage after the document
    stage) gets whole items from the workers, whatever the caller reads."""
    sink = _Collect()
    flow = BatchPipeline([_Upper(), _Documented(), sink], None, workers=2, depth=2, whole=False)
    assert flow.whole
    with flow:
        flow.submit([Mention(platform="x", text=f"m{i}") for i in range(5)], lambda outcomes: None)
    assert sink.seen == [f"M{i}" for i in range(5)]

