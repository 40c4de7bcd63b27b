"""normalize(): required fields, timestamps with offsets, HTML and width folding, counts (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.mention import Mention
from pipelines.normalize import Rejected, clean_text, normalize, parse_time

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def mention(**kw: object) -> Mention:
    base: dict[str, object] = {
        "platform": "weibo",
        "text": "小米手机黑屏",
        "published_at": "2026-11-24T10:00:00+08:00",
        "source_id": "1",
    }
    base.update(kw)
    return Mention(**base)  # type: ignore[arg-type]


def test_ok_mention_is_normalized() -> None:
    m = normalize(mention(platform="Weibo", likes="12", rating="4.5", author="  甲 "), NOW)
    assert m.platform == "weibo" and m.likes == 12 and m.rating == 4.5 and m.author == "甲"
    assert m.published_at == datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert m.crawled_at == NOW


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"platform": ""}, "missing required field 'platform'"),
        ({"text": ""}, "missing required field 'text'"),
        ({"text": "<p> </p>"}, "text: empty once HTML is removed"),
        ({"published_at": None}, "missing required field 'published_at'"),
        ({"published_at": "2026-11-24 10:00:00"}, "no UTC offset"),
        ({"published_at": "yesterday"}, "not an ISO 8601 timestamp"),
        ({"source_id": None, "url": None}, "needs 'source_id' or 'url'"),
        ({"likes": -3}, "likes: must not be negative"),
        ({"reposts": "many"}, "reposts: expected a whole number"),
        ({"rating": "five"}, "rating: expected a number"),
        ({"platform": "We ibo!"}, "platform: expected a short lowercase name"),
        ({"author": {"name": "x"}}, "author: expected text"),
    ],
)
def test_rejections_say_which_field(kw: dict[str, object], reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        normalize(mention(**kw), NOW)


def test_url_stands_in_for_source_id() -> None:
    m = normalize(mention(source_id=None, url="https://example.com/p/1"), NOW)
    assert m.source_id == "https://example.com/p/1"


def test_html_entities_and_width_folded_punctuation_kept() -> None:
    assert clean_text("<p>ＸＩＡＯＭＩ　新品&amp;开箱<br/>第二行，很好！</p>") == "XIAOMI 新品&开箱\n第二行，很好！"


def test_control_characters_dropped() -> None:
    assert clean_text("a\x00b\x07c") == "abc"


def test_epoch_and_z_times() -> None:
    assert parse_time(0, "t") == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_time("2026-11-24T10:00:00Z", "t") == datetime(2026, 11, 24, 10, tzinfo=UTC)


def test_very_long_text_rejected_not_crashing() -> None:
    with pytest.raises(Rejected, match="longer than"):
        normalize(mention(text="长" * 100_001), NOW)
    assert len(normalize(mention(text="长" * 10_000), NOW).text) == 10_000
