"""Each rule type against the real node: it fires on what it should, not on what it should not, and sees the
index as it was at the evaluated instant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from alerts.rules.base import EvalContext, Tiers
from alerts.rules.context import brands_in_index, context_for
from alerts.rules.kinds.health import CrawlerHealthRule
from alerts.rules.kinds.newterm import NewTermRule
from alerts.rules.kinds.surge import NegativeSurgeRule
from alerts.rules.kinds.threshold import ThresholdRule
from alerts.rules.kinds.viral import ViralSpreadRule
from alerts.rules.registry import evaluate, evaluate_all
from core.mention import Mention
from groundswell import config as gsconfig
from pipelines.complaints import tag
from sites import replay
from store import mapping, state

T = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday
_n = iter(range(10**9))


def post(
    text: str,
    at: datetime,
    *,
    brand: str = "北辰",
    label: str = "negative",
    platform: str = "weibo",
    author: str | None = None,
    named_only: bool = False,
    followers: int = 100,
    cluster: str | None = None,
    repost_of: str | None = None,
    history: list[tuple[datetime, int, int, int]] | None = None,
) -> dict[str, Any]:
    """A final mention document; history: (crawled_at, likes, reposts, comments)."""
    n = next(_n)
    tags = tag(text)
    obs = history or [(at + timedelta(minutes=5), 0, 0, 0)]
    last = obs[-1]
    m = Mention(
        platform=platform, text=text, published_at=at, source_id=f"t{n}", author=author or f"user{n}",
        author_id=None if named_only else author or f"user{n}", author_followers=followers, brand=brand,
        crawled_at=last[0],
        likes=last[1], reposts=last[2], comments=last[3], repost_of=repost_of,
        sentiment_score=0.1 if label == "negative" else 0.9, sentiment_label=label,
        complaint_categories=[*tags.categories, *tags.subcategories], complaint_phrases=list(tags.phrases),
        is_complaint=bool(tags.categories) and label == "negative",
    )  # fmt: skip
    doc = mapping.to_document(m)
    doc["cluster_id"] = cluster or doc["mention_id"]
    doc["engagement_history"] = [
        {"crawled_at": mapping._iso(t), "likes": li, "reposts": r, "comments": c} for t, li, r, c in obs
    ]
    doc["first_seen_at"] = mapping._iso(obs[0][0])  # its first crawl
    return doc


@pytest.fixture
def store(es: Elasticsearch, prefix: str) -> Iterator[Any]:
    def put(docs: list[dict[str, Any]]) -> None:
        replay.index(es, prefix, docs)

    yield put


def ctx(es: Elasticsearch, prefix: str, at: datetime, **kw: Any) -> EvalContext:
    return EvalContext(es=es, prefix=prefix, at=at, **kw)


def viral_story(start: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A big account's complaint: reposts climb every 15 minutes; copies by many authors on other platforms."""
    text = "北辰空气炸锅冒烟起火，客服说是使用不当"
    hist = [(start + timedelta(minutes=m), 3 * r, r, r // 3) for m, r in ((3, 200), (18, 900), (33, 2100), (48, 3500))]
    big = post(text, start, author="bigv", followers=3_000_000, history=hist)
    copies = [
        post(f"转发 {text}", start + timedelta(minutes=2 + i), platform=("weibo", "xiaohongshu", "reddit")[i % 3],
             cluster=big["mention_id"], followers=200)
        for i in range(60)
    ]  # fmt: skip
    return big, copies


def test_viral_spread_fires_on_a_spreading_complaint_not_on_praise(es: Elasticsearch, prefix: str, store: Any) -> None:
    big, copies = viral_story(T)
    praise_hist = [(T + timedelta(minutes=m), 3 * r, r, r) for m, r in ((3, 200), (18, 900), (33, 2100))]
    praise = post("北辰双11活动太香了，推荐", T, label="positive", followers=3_000_000, history=praise_hist)
    praise_copies = [
        post("转发抽奖 北辰双11", T + timedelta(minutes=i), label="positive", cluster=praise["mention_id"])
        for i in range(60)
    ]
    store([big, *copies, praise, *praise_copies])
    rule = ViralSpreadRule(name="viral")
    matches = evaluate(rule, ctx(es, prefix, T + timedelta(minutes=40)))
    assert [m.cluster_id for m in matches] == [big["mention_id"]]
    m = matches[0]
    assert m.severity in ("urgent", "crisis") and m.brand == "北辰" and m.rule_type == "viral_spread"
    assert m.mention_ids[0] == big["mention_id"]
    assert m.query == f'cluster_id:"{big["mention_id"]}"'
    # 34 copies first crawled by 12:40 (each 5 minutes after it was posted), and bigv
    assert m.evidence["platforms"] == 3 and m.evidence["authors"] == 35
    assert m.evidence["reposts"] == 2100  # the 12:48 observation did not exist yet at 12:40
    hits = es.count(index=mapping.alias(prefix), q=m.query)["count"]
    assert hits == 61  # the query shows the cluster


def test_viral_spread_is_point_in_time(es: Elasticsearch, prefix: str, store: Any) -> None:
    big, copies = viral_story(T)
    store([big, *copies])
    rule = ViralSpreadRule(name="viral")
    assert evaluate(rule, ctx(es, prefix, T - timedelta(minutes=1))) == []  # nothing published yet
    early = evaluate(rule, ctx(es, prefix, T + timedelta(minutes=10)))
    later = evaluate(rule, ctx(es, prefix, T + timedelta(minutes=50)))
    assert early and later
    # a mention counts from its first crawl, 5 minutes after it was posted: 4 copies by 12:10, 44 by 12:50
    assert early[0].evidence["reposts"] == 200 and early[0].evidence["mentions"] == 5
    assert later[0].evidence["reposts"] == 3500 and later[0].evidence["mentions"] == 45
    assert early[0].evidence["score"] < later[0].evidence["score"]


def _hour(day: datetime, n_neg: int, n_pos: int, brand: str = "北辰", named_only: bool = False
          ) -> list[dict[str, Any]]:
    docs = [
        post("北辰客服态度差", day + timedelta(minutes=1 + i * 50 / max(n_neg, 1)), brand=brand, named_only=named_only)
        for i in range(n_neg)
    ]
    docs += [
        post("北辰很好用，推荐", day + timedelta(minutes=1 + i * 50 / max(n_pos, 1)), brand=brand, label="positive",
             named_only=named_only)
        for i in range(n_pos)
    ]
    return docs


def test_negative_surge_against_the_same_hour_of_previous_days(es: Elasticsearch, prefix: str, store: Any) -> None:
    hour = T - timedelta(hours=1)  # 11:00-12:00 on each day
    docs: list[dict[str, Any]] = []
    for d in range(1, 8):
        docs += _hour(hour - timedelta(days=d), 6, 20)
        docs += _hour(hour - timedelta(days=d), 6, 20, brand="Lumio")
        docs += _hour(hour - timedelta(days=d, hours=12), 1, 2)  # quiet nights
    docs += _hour(hour, 40, 20)  # 北辰: complaints surge
    docs += _hour(hour, 18, 60, brand="Lumio")  # Lumio: a promotion, volume tripled, complaints in proportion
    docs += _hour(hour - timedelta(hours=12), 3, 0)  # last night: three complaints
    store(docs)
    rule = NegativeSurgeRule(name="surge")
    matches = evaluate(rule, ctx(es, prefix, T))
    brand_level = [m for m in matches if m.category is None]
    assert [m.brand for m in brand_level] == ["北辰"]
    m = brand_level[0]
    assert m.severity in ("urgent", "crisis") and m.evidence["mentions"] == 40 and m.evidence["baseline_days"] == 7
    assert m.query == 'brand:"北辰" AND sentiment.label:negative' and len(m.mention_ids) == 10
    cats = {m.category for m in matches if m.category}
    assert cats == {"service_attitude"}
    night = evaluate(rule, ctx(es, prefix, T - timedelta(hours=11)))
    assert night == []
    # before the surge's mentions were published, nothing
    assert evaluate(rule, ctx(es, prefix, hour)) == []


def test_authors_known_only_by_name_count_as_authors(es: Elasticsearch, prefix: str, store: Any) -> None:
    """An ingest file or a site without author ids gives names only: each name is an author, per platform, for every
    rule, so a surge of them passes the minimum-authors gate instead of being silently missed."""
    hour = T - timedelta(hours=1)
    docs: list[dict[str, Any]] = []
    for d in range(1, 8):
        docs += _hour(hour - timedelta(days=d), 6, 20, named_only=True)
    docs += _hour(hour, 40, 20, named_only=True)
    docs += [post("北辰净水器漏电了", T - timedelta(minutes=20 + i), named_only=True) for i in range(7)]
    store(docs)
    surge = [m for m in evaluate(NegativeSurgeRule(name="surge"), ctx(es, prefix, T)) if m.category is None]
    assert [(m.brand, m.evidence["mentions"], m.evidence["authors"]) for m in surge] == [("北辰", 47, 47)]
    assert "47 negative mentions by 47 authors" in surge[0].summary
    threshold = evaluate(ThresholdRule(name="t", query="漏电", threshold=1), ctx(es, prefix, T))
    assert threshold[0].evidence["authors"] == 7
    viral = evaluate(ViralSpreadRule(name="v", tiers=Tiers(notice=0.01)), ctx(es, prefix, T))
    assert viral and all(m.evidence["authors"] == 1 for m in viral)


@pytest.mark.parametrize(
    ("ingested", "crawling_since", "fires"),
    [
        (None, T - timedelta(hours=3), False),  # a new install: yesterday's hour was never watched
        (T - timedelta(days=5), T - timedelta(hours=3), False),  # an old sample ingested, but crawling began today
        (None, T - timedelta(days=2), True),  # watched since before yesterday's hour: it was a quiet hour
    ],
)
def test_a_baseline_hour_counts_only_if_it_was_watched(
    es: Elasticsearch, prefix: str, store: Any, ingested: datetime | None, crawling_since: datetime, fires: bool
) -> None:
    """The soak that paged someone for nothing: "13 negative mentions by 11 authors, 13.0x the usual 1.0 for this
    hour" on a baseline of one day whose hour lay before anything was crawled: no data is no quiet hour."""
    first = [(crawling_since, 0, 0, 0)]
    # what the first crawl found of yesterday's hour (one complaint, some praise) and of the hour before
    docs = [post("北辰客服态度差", T - timedelta(days=1, minutes=30), history=first)]
    docs += [post("北辰还行", T - timedelta(days=1, hours=2), label="neutral", history=first)]
    docs += [post("北辰很好用", T - timedelta(days=1, minutes=40 - i), label="positive", history=first)
             for i in range(5)]
    if ingested is not None:  # a sample file ingested long before, with its own crawl times
        docs += [post("北辰不错", ingested, label="positive", history=[(ingested, 0, 0, 0)])]
    docs += [post("北辰客服态度差", T - timedelta(minutes=55 - 4 * i), author=f"a{i % 11}") for i in range(13)]
    store(docs)
    for key in ("weibo:北辰", "reddit:北辰"):
        _record(es, prefix, key, (T - crawling_since) / timedelta(hours=1))
        _record(es, prefix, key, 0.2)
    rule = NegativeSurgeRule(name="surge", min_count=10, min_authors=8, by_category=False)
    matches = evaluate(rule, ctx(es, prefix, T, source_keys=("weibo:北辰", "reddit:*")))
    assert [m.evidence["baseline_days"] for m in matches] == ([1.0] if fires else [])


def test_threshold_counts_a_query_for_a_brand(es: Elasticsearch, prefix: str, store: Any) -> None:
    store([
        post("北辰牛奶有食品安全问题", T - timedelta(minutes=30)),
        post("北辰 食品 安全", T - timedelta(minutes=20)),  # not the phrase
        post("Lumio食品安全", T - timedelta(minutes=20), brand="Lumio"),
        post("北辰食品安全抽检不合格", T + timedelta(minutes=5)),  # after the instant
    ])  # fmt: skip
    rule = ThresholdRule(name="food", query="食品安全", brand="北辰", tiers=Tiers(notice=1, urgent=2))
    matches = evaluate(rule, ctx(es, prefix, T))
    assert len(matches) == 1 and matches[0].severity == "notice" and matches[0].evidence["mentions"] == 1
    assert matches[0].query == '"食品安全" AND brand:"北辰"'
    assert evaluate(rule, ctx(es, prefix, T + timedelta(minutes=10)))[0].severity == "urgent"
    lucene = ThresholdRule(name="q", query="platform:weibo AND 食品安全", threshold=3)
    assert evaluate(lucene, ctx(es, prefix, T + timedelta(minutes=10)))[0].evidence["mentions"] == 3


def test_a_mention_counts_from_its_first_crawl_not_from_its_publication(
    es: Elasticsearch, prefix: str, store: Any
) -> None:
    # published at 11:30 but first crawled at 12:10: at 12:00 nobody knew of it, and no rule may count it then
    store([post("北辰牛奶有食品安全问题", T - timedelta(minutes=30), history=[(T + timedelta(minutes=10), 0, 0, 0)])])
    rule = ThresholdRule(name="food", query="食品安全", threshold=1)
    assert evaluate(rule, ctx(es, prefix, T)) == []
    assert brands_in_index(es, prefix, T) == []
    assert evaluate(rule, ctx(es, prefix, T + timedelta(minutes=10)))[0].evidence["mentions"] == 1
    assert brands_in_index(es, prefix, T + timedelta(minutes=10)) == ["北辰"]


def test_new_term_needs_an_unseen_phrase(es: Elasticsearch, prefix: str, store: Any) -> None:
    docs = [post("北辰物流太慢了", T - timedelta(days=3, hours=h)) for h in range(0, 72, 4)]
    docs += [post("北辰物流太慢了", T - timedelta(minutes=10 + i)) for i in range(8)]  # usual, not new
    docs += [post("北辰净水器漏电了", T - timedelta(minutes=10 + i)) for i in range(7)]  # new
    docs += [post("北辰扫地机冒烟", T - timedelta(minutes=10 + i)) for i in range(3)]  # new, but only 3 authors
    store(docs)
    matches = evaluate(NewTermRule(name="new"), ctx(es, prefix, T))
    assert [(m.term, m.brand, m.evidence["authors"]) for m in matches] == [("漏电", "北辰", 7)]
    assert matches[0].severity == "notice" and matches[0].query == 'brand:"北辰" AND complaint.phrases:"漏电"'
    # a young index has no baseline: nothing is "new" yet
    young = NewTermRule(name="new", min_history_hours=24 * 7)  # the oldest mention is 5.8 days old
    assert evaluate(young, ctx(es, prefix, T)) == []


def _record(es: Elasticsearch, prefix: str, key: str, hours_ago: float, **flags: Any) -> None:
    spider, _, keyword = key.partition(":")
    run = state.CrawlRun(
        run_id=f"{key}-{hours_ago}", spider=spider, keyword=keyword.split("@")[0], source_key=key,
        started_at=T - timedelta(hours=hours_ago, minutes=2), finished_at=T - timedelta(hours=hours_ago),
        finish_reason=flags.pop("reason", "finished"), items=0 if flags.get("zero_results") else 5, **flags,
    )  # fmt: skip
    state.record_run(es, prefix, run)


def test_crawler_health_reports_broken_silent_and_stale_sources(es: Elasticsearch, prefix: str) -> None:
    rule = CrawlerHealthRule(name="health")
    assert evaluate(rule, ctx(es, prefix, T)) == []  # no run recorded: nothing to say
    for h in (3, 2, 1):
        _record(es, prefix, "weibo:北辰", h)
        _record(es, prefix, "reddit:北辰", h)
        _record(es, prefix, "jd:北辰", h + 9)
        _record(es, prefix, "bilibili:北辰@127.0.0.1", h)
    _record(es, prefix, "weibo:北辰", 0.5, broken=True, parse_errors=3, reason="layout_changed")
    _record(es, prefix, "reddit:北辰", 0.5, zero_results=True, silent=True)
    _record(es, prefix, "weibo:北辰", 0.9 + 24, broken=True)  # long ago, and not the latest anyway
    _record(es, prefix, "bilibili:北辰@127.0.0.1", 0.5, zero_results=True, reason="blocked",
            blocked="bilibili: code -412 (request intercepted)")
    assert evaluate(rule, ctx(es, prefix, T)) == []  # no source configured: none is watched
    found = {m.source_key: m for m in evaluate(rule, ctx(es, prefix, T, source_keys=("*",)))}
    assert set(found) == {"weibo:北辰", "reddit:北辰", "jd:北辰", "bilibili:北辰@127.0.0.1"}
    block = found["bilibili:北辰@127.0.0.1"]
    assert block.summary.endswith("blocked for 1 run: bilibili: code -412 (request intercepted)")
    assert block.evidence["blocked"] == 1.0 and "broken" not in block.summary
    assert found["weibo:北辰"].severity == "notice" and "broken" in found["weibo:北辰"].summary
    assert "silent" in found["reddit:北辰"].summary and "no run for 10.0 h" in found["jd:北辰"].summary
    assert found["weibo:北辰"].query == 'platform:"weibo"'
    # only configured sources when the config lists some
    only = evaluate(rule, ctx(es, prefix, T, source_keys=("weibo:北辰", "jd:x")))
    assert [m.source_key for m in only] == ["weibo:北辰"]
    # point in time: before the broken run, the source was fine
    assert evaluate(rule, ctx(es, prefix, T - timedelta(minutes=45), source_keys=("weibo:北辰",))) == []


def test_a_source_is_stale_only_for_the_time_the_scheduler_ran_without_running_it(
    es: Elasticsearch, prefix: str
) -> None:
    """A scheduler back after a day down (a demo's next simulated day too) finds every source's last run a day old
    and is about to run them: no staleness alert at its start; one once it ran `stale_minutes` without them."""
    rule = CrawlerHealthRule(name="health")  # stale after 6 h: notice at 1 period, urgent at 3
    _record(es, prefix, "weibo:北辰", 25)
    _record(es, prefix, "jd:北辰", 1)
    keys = ("weibo:北辰", "jd:北辰")
    by_hand = evaluate(rule, ctx(es, prefix, T, source_keys=keys))  # no scheduler: since the last run
    assert [(m.source_key, m.severity) for m in by_hand] == [("weibo:北辰", "urgent")]
    assert by_hand[0].summary.endswith("no run for 25.0 h")
    assert evaluate(rule, ctx(es, prefix, T, source_keys=keys, running_since=T - timedelta(minutes=5))) == []
    later = evaluate(rule, ctx(es, prefix, T, source_keys=keys, running_since=T - timedelta(hours=7)))
    assert [(m.source_key, m.severity) for m in later] == [("weibo:北辰", "notice")]
    assert later[0].summary.endswith("no run for 25.0 h (7.0 h of them with the scheduler running)")
    assert later[0].evidence["minutes_since_last_run"] == 1500.0 and later[0].evidence["minutes_missed"] == 420.0
    # a scheduler running since before the last run counts from that run, as by hand
    long_up = evaluate(rule, ctx(es, prefix, T, source_keys=keys, running_since=T - timedelta(days=3)))
    assert [(m.summary, m.severity) for m in long_up] == [(by_hand[0].summary, "urgent")]


def test_a_rule_the_store_refuses_is_an_error_and_an_alert_about_the_rule(
    es: Elasticsearch, prefix: str, store: Any
) -> None:
    store([post("北辰食品安全", T - timedelta(minutes=5))])
    bad = ThresholdRule(name="likes typo", query="likes:lots AND 食品安全", threshold=1)  # parses; likes is a number
    good = ThresholdRule(name="food", query="食品安全", threshold=1)
    off = ThresholdRule(name="off", query="食品安全", threshold=1, enabled=False)
    errors: list[str] = []
    matches = evaluate_all([bad, good, off], ctx(es, prefix, T), errors)
    assert sorted(m.rule for m in matches) == ["food", "likes typo"]
    blind = next(m for m in matches if m.rule == "likes typo")
    assert (blind.rule_type, blind.source_key, blind.severity) == ("rule_error", "rule:likes typo", "urgent")
    assert "cannot run" in blind.summary and "likes" in blind.summary
    assert len(errors) == 1 and "likes typo" in errors[0] and "threshold" in errors[0] and "400" in errors[0]


def test_partial_shard_failures_are_errors_not_nothing(es: Elasticsearch, prefix: str, store: Any) -> None:
    store([post("北辰食品安全", T - timedelta(minutes=5))])
    # another index behind the alias where `likes` is a keyword: the query runs there and fails on the others
    props = {"likes": {"type": "keyword"}, "published_at": {"type": "date"}, "first_seen_at": {"type": "date"},
             "text_phrase": {"type": "text"}, "title_phrase": {"type": "text"}, "author_key": {"type": "keyword"},
             "author_followers": {"type": "long"}, "engagement_history": {"type": "object"},
             "mention_id": {"type": "keyword"}}
    es.indices.create(index=f"{prefix}-imported", mappings={"properties": props},
                      aliases={mapping.alias(prefix): {}})
    es.index(index=f"{prefix}-imported", document={"mention_id": "x1", "likes": "lots", "published_at": mapping._iso(T),
                                                  "first_seen_at": mapping._iso(T)}, refresh=True)
    errors: list[str] = []
    matches = evaluate_all([ThresholdRule(name="partial", query="likes:lots", threshold=1)], ctx(es, prefix, T),
                           errors)
    assert len(errors) == 1 and "shard" in errors[0], errors
    assert [(m.rule_type, m.severity) for m in matches] == [("rule_error", "urgent")]


def test_context_watches_configured_and_indexed_brands(es: Elasticsearch, prefix: str, store: Any) -> None:
    store([post("北辰不错", T - timedelta(days=2), label="positive"), post("Lumio还行", T, brand="Lumio")])
    cfg = gsconfig.AppConfig.model_validate(
        {
            "brands": [{"name": "云栖"}],
            "sources": [
                {"name": "w", "spider": "weibo", "keywords": ["北辰"]},
                {"name": "r", "spider": "reddit"},
                {"name": "off", "spider": "jd", "enabled": False},
            ],
        }
    )
    c = context_for(cfg, es, prefix, T - timedelta(hours=1))
    assert c.brands == ("云栖", "北辰")  # Lumio's mention is not published yet at that instant
    assert c.source_keys == ("reddit:云栖", "weibo:北辰")
