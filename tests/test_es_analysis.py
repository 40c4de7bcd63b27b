"""The analysis stages through `groundswell ingest` into the real node: brand matching drops off-topic
mentions with a counted reason, sentiment and complaint fields are stored and searchable, and copies of one
complaint share a cluster id across separate runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from tests.conftest import Gs, write_jsonl

pytestmark = pytest.mark.es

CONFIG = """
brands:
  - {name: 小米, aliases: [Xiaomi, 小米手机], products: [小米14], exclusions: [小米粥]}
  - {name: Apple, aliases: [苹果, iPhone], exclusions: [apple pie, 苹果派]}
"""

COMPLAINT = "小米14刚买三天就黑屏了，快递还把外包装压坏了，申请退货客服一直不回复，太失望了！"


def row(source_id: str, text: str, platform: str = "weibo", **kw: Any) -> dict[str, Any]:
    return {"platform": platform, "source_id": source_id, "text": text,
            "published_at": "2026-11-24T10:00:00+08:00", **kw}


@pytest.fixture
def gsc(prefix: str, tmp_path: Path) -> Gs:
    cfg = tmp_path / "groundswell.yaml"
    cfg.write_text(CONFIG, encoding="utf-8")
    return Gs(prefix, {"GROUNDSWELL_CONFIG": str(cfg)})


def ingest(gs: Gs, path: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    result = gs("ingest", "--json", str(write_jsonl(path, rows)))  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.output.strip().splitlines()[-1])
    return summary


def hits(gs: Gs, *args: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in gs("search", "--json", *args).output.strip().splitlines() if x]


def test_brand_matching_drops_off_topic_with_reason(gsc: Gs, tmp_path: Path) -> None:
    summary = ingest(gsc, tmp_path / "a.jsonl", [
        row("1", COMPLAINT),
        row("2", "今天煮了南瓜小米粥，真香"),
        row("3", "Grandma's apple pie is the best"),
        row("4", "这个价格还行", brand="小米"),  # explicit brand: kept though the text names none
        row("5", "新买的 IPHONE 15 拍照很好", platform="reddit"),
    ])
    assert summary["indexed"] == 3 and summary["dropped"] == 2
    assert summary["dropped_reasons"] == {"no configured brand mentioned": 2}
    brands = {h["source_id"]: (h["brand"], h["product"]) for h in hits(gsc)}
    assert brands == {"1": ("小米", "小米14"), "4": ("小米", None), "5": ("Apple", None)}


def test_sentiment_and_complaints_stored_and_searchable(gsc: Gs, tmp_path: Path, es: Elasticsearch) -> None:
    ingest(gsc, tmp_path / "a.jsonl", [
        row("1", COMPLAINT),
        row("2", "小米手机很好用，物流很快，包装完好，非常满意"),
    ])
    neg = hits(gsc, "--sentiment", "negative")
    assert [h["source_id"] for h in neg] == ["1"]
    assert 0 <= neg[0]["sentiment"]["score"] < 0.4
    assert {"logistics", "after_sales", "service_attitude"} <= set(neg[0]["complaint"]["categories"])
    assert neg[0]["complaint"]["is_complaint"] is True
    pos = hits(gsc, "--sentiment", "positive")
    assert [h["source_id"] for h in pos] == ["2"]
    assert pos[0]["complaint"]["is_complaint"] is False
    assert [h["source_id"] for h in hits(gsc, "--category", "logistics")] == ["1"]
    assert [h["source_id"] for h in hits(gsc, "--complaints")] == ["1"]
    assert int(gsc("search", "--count", "complaint.categories:logistics AND 黑屏").output) == 1


def test_copies_share_a_cluster_across_runs(gsc: Gs, tmp_path: Path) -> None:
    ingest(gsc, tmp_path / "first.jsonl", [row("100", COMPLAINT, author="数码小王"),
                                            row("101", "小米客服态度很好，帮我很快换了新机，点赞")])
    # a later run, a new process state: copies, a repost chain and a quote on other platforms
    ingest(gsc, tmp_path / "second.jsonl", [
        row("200", f"转发 //@数码小王: {COMPLAINT}", author="路人甲"),
        row("t3_x", COMPLAINT.replace("，", " ") + " [怒][怒]", platform="bilibili", author="up主"),
        row("201", "同感！", repost_of="100", author="橙子", brand="小米"),  # spiders set the brand of replies
        row("202", "小米手机信号差，打电话总是断线，售后也不管", author="别人"),
    ])
    by_id = {h["source_id"]: h["cluster_id"] for h in hits(gsc, "--limit", "50")}
    first = by_id["100"]
    assert first and by_id["200"] == first and by_id["t3_x"] == first and by_id["201"] == first
    assert by_id["101"] != first and by_id["202"] != first
    # re-ingesting keeps everyone's cluster
    ingest(gsc, tmp_path / "again.jsonl", [row("200", f"转发 //@数码小王: {COMPLAINT}", author="路人甲")])
    assert {h["source_id"]: h["cluster_id"] for h in hits(gsc, "--limit", "50")}["200"] == first


def test_same_wording_about_another_brand_is_another_cluster(gsc: Gs, tmp_path: Path) -> None:
    stock = "客服一直不回复，退款申请提交了半个月还没处理，太失望了，再也不会买了"
    ingest(gsc, tmp_path / "a.jsonl", [row("1", f"小米：{stock}")])
    ingest(gsc, tmp_path / "b.jsonl", [row("2", f"苹果：{stock}"), row("3", f"小米：{stock}！！")])
    by_id = {h["source_id"]: h["cluster_id"] for h in hits(gsc)}
    assert by_id["3"] == by_id["1"] and by_id["2"] != by_id["1"]
