"""First stage: check and normalize a mention, whatever brought it (a spider or `groundswell ingest`).

Pure functions do the work (`normalize(mention, now)` raises Rejected with a reason fit to print); the
pipeline is a thin adapter that turns Rejected into Scrapy's DropItem and counts the reason.
"""

from __future__ import annotations

import html
import math
import re
from datetime import UTC, datetime
from typing import Any

from scrapy.exceptions import DropItem

from core import clock, times
from core.mention import INPUT_FIELDS, Mention
from core.textfold import fold_width

_TAG_RE = re.compile(r"<[^>]{0,2000}>")
_BR_RE = re.compile(r"<\s*br\s*/?\s*>", re.I)
_SPACE_RE = re.compile(r"[ \t\u00a0\u3000]+")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Unicode's control characters (category Cc: U+0000-U+001F, U+007F-U+009F) but for line feed and tab
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_PLATFORM_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
MAX_TEXT = 100_000
MAX_COUNT = 2**63 - 1  # Elasticsearch's long


class Rejected(ValueError):
    """A mention that cannot be stored; the message says which field and why."""


class RejectedItem(DropItem):
    """Dropped for bad input (reported per line), as opposed to dropped as off-topic (counted by reason)."""


def clean_text(value: str) -> str:
    """HTML to plain text, full-width letters and digits folded, whitespace collapsed; keeps line breaks."""
    text = _BR_RE.sub("\n", value)
    text = _TAG_RE.sub("", text)
    text = html.unescape(text)
    text = fold_width(text)
    text = _CONTROL_RE.sub("", text)
    if "\n" not in text:  # one line, as most posts are: what the lines below give it, without their loop
        return _SPACE_RE.sub(" ", text).strip()
    lines = [_SPACE_RE.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def parse_time(value: Any, name: str) -> datetime:
    """ISO 8601 with a UTC offset (or Z), or epoch seconds; naive times are refused: whose clock would it be?
    Only core.times' range (1970 to 2999) is a time a post can have; it is checked before any conversion, so year
    9999 at -05:00 or 1e20 seconds is a rejection, not an overflow."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or not times.EARLIEST.timestamp() <= value < times.LATEST.timestamp():
            raise Rejected(f"{name}: epoch seconds out of range ({times.RANGE_TEXT}): {value!r}")
        return datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str) and value.strip():
        raw = value.strip()
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise Rejected(f"{name}: not an ISO 8601 timestamp: {_shown(raw)}") from None
    else:
        raise Rejected(f"{name}: expected an ISO 8601 timestamp, got {_shown(value)}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise Rejected(f"{name}: timestamp has no UTC offset: {_shown(value)} (write e.g. 2026-11-24T10:00:00+08:00)")
    if not times.in_range(dt):
        raise Rejected(f"{name}: out of range ({times.RANGE_TEXT}): {_shown(value)}")
    return dt.astimezone(UTC)


def _shown(value: Any, limit: int = 80) -> str:
    """A bad value for a message: its repr, cut so that one rejected line stays one line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _as_int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Rejected(f"{name}: expected a whole number, got {value!r}")
    if isinstance(value, int):
        n = value
    elif isinstance(value, float) and value.is_integer():
        if abs(value) > MAX_COUNT:
            raise Rejected(f"{name}: out of range: {value!r}")
        n = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d{1,30}\s*", value):
        n = int(value)
    else:
        raise Rejected(f"{name}: expected a whole number, got {_shown(value)}")
    if n < 0:
        raise Rejected(f"{name}: must not be negative, got {n}")
    if n > MAX_COUNT:
        raise Rejected(f"{name}: out of range (at most {MAX_COUNT}), got {_shown(n)}")
    return n


def _as_float(value: Any, name: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Rejected(f"{name}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise Rejected(f"{name}: expected a number, got {_shown(value)}") from None
    if not math.isfinite(number):
        raise Rejected(f"{name}: expected a finite number, got {_shown(value)}")
    return number


def _as_str(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise Rejected(f"{name}: expected text, got {type(value).__name__}")


def _mend(value: Any) -> Any:
    """Lone surrogates (a JSON escape like \\ud800 with no partner) become U+FFFD, in strings nested anywhere: no
    UTF-8 encoder, Elasticsearch's included, can take them, and one would fail a whole bulk request."""
    if isinstance(value, str):  # (isascii first: ids, URLs and names, in a tenth of the search's time)
        return value if value.isascii() or not _SURROGATE_RE.search(value) else _SURROGATE_RE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_mend(k): _mend(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mend(v) for v in value]
    return value


_TEXT_FIELDS = ("author", "author_id", "brand", "product", "repost_of", "reply_to", "lang")
_COUNT_FIELDS = ("author_followers", "likes", "reposts", "comments")
_LIST_FIELDS = ("complaint_categories", "complaint_phrases", "lsh_bands")
_ANALYSIS_TEXT_FIELDS = ("sentiment_label", "complaint_severity", "cluster_id", "minhash")
# types whose values normalize never changes in the mending pass (a bool is an int subclass: both stay)
_PLAIN = frozenset({int, float, bool})


def normalize(m: Mention, now: datetime) -> Mention:
    """Check required fields, parse and fold the rest in place; raise Rejected naming the bad field.

    It runs on every mention, in the analysis workers or in the one process all mentions pass (pipelines.parallel),
    so the common case takes no detour: fields are read and written through the mention's __dict__ (a plain
    dataclass: the same as getattr and setattr), and the checks that cannot change a None, an ASCII string or a
    plain count are not called for them (tests/test_normalize_fast.py holds it to the straightforward version)."""
    d = m.__dict__
    for name in INPUT_FIELDS:
        value = d[name]
        if value is None or value.__class__ in _PLAIN:
            continue
        if value.__class__ is str:
            if not value.isascii():  # (an ASCII string holds no surrogate: _mend would give it back as it is)
                d[name] = _mend(value)
        elif not isinstance(value, bool | int | float):  # most of the fields: nothing to mend
            d[name] = _mend(value)
    if m.extra:
        m.extra = _mend(m.extra)
    platform = _as_str(m.platform, "platform")
    if not platform:
        raise Rejected("missing required field 'platform'")
    platform = platform.lower()
    if not _PLATFORM_RE.match(platform):
        raise Rejected(f"platform: expected a short lowercase name like 'weibo', got {_shown(platform)}")
    m.platform = platform
    if not isinstance(m.text, str) or not m.text.strip():
        raise Rejected("missing required field 'text'" if not m.text else f"text: expected text, got {_shown(m.text)}")
    if len(m.text) > MAX_TEXT:
        raise Rejected(f"text: longer than {MAX_TEXT} characters ({len(m.text)})")
    m.text = clean_text(m.text)
    if not m.text:
        raise Rejected("text: empty once HTML is removed")
    if m.published_at is None or m.published_at == "":
        raise Rejected("missing required field 'published_at'")
    m.published_at = parse_time(m.published_at, "published_at")
    m.crawled_at = now if m.crawled_at in (None, "") else parse_time(m.crawled_at, "crawled_at")
    m.source_id = _as_str(m.source_id, "source_id")
    m.url = _as_str(m.url, "url")
    if not m.source_id and not m.url:
        raise Rejected("needs 'source_id' or 'url' to identify the post")
    m.source_id = m.source_id or m.url
    m.title = clean_text(m.title) if isinstance(m.title, str) else _as_str(m.title, "title")
    m.title = m.title or None
    for name in _TEXT_FIELDS:
        value = d[name]
        if value is not None:  # (_as_str(None) is None)
            d[name] = _as_str(value, name)
    for name in _COUNT_FIELDS:
        value = d[name]
        if value is not None and (value.__class__ is not int or not 0 <= value <= MAX_COUNT):  # else: as it is
            d[name] = _as_int(value, name)
    m.rating = _as_float(m.rating, "rating")
    _analysis_fields(m)
    return m


def _analysis_fields(m: Mention) -> None:
    """Fields the later stages fill may come with the input (a re-ingested export): typed here like the rest."""
    d = m.__dict__
    for name in _LIST_FIELDS:
        value = d[name]
        if value is None:
            d[name] = []
        elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Rejected(f"{name}: expected a list of text, got {_shown(value)}")
    for name in _ANALYSIS_TEXT_FIELDS:
        value = d[name]
        if value is not None:
            d[name] = _as_str(value, name)
    if m.sentiment_score is not None:
        m.sentiment_score = _as_float(m.sentiment_score, "sentiment_score")
    if m.is_complaint is not None and not isinstance(m.is_complaint, bool):
        raise Rejected(f"is_complaint: expected true or false, got {_shown(m.is_complaint)}")
    if not isinstance(m.extra, dict):
        raise Rejected(f"extra: expected an object, got {_shown(m.extra)}")


class NormalizePipeline:
    """Scrapy adapter: a Rejected mention becomes DropItem, counted per reason in the crawl stats."""

    PARALLEL_SAFE = True  # pure per item: pipelines.parallel may run it in a worker process

    def __init__(self, stats: Any):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> NormalizePipeline:
        return cls(crawler.stats)

    def process_item(self, item: Mention) -> Mention:
        try:
            return normalize(item, clock.now())
        except Rejected as exc:
            self.stats.inc_value("groundswell/rejected")
            raise RejectedItem(str(exc)) from None
