"""The document shape and the merge that keeps engagement history (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.mention import Mention
from pipelines.normalize import normalize
from store import mapping

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def doc(crawled: datetime, likes: int = 0, reposts: int = 0, comments: int = 0, **kw: Any) -> dict[str, Any]:
    m = Mention(
        platform="weibo",
        source_id="42",
        text=kw.pop("text", "黑屏了"),
        published_at=T0,
        crawled_at=crawled,
        likes=likes,
        reposts=reposts,
        comments=comments,
        **kw,
    )
    return mapping.to_document(normalize(m, crawled))


def test_id_depends_on_platform_and_source_only() -> None:
    assert mapping.doc_id("weibo", "42") == doc(T0)["mention_id"] == doc(T0 + timedelta(hours=1), 9)["mention_id"]
    assert mapping.doc_id("weibo", "42") != mapping.doc_id("reddit", "42")


def test_a_new_post_goes_to_the_month_it_was_first_seen_in_utc() -> None:
    assert mapping.index_for("gs", datetime(2026, 12, 1, 7, tzinfo=UTC)) == "gs-mentions-2026.12"
    assert mapping.index_of(doc(T0), "gs") == "gs-mentions-2026.11"
    # published in November, first crawled in December
    assert mapping.index_of(doc(datetime(2026, 12, 1, 0, 5, tzinfo=UTC)), "gs") == "gs-mentions-2026.12"


def test_author_key_is_the_id_else_the_name_per_platform() -> None:
    assert doc(T0, author_id="1001", author="数码小王")["author_key"] == "weibo:id:1001"
    assert doc(T0, author="数码小王")["author_key"] == "weibo:name:数码小王"
    assert doc(T0)["author_key"] is None
    assert mapping.author_key("jd", "  ", " a***q ") == "jd:name:a***q"
    assert mapping.author_key("weibo", "x", None) != mapping.author_key("reddit", "x", None)
    assert mapping.author_key("weibo", "x", None) != mapping.author_key("weibo", None, "x")


def test_every_document_field_is_mapped() -> None:
    # every mapped field is written, but version 4's form of the founders' band keys (kept mapped for its months)
    assert set(doc(T0)) == set(mapping.PROPERTIES) - {"cluster_bands"}


def test_same_observation_is_a_duplicate() -> None:
    assert mapping.merge(doc(T0, 5), doc(T0, 5)) is None
    # a later crawl that saw the same counts adds nothing either
    assert mapping.merge(doc(T0, 5), doc(T0 + timedelta(hours=1), 5)) is None


BANDS = [f"{b:02d}{b * 7919:08x}" for b in range(32)]


def founder(crawled: datetime, likes: int = 0, **kw: Any) -> dict[str, Any]:
    d = doc(crawled, likes, **kw)
    d["cluster_id"], d["lsh_bands"] = d["mention_id"], list(BANDS)
    return d


def test_the_stored_form_has_no_band_keys_and_a_stored_founder_keeps_its_ids() -> None:
    """What is stored lacks lsh_bands (a run's lookups read them from its own documents); a stored founder read back
    and written again without them (merged with a stored copy) keeps the band ids it was stored with, and seeing the
    same post again is still a duplicate."""
    d = mapping.mark_founder(founder(T0, 5))
    stored = mapping.stored_form(d)
    assert "lsh_bands" not in stored and "lsh_bands" in d
    assert stored["cluster_band_ids"] == [mapping.band_id(k) for k in BANDS]
    assert mapping.merge(stored, founder(T0 + timedelta(hours=1), 5)) is None
    again = mapping.merge(stored, founder(T0 + timedelta(hours=1), 9))  # from the run that saw it again
    assert again is not None and again["cluster_band_ids"] == stored["cluster_band_ids"]
    copies = mapping.merge(stored, mapping.stored_form(mapping.mark_founder(founder(T0 + timedelta(hours=2), 12))))
    assert copies is not None and "lsh_bands" not in copies
    assert copies["cluster_band_ids"] == stored["cluster_band_ids"]  # two stored copies: neither has lsh_bands
    v4 = {**stored, "cluster_bands": list(BANDS)}
    del v4["cluster_band_ids"]  # a founder stored by version 4
    assert mapping.mark_founder(dict(v4))["cluster_band_ids"] == stored["cluster_band_ids"]
    assert "cluster_bands" not in mapping.mark_founder(dict(v4))
    other = {**stored, "cluster_id": "weibo-elsewhere"}  # not a founder: nothing to find it by
    assert mapping.mark_founder(other)["cluster_band_ids"] == []


def test_new_counts_append_history_in_time_order() -> None:
    a, b, c = doc(T0, 1, 1), doc(T0 + timedelta(hours=2), 50, 400), doc(T0 + timedelta(hours=1), 10, 90)
    ab = mapping.merge(a, b)
    assert ab is not None and ab["reposts"] == 400
    abc = mapping.merge(ab, c)  # a late replay of an older crawl
    assert abc is not None
    assert [o["reposts"] for o in abc["engagement_history"]] == [1, 90, 400]
    assert abc["reposts"] == 400 and abc["engagement"] == 450  # newest observation wins
    assert abc["first_seen_at"] == a["crawled_at"] and abc["crawled_at"] == b["crawled_at"]


def test_content_change_updates_without_new_observation() -> None:
    merged = mapping.merge(doc(T0, 3), doc(T0, 3, text="黑屏了，已修好"))
    assert merged is not None and merged["text"] == "黑屏了，已修好"
    assert len(merged["engagement_history"]) == 1


def test_history_is_bounded() -> None:
    state = doc(T0, 0)
    for i in range(1, mapping.HISTORY_LIMIT + 20):
        nxt = mapping.merge(state, doc(T0 + timedelta(minutes=i), i))
        assert nxt is not None
        state = nxt
    hist = state["engagement_history"]
    assert len(hist) == mapping.HISTORY_LIMIT
    assert hist[0]["likes"] == 0 and hist[-1]["likes"] == mapping.HISTORY_LIMIT + 19


def test_phrase_segments_cut_only_at_chinese_boundaries() -> None:
    assert mapping.phrase_segments("手机黑 屏幕亮度很好") == ["手机黑", "屏幕亮度很好"]
    assert mapping.phrase_segments("手机黑，屏幕") == ["手机黑", "屏幕"]
    assert mapping.phrase_segments("My phone, it's black. OK") == ["My phone, it's black. OK"]
    assert mapping.phrase_segments("小米14 Pro黑屏了！太差") == ["小米14 Pro黑屏了", "太差"]
    assert mapping.phrase_segments("") == []


def test_the_month_of_a_utc_time_as_stored_is_read_off_the_string() -> None:
    """index_of reads the month of a time written as _iso writes it straight off the string; any other form is
    parsed. Both give the month in UTC."""
    import random
    from datetime import timezone

    def parsed(first: str) -> str:
        return mapping.index_for("gs", datetime.fromisoformat(first.replace("Z", "+00:00")))

    rng = random.Random(5)
    values = ["2026-12-31T23:59:59.999Z", "2026-12-31T23:59:59.999+00:00", "0999-05-01T00:00:00.000Z",
              "1000-01-01T00:00:00Z", "2026-01-31T20:00:00-05:00", "2026-02-01T03:00:00+08:00"]
    for _ in range(2000):
        t = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(-10**10, 10**10))
        values += [str(mapping._iso(t)), t.astimezone(timezone(timedelta(hours=8))).isoformat()]
    for first in values:
        assert mapping.index_of({"first_seen_at": first}, "gs") == parsed(first), first


def test_founders_marked_together_as_one_by_one() -> None:
    """mark_founders (the writer's, a batch at once) sets what mark_founder sets on each document: founders' band
    keys as numbers, nothing on the others, a stored founder's earlier keys kept, version 4's field dropped."""
    import copy

    from pipelines.near_duplicates import fingerprint

    fp = fingerprint("快递三天了还没发货，客服一直不回复，太失望了")
    assert fp is not None
    bands = list(fp.bands)
    docs: list[dict[str, Any]] = [
        {"mention_id": "a", "cluster_id": "a", "lsh_bands": bands},  # a founder
        {"mention_id": "b", "cluster_id": "a", "lsh_bands": bands},  # a copy
        {"mention_id": "c", "cluster_id": "c", "cluster_band_ids": [7, 8]},  # a stored founder read back
        {"mention_id": "d", "cluster_id": "d", "cluster_bands": bands[:3]},  # version 4's form
        {"mention_id": "e", "cluster_id": "e", "lsh_bands": bands[:2], "cluster_bands": ["x"]},
        {"mention_id": "f", "cluster_id": None, "lsh_bands": bands},
        {"mention_id": "g", "cluster_id": "g", "lsh_bands": []},
    ]
    one_by_one = [mapping.mark_founder(copy.deepcopy(d)) for d in docs]
    together = copy.deepcopy(docs)
    mapping.mark_founders(together)
    assert together == one_by_one
    assert together[0]["cluster_band_ids"] == [mapping.band_id(k) for k in bands]
    odd = {"mention_id": "h", "cluster_id": "h", "lsh_bands": [bands[0], "05NOTHEX00", "", bands[1]]}
    alone = mapping.mark_founder(copy.deepcopy(odd))
    mapping.mark_founders([odd])
    assert odd["cluster_band_ids"] == [mapping.band_id(bands[0]), mapping.band_id(bands[1])]
    assert alone == odd  # one by one too: a malformed key is left out, not an error that fails the batch
    v4 = mapping.mark_founder({"mention_id": "i", "cluster_id": "i", "cluster_bands": ["0Z", bands[2]]})
    assert v4["cluster_band_ids"] == [mapping.band_id(bands[2])]
