"""Query building for `groundswell search` (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from store.search import QueryError, SearchRequest, build_query, is_lucene, parse_time, quote_cjk_terms


def test_plain_phrases_are_not_lucene() -> None:
    assert not is_lucene("小米手机 黑屏")
    assert not is_lucene("screen went black")
    assert is_lucene("platform:weibo")
    assert is_lucene('"黑屏" OR 死机')
    assert is_lucene("小米 NOT 粥")


def test_bare_chinese_terms_are_quoted() -> None:
    assert quote_cjk_terms("小米 NOT 粥 AND platform:weibo") == '"小米" NOT "粥" AND platform:weibo'
    assert quote_cjk_terms('brand:小米 "已 引用"') == 'brand:"小米" "已 引用"'
    assert quote_cjk_terms("-退款 +黑屏 小*") == '-"退款" +"黑屏" 小*'


def test_plain_query_is_an_exact_phrase_on_text_and_title() -> None:
    q = build_query(SearchRequest(query="ＸＩＡＯＭＩ 14"))
    should = q["bool"]["must"][0]["bool"]["should"]
    assert {"match_phrase": {"text_phrase": {"query": "XIAOMI 14"}}} in should


def test_filters() -> None:
    since = datetime(2026, 11, 1, tzinfo=UTC)
    q = build_query(SearchRequest(query="", since=since, platforms=("Weibo",), brands=("小米",), sentiment="negative"))
    assert q["bool"]["must"] == [{"match_all": {}}]
    assert {"terms": {"platform": ["weibo"]}} in q["bool"]["filter"]
    assert {"term": {"sentiment.label": "negative"}} in q["bool"]["filter"]
    assert {"range": {"@timestamp": {"gte": since.isoformat()}}} in q["bool"]["filter"]


def test_times() -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    assert parse_time("24h", "--since", now) == datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert parse_time("2026-11-24", "--since", now) == datetime(2026, 11, 24, tzinfo=UTC)
    with pytest.raises(QueryError, match="--until"):
        parse_time("last tuesday", "--until", now)
