"""Rule specs, defaults merging and the pure parts of evaluation (no Elasticsearch)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.rules.base import Tiers
from alerts.rules.common import engagement_at, engagement_growth
from alerts.rules.defaults import DEFAULT_RULES, DuplicateRuleName, effective_rules, merge_rules
from alerts.rules.kinds.health import diagnose, watched
from alerts.rules.kinds.surge import NegativeSurgeRule, assess
from alerts.rules.kinds.threshold import ThresholdRule
from alerts.rules.kinds.viral import ViralSpreadRule
from groundswell import config as gsconfig
from store.state import CrawlRun

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def load(tmp_path: Path, text: str) -> gsconfig.Config:
    path = tmp_path / "groundswell.yaml"
    path.write_text(text, encoding="utf-8")
    return gsconfig.load(str(path), env={})


def test_tiers_give_three_levels_from_one_score() -> None:
    tiers = Tiers(notice=3, urgent=6, crisis=10)
    assert [tiers.level(s) for s in (2.9, 3, 6.5, 10, 99)] == [None, "notice", "urgent", "crisis", "crisis"]
    assert Tiers(urgent=5).level(4) is None and Tiers(urgent=5).level(5) == "urgent"


def test_config_rules_parse_by_type(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        """
rules:
  - {name: food safety, type: threshold, query: 食品安全, brand: 北辰, threshold: 1, severity: urgent}
  - {name: viral-spread, type: viral_spread, tiers: {notice: 2, urgent: 5, crisis: 9}}
  - {name: night shift, type: negative_surge, brand: Lumio, min_count: 4, tiers: {urgent: 5}}
""",
    )
    food, viral, surge = cfg.rules
    assert isinstance(food, ThresholdRule) and food.levels == Tiers(urgent=1) and food.severity == "urgent"
    assert isinstance(viral, ViralSpreadRule) and viral.tiers.crisis == 9
    assert isinstance(surge, NegativeSurgeRule) and surge.min_count == 4 and surge.tiers.notice is None


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("{name: v, type: viral_spread, tiers: {notice: 5, urgent: 3}}", ["rules[1].tiers.urgent", "notice", "got 3"]),
        ("{name: v, type: viral_spread, tiers: {urgent: seven}}", ["rules[1].tiers.urgent", "'seven'"]),
        ("{name: s, type: negative_surge, tiers: {}}", ["rules[1].tiers", "at least one"]),
        ("{name: t, type: threshold, query: x}", ["rules[1]", "threshold and severity"]),
        ("{name: t, type: threshold, query: x, threshold: 2, severity: huge}", ["rules[1].severity", "'huge'"]),
        ("{name: n, type: new_term, bogus: 1}", ["rules[1].bogus", "Extra inputs"]),
        ("{name: n, type: sometimes}", ["rules[1].type", "viral_spread", "'sometimes'"]),
        ("{name: n}", ["rules[1].type", "None"]),
        ("{name: s, type: negative_surge, window_minutes: 0}", ["rules[1].window_minutes", "greater than 0"]),
        ("{name: t, type: threshold, query: 'a AND (', threshold: 1}", ["rules[1].query", "Lucene", "'a AND ('"]),
        ("{name: t, type: threshold, query: 'brand:(北辰 AND', threshold: 1}", ["rules[1].query", "parenthes"]),
        ("{name: t, type: threshold, query: '\"食品安全', threshold: 1}", ["rules[1].query", "quote"]),
        ("{name: t, type: threshold, query: 'OR 食品', threshold: 1}", ["rules[1].query", "'OR'"]),
    ],
)
def test_rule_errors_name_the_key(tmp_path: Path, rule: str, expected: list[str]) -> None:
    text = f"rules:\n  - {{name: ok, type: crawler_health}}\n  - {rule}\n"
    with pytest.raises(gsconfig.ConfigError) as err:
        load(tmp_path, text)
    message = str(err.value)
    assert str(tmp_path / "groundswell.yaml") in message
    for part in expected:
        assert part in message
    assert ".viral_spread." not in message and ".negative_surge." not in message


def test_defaults_work_without_config_and_merge_by_name(tmp_path: Path) -> None:
    bare = gsconfig.load(None, env={})
    names = [r.name for r in effective_rules(bare)]
    assert names == [r.name for r in DEFAULT_RULES]
    assert {r.type for r in effective_rules(bare)} >= {"viral_spread", "negative_surge", "new_term", "crawler_health"}

    cfg = load(
        tmp_path,
        """
rules:
  - {name: viral-spread, type: viral_spread, tiers: {urgent: 1}}
  - {name: crawler-health, type: crawler_health, enabled: false}
  - {name: food safety, type: threshold, query: 食品安全, threshold: 1}
