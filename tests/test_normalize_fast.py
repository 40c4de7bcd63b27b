"""pipelines.normalize.normalize takes shortcuts for the common case (a None, an ASCII string, a plain count); it
must decide every mention as the straightforward version below does, the one it replaced: the same fields, or the
same rejection."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.mention import INPUT_FIELDS, Mention
from pipelines import normalize as nz

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _reference_analysis_fields(m: Mention) -> None:
    for name in ("complaint_categories", "complaint_phrases", "lsh_bands"):
        value = getattr(m, name)
        if value is None:
            setattr(m, name, [])
        elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise nz.Rejected(f"{name}: expected a list of text, got {nz._shown(value)}")
    for name in ("sentiment_label", "complaint_severity", "cluster_id", "minhash"):
        setattr(m, name, nz._as_str(getattr(m, name), name))
    m.sentiment_score = nz._as_float(m.sentiment_score, "sentiment_score")
    if m.is_complaint is not None and not isinstance(m.is_complaint, bool):
        raise nz.Rejected(f"is_complaint: expected true or false, got {nz._shown(m.is_complaint)}")
    if not isinstance(m.extra, dict):
        raise nz.Rejected(f"extra: expected an object, got {nz._shown(m.extra)}")


def _reference_clean_text(value: str) -> str:
    text = nz._BR_RE.sub("\n", value)
    text = nz._TAG_RE.sub("", text)
    text = nz.html.unescape(text)
    text = nz.fold_width(text)
    text = nz._CONTROL_RE.sub("", text)
    lines = [nz._SPACE_RE.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def reference(m: Mention, now: datetime) -> Mention:
    """normalize as it was before its shortcuts (issue 14 part 13), the clean_text of each text field included."""
    clean = _reference_clean_text
    for name in INPUT_FIELDS:
        value = getattr(m, name)
        if value is not None and not isinstance(value, bool | int | float):
            setattr(m, name, nz._mend(value))
    m.extra = nz._mend(m.extra)
    platform = nz._as_str(m.platform, "platform")
    if not platform:
        raise nz.Rejected("missing required field 'platform'")
    platform = platform.lower()
    if not nz._PLATFORM_RE.match(platform):
        raise nz.Rejected(f"platform: expected a short lowercase name like 'weibo', got {nz._shown(platform)}")
    m.platform = platform
    if not isinstance(m.text, str) or not m.text.strip():
        raise nz.Rejected("missing required field 'text'" if not m.text else
                          f"text: expected text, got {nz._shown(m.text)}")
    if len(m.text) > nz.MAX_TEXT:
        raise nz.Rejected(f"text: longer than {nz.MAX_TEXT} characters ({len(m.text)})")
    m.text = clean(m.text)
    if not m.text:
        raise nz.Rejected("text: empty once HTML is removed")
    if m.published_at is None or m.published_at == "":
        raise nz.Rejected("missing required field 'published_at'")
    m.published_at = nz.parse_time(m.published_at, "published_at")
    m.crawled_at = now if m.crawled_at in (None, "") else nz.parse_time(m.crawled_at, "crawled_at")
    m.source_id = nz._as_str(m.source_id, "source_id")
    m.url = nz._as_str(m.url, "url")
    if not m.source_id and not m.url:
        raise nz.Rejected("needs 'source_id' or 'url' to identify the post")
    m.source_id = m.source_id or m.url
    m.title = clean(m.title) if isinstance(m.title, str) else nz._as_str(m.title, "title")
    m.title = m.title or None
    for name in ("author", "author_id", "brand", "product", "repost_of", "reply_to", "lang"):
        setattr(m, name, nz._as_str(getattr(m, name), name))
    for name in ("author_followers", "likes", "reposts", "comments"):
        setattr(m, name, nz._as_int(getattr(m, name), name))
    m.rating = nz._as_float(m.rating, "rating")
    _reference_analysis_fields(m)
    return m


_text = st.text(alphabet=st.sampled_from(list("ab Z<>br/&amp;;\n\t\u3000Ａ１小米\ud800\x07 ")), max_size=12)
_scalar = st.one_of(
    st.none(), st.just(""), _text, st.booleans(), st.integers(min_value=-5, max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([2.0**63, 3.0, -1.0, 1e300]),
    st.sampled_from(["12", " 7 ", "x1", "2026-11-24T10:00:00+08:00", "2026-11-24T10:00:00Z", "2026-11-24T10:00:00",
                     "99999-01-01T00:00:00Z", "1700000000"]),
)
_value = st.one_of(_scalar, st.lists(_scalar, max_size=3), st.dictionaries(_text, _scalar, max_size=2))
_time = st.one_of(
    st.sampled_from(["2026-11-24T10:00:00+08:00", "2026-10-01T00:00:00Z", 1.7e9, 1700000000, None]), _value)
_GOOD = {"platform": "weibo", "text": "小米 客服 <b>不回</b>", "published_at": "2026-11-24T10:00:00+08:00",
         "source_id": "1"}


_PLAUSIBLE: dict[str, Any] = {
    **dict.fromkeys(("author_followers", "likes", "reposts", "comments"),
                    st.one_of(st.integers(min_value=0, max_value=10**6), st.just("12"), st.just(3.0))),
    **dict.fromkeys(("complaint_categories", "complaint_phrases", "lsh_bands"), st.lists(_text, max_size=2)),
    "rating": st.one_of(st.floats(min_value=0, max_value=5), st.just("4.5")),
    "sentiment_score": st.floats(min_value=0, max_value=1),
    "is_complaint": st.booleans(),
    "published_at": _time, "crawled_at": _time,
}


@st.composite
def mentions(draw: Any) -> Mention:
    """Mostly well-formed (the required fields nearly always), so that every check is reached, the last ones too."""
    fields: dict[str, Any] = {}
    for name in sorted(INPUT_FIELDS):
        kind = draw(st.integers(min_value=0, max_value=39))
        if name in _GOOD and kind < 38:
            fields[name] = _GOOD[name]
        elif kind < 12:
            continue
        elif kind < 37:
            fields[name] = draw(_PLAUSIBLE.get(name, st.one_of(st.none(), _text)))
        else:
            fields[name] = draw(_time if name in ("published_at", "crawled_at") else _value)
    fields["extra"] = draw(st.one_of(st.just({}), st.dictionaries(_text, _value, max_size=2), _value))
    return Mention(**fields)


def _outcome(fn: Any, m: Mention) -> Any:
    try:
        return fn(m, NOW).__dict__
    except nz.Rejected as exc:
        return ("rejected", str(exc))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=1500, deadline=None)
@given(mentions())
def test_normalize_decides_as_the_straightforward_version(m: Mention) -> None:
    expected = _outcome(reference, copy.deepcopy(m))
    got = _outcome(nz.normalize, copy.deepcopy(m))
    assert _same(got, expected), (got, expected)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab <br/>&amp;\n\r\t\u3000\u00a0Ａ１小\x07\x85")), max_size=30))
def test_clean_text_as_the_straightforward_version(text: str) -> None:
    assert nz.clean_text(text) == _reference_clean_text(text)
