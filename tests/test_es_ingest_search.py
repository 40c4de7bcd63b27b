"""Against the real node: template and mapping, idempotent re-ingest, engagement history, rejected lines,
Chinese phrase search, Lucene syntax and the search options."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from store import mapping
from tests.conftest import Gs, write_jsonl

pytestmark = pytest.mark.es

ROWS: list[dict[str, Any]] = [
    {
        "platform": "weibo",
        "source_id": "w1",
        "author": "数码小王",
        "author_followers": 125000,
        "brand": "小米",
        "text": "小米手机刚买三天就黑屏了，客服一直不回复！",
        "published_at": "2026-11-24T09:12:00+08:00",
        "crawled_at": "2026-11-24T09:30:00+08:00",
        "likes": 120,
        "reposts": 45,
        "comments": 30,
    },
    {
        "platform": "weibo",
        "source_id": "w2",
        "author": "厨房日记",
        "text": "南瓜小米粥真的绝了，暖胃",
        "published_at": "2026-11-22T12:00:00+08:00",
        "likes": 2300,
    },
    {
        "platform": "jd",
        "source_id": "j1",
        "author": "a***q",
        "brand": "小米",
        "rating": 1,
        "text": "快递三天才到，外包装破损，屏幕有划痕，申请退货一直不处理",
        "published_at": "2026-10-30T08:02:00+08:00",
    },
    {
        "platform": "reddit",
        "source_id": "t3_a",
        "author": "techfan",
        "title": "Xiaomi 14 screen went black",
        "text": "My phone screen went black after three days. Support never answered.",
        "published_at": "2026-11-24T02:15:00Z",
        "likes": 340,
    },
    {
        "platform": "reddit",
        "source_id": "t3_b",
        "author": "baker",
        "title": "Apple pie",
        "text": "The best apple pie recipe: black currants, three apples.",
        "published_at": "2026-11-21T15:00:00Z",
    },
    {
        "platform": "bilibili",
        "source_id": "b1",
        "author": "阿杰",
        "brand": "小米",
        "text": "ＸＩＡＯＭＩ 新品开箱，手机黑 屏幕亮度很好",
        "published_at": "2026-11-20T19:30:00+08:00",
    },
]


@pytest.fixture
def loaded(gs: Gs, tmp_path: Path) -> Gs:
    result = gs("ingest", str(write_jsonl(tmp_path / "m.jsonl", ROWS)))  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    return gs


def count(gs: Gs, *args: str) -> int:
    result = gs("search", "--count", *args)
    assert result.exit_code == 0, result.output
    return int(result.output.strip())


def test_template_alias_and_mapping(loaded: Gs, es: Elasticsearch) -> None:
    prefix = loaded.prefix
    tpl = es.indices.get_index_template(name=mapping.template_name(prefix))["index_templates"][0]["index_template"]
    assert tpl["index_patterns"] == [f"{prefix}-mentions-*"]
    indices = sorted(es.indices.get_alias(name=mapping.alias(prefix)).body)
    # by the month each post was first seen: w1 was crawled in November 2026, the others now (no crawled_at)
    months = sorted({"2026.11", f"{datetime.now(UTC):%Y.%m}"})
    assert indices == [f"{prefix}-mentions-{m}" for m in months]
    props = es.indices.get_mapping(index=indices[-1])[indices[-1]]["mappings"]["properties"]
    assert props["@timestamp"]["type"] == "date"
    assert props["text"]["type"] == "text" and props["text"]["fields"]["keyword"]["type"] == "keyword"
    assert props["platform"]["type"] == "keyword"
    assert props["engagement_history"]["properties"]["reposts"]["type"] == "long"
    assert props["sentiment"]["properties"]["label"]["type"] == "keyword"
    tokens = es.indices.analyze(index=indices[-1], field="text", text="小米粥")["tokens"]
    assert [t["token"] for t in tokens] == ["小", "米", "粥"]
    # every index the project made starts with the prefix
    assert all(name.startswith(prefix) for name in es.indices.get(index=f"{prefix}*").body)


def test_reingest_is_idempotent(loaded: Gs, tmp_path: Path, es: Elasticsearch) -> None:
    again = loaded("ingest", "--json", str(write_jsonl(tmp_path / "again.jsonl", ROWS)))  # type: ignore[arg-type]
    summary = json.loads(again.output.strip().splitlines()[-1])
    assert summary | {"url": None, "index": None} == {
        "read": 6,
        "indexed": 0,
        "updated": 0,
        "duplicates": 6,
        "rejected": 0,
        "spooled": 0,
        "replayed": 0,
        "dropped": 0,
        "dropped_reasons": {},
        "url": None,
        "index": None,
    }
    assert count(loaded) == 6


def test_engagement_history_kept(loaded: Gs, tmp_path: Path, es: Elasticsearch) -> None:
    later = [
        dict(ROWS[0], crawled_at="2026-11-24T10:30:00+08:00", likes=860, reposts=1320, comments=410),
        dict(ROWS[0], crawled_at="2026-11-24T11:30:00+08:00", likes=900, reposts=2600, comments=500),
    ]
    result = loaded("ingest", "--json", str(write_jsonl(tmp_path / "later.jsonl", later)))  # type: ignore[arg-type]
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert (summary["indexed"], summary["updated"]) == (0, 2)
    hit = json.loads(loaded("search", "--json", "--platform", "weibo", "黑屏").output.splitlines()[0])
    assert hit["reposts"] == 2600 and hit["engagement"] == 900 + 2600 + 500
    stored = es.get(index=hit["_index"], id=hit["_id"])["_source"]
    assert [o["reposts"] for o in stored["engagement_history"]] == [45, 1320, 2600]
    assert stored["first_seen_at"] == "2026-11-24T01:30:00.000Z"


def test_rejected_lines_reported_good_lines_kept(gs: Gs, tmp_path: Path) -> None:
    rows: list[dict[str, Any] | str] = [
        ROWS[0],
        "{not json",
        {"platform": "weibo", "source_id": "x", "text": "没有时区", "published_at": "2026-11-24 10:00"},
        {"platform": "weibo", "text": "no id", "published_at": "2026-11-24T10:00:00Z"},
        ROWS[1],
    ]
    result = gs("ingest", str(write_jsonl(tmp_path / "mixed.jsonl", rows)))
    assert result.exit_code == 1
    assert f"{tmp_path / 'mixed.jsonl'}:line 2: malformed JSON" in result.output
    assert "line 3: published_at: timestamp has no UTC offset" in result.output
    assert "line 4: needs 'source_id' or 'url'" in result.output
    assert "read 5, indexed 2, updated 0, duplicates 0, rejected 3" in result.output
    assert count(gs) == 2


def test_csv_ingest(gs: Gs, tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text(
        "platform,source_id,text,published_at,likes,brand\n"
        "jd,c1,电池续航差，充电发烫,2026-11-24T10:00:00+08:00,7,小米\n"
        "jd,c2,,2026-11-24T10:00:00+08:00,1,小米\n",
        encoding="utf-8",
    )
    result = gs("ingest", str(p))
    assert "line 3: missing required field 'text'" in result.output
    assert count(gs, "充电发烫") == 1


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("小米", 2),  # w1 and w2 (小米粥); j1 and b1 do not say it
        ("小米手机", 1),
        ("小米粥", 1),
        ("黑屏", 1),  # "手机黑 屏幕" in b1 is not the phrase 黑屏
        ("三天", 2),  # w1 and j1; the English "three days" is another language
        ("screen went black", 1),
        ("apple pie", 1),
        ("xiaomi", 2),  # folded full-width ＸＩＡＯＭＩ and the reddit title
        ("ｘｉａｏｍｉ", 2),  # full-width query
        ("不存在的短语", 0),
    ],
)
def test_chinese_and_english_phrase_search_is_exact(loaded: Gs, query: str, expected: int) -> None:
    assert count(loaded, query) == expected


def test_lucene_syntax(loaded: Gs) -> None:
    assert count(loaded, "platform:weibo") == 2
    assert count(loaded, "小米 NOT 粥") == 1
    assert count(loaded, '"黑屏" OR 破损') == 2
    assert count(loaded, "platform:reddit AND black") == 2
    assert count(loaded, "brand:小米 AND 退货") == 1
    assert count(loaded, "title:apple") == 1


def test_search_options(loaded: Gs) -> None:
    assert count(loaded, "--platform", "jd", "--platform", "reddit") == 3
    assert count(loaded, "--brand", "小米") == 3
    assert count(loaded, "--since", "2026-11-01", "--until", "2026-11-23") == 3
    lines = loaded("search", "--json", "--limit", "3").output.strip().splitlines()
    times = [json.loads(x)["published_at"] for x in lines]
    assert len(times) == 3 and times == sorted(times, reverse=True)  # newest first
    text = loaded("search", "黑屏").output
    assert "数码小王" in text and "♥120" in text and "1 of 1 matching" in text
    bad = loaded("search", "--since", "last week", "x")
    assert bad.exit_code == 2 and "--since" in bad.output


def test_search_on_empty_prefix_finds_nothing(gs: Gs) -> None:
    assert count(gs, "小米") == 0