""",
    )
    rules = effective_rules(cfg)
    assert [r.name for r in rules] == ["viral-spread", "negative-surge", "new-complaint-term", "food safety"]
    assert rules[0].tiers == Tiers(urgent=1)

    off = load(tmp_path, "alerting: {default_rules: false}\nrules:\n  - {name: x, type: crawler_health}\n")
    assert [r.name for r in effective_rules(off)] == ["x"]


def test_duplicate_rule_names_are_refused() -> None:
    a = ThresholdRule(name="dup", query="x", threshold=1)
    with pytest.raises(DuplicateRuleName, match=r"rules\[1\].name.*'dup'"):
        merge_rules(DEFAULT_RULES, (a, a))


def test_engagement_is_taken_as_of_the_instant() -> None:
    doc = {
        "published_at": "2026-11-20T12:00:00.000Z",
        "engagement_history": [
            {"crawled_at": "2026-11-20T12:10:00.000Z", "likes": 10, "reposts": 100, "comments": 20},
            {"crawled_at": "2026-11-20T12:40:00.000Z", "likes": 50, "reposts": 900, "comments": 90},
            {"crawled_at": "2026-11-20T13:40:00.000Z", "likes": 60, "reposts": 5000, "comments": 95},
        ],
    }
    assert engagement_at(doc, T0 + timedelta(minutes=5)) == (0, 0, 0)
    assert engagement_at(doc, T0 + timedelta(minutes=39)) == (10, 100, 20)
    assert engagement_at(doc, T0 + timedelta(minutes=40)) == (50, 900, 90)
    # growth over the last half hour at 12:40: from the interpolated 12:10 value; never the 13:40 observation
    assert engagement_growth(doc, T0 + timedelta(minutes=10), T0 + timedelta(minutes=40)) == (40, 800, 70)
    # at 13:00 the newest known counts are still those of 12:40
    assert engagement_growth(doc, T0 + timedelta(minutes=30), T0 + timedelta(hours=1))[1] == 900 - 633
    # a post first crawled late is not credited with everything at once: the counts grew since publication
    late = {"published_at": "2026-11-20T08:00:00.000Z", "engagement_history": [doc["engagement_history"][0]]}
    grown = engagement_growth(late, T0 - timedelta(hours=1), T0 + timedelta(minutes=10))[1]
    assert grown == 100 - round(100 * 3 / (4 + 1 / 6))  # 3 of the 4h10 between publication and first crawl


def test_surge_judgement_ignores_praise_volume_and_quiet_nights() -> None:
    history = [(d, 10, 40) for d in range(1, 8)]  # 10 negatives out of 40 mentions at this hour, every day
    surge = assess(40, 38, 70, history)
    assert surge is not None and surge.z > 8 and surge.ratio > 3
    promotion = assess(30, 30, 120, history)  # volume tripled, the usual share of complaints
    assert promotion is not None and promotion.ratio < 1.2 and promotion.z < 1
    night = assess(3, 3, 5, [(d, 0, 2) for d in range(1, 8)])
    assert night is not None and night.z < NegativeSurgeRule(name="x").tiers.lowest()  # and below min_count
    assert assess(5, 5, 10, []) is None  # no history: nothing to compare with


def _run(n: int, **flags: object) -> CrawlRun:
    return CrawlRun(
        run_id=f"r{n}", spider="weibo", keyword="北辰", source_key="weibo:北辰", started_at=None,
        finished_at=T0 - timedelta(hours=n), finish_reason="finished", items=5, **flags,  # type: ignore[arg-type]
    )  # fmt: skip


def test_crawler_health_diagnosis() -> None:
    ok = [_run(i) for i in range(4)]
    assert diagnose(ok) == (None, 0)
    broken = [_run(0, broken=True), _run(1, broken=True), _run(2)]
    assert diagnose(broken) == ("broken", 2)
    blocked = [_run(0, blocked="weibo: HTTP 432"), _run(1, blocked="weibo: HTTP 432"), _run(2, broken=True)]
    assert diagnose(blocked) == ("blocked", 2)  # a block is told apart from a broken source
    silent = [
        _run(0, zero_results=True),
        _run(1, zero_results=True, silent=True),
        _run(2),
    ]
    assert diagnose(silent) == ("silent", 2)
    assert diagnose([_run(0, zero_results=True), _run(1, zero_results=True)]) == (None, 0)  # never had results
    assert watched("weibo:北辰@127.0.0.1", ("weibo:北辰",)) and watched("jd:x", ("jd:*",))
    assert not watched("reddit:北辰", ("weibo:北辰",)) and watched("anything:x", ("*",))
    assert not watched("anything:x", ())  # no source configured: none watched


@pytest.mark.parametrize(
    "query",
    ['"食品安全" OR 吃坏肚子', "platform:weibo AND 小米 NOT 粥", "likes:>10", "likes:[10 TO *]", "/黑屏+/",
     "_exists_:title", "a~2", '"a b"~3', "a^2", "+a -b", "a && b", "!a", "title:(a b)", "te?t*", "食品安全",
     "screen went black"],
)
def test_valid_rule_queries_load(query: str) -> None:
    assert ThresholdRule(name="t", query=query, threshold=1).query == query
