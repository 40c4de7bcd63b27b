"""What all platform parsers share: the error types, the page result and tolerant field readers."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from core.mention import Mention

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
_JSONP_RE = re.compile(r"^\s*[\w$.]+\s*\((.*)\)\s*;?\s*$", re.S)
_COUNT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([万亿wWkK]?)\+?\s*$")
MAX_EPOCH = 32503680000  # 3000-01-01T00:00:00Z: later is a broken field
_UNITS = {"": 1, "万": 10_000, "w": 10_000, "W": 10_000, "亿": 100_000_000, "k": 1_000, "K": 1_000}


class ParseError(ValueError):
    """A response that lost a required field or is not valid JSON: the site changed or blocked us.

    The crawler-health feature counts these, so the message names the platform, the endpoint and the field.
    """


class Blocked(Exception):
    """The platform refused to answer (risk control, a missing session, signature or credential): not a changed
    page. The message is the platform's signal ("bilibili: code -412"), for the run record and the health alert;
    the crawl of that source stops, since retrying would only be refused again."""


class LoginWall(Blocked):
    """The site asks for a login instead of answering: a block; report it and stop, never retry in a loop."""


class Skip(ValueError):
    """One malformed post: skipped with this reason while the rest of the page is kept."""


@dataclass
class SearchPage:
    """One parsed page: the mentions, the cursor of the next page (None: last page) and why posts were skipped."""

    mentions: list[Mention] = field(default_factory=list)
    next_page: int | str | None = None
    skipped: list[str] = field(default_factory=list)


def essentials(
    row: Any, kind: str, noun: str, id_keys: tuple[str, ...], text_path: str
) -> tuple[dict[str, Any], str, str]:
    """What no post can do without: the row as a mapping, its id (the first of `id_keys` present) and its text
    (at the dotted `text_path`); raise Skip naming the one that is lost."""
    if not isinstance(row, dict):
        raise Skip(f"{kind} is not an object")
    own_id = next((found for key in id_keys if (found := text_id(row.get(key)))), None)
    if not own_id:
        raise Skip(f"{kind}.{id_keys[0]} missing")
    text: Any = row
    for key in text_path.split("."):
        text = text.get(key) if isinstance(text, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise Skip(f"{noun} {own_id}: {text_path} missing")
    return row, own_id, text


def attempt(page: SearchPage, build: Callable[[Any], Mention], row: Any, where: str) -> bool:
    """Add one row's mention to the page, or, when the row raises Skip, the reason; whether it was added."""
    try:
        page.mentions.append(build(row))
    except Skip as exc:
        page.skipped.append(f"{where}: {exc}")
        return False
    return True


def collect(
    rows: Iterable[Any], build: Callable[[Any], Mention], what: str, wanted: Callable[[Any], bool] | None = None
) -> SearchPage:
    """A page of mentions built row by row: a row that raises Skip is listed with its reason (`what #index`), the
    rest is kept; rows `wanted` refuses (not posts: ads, users) are passed over."""
    page = SearchPage()
    for index, row in enumerate(rows):
        if wanted is None or wanted(row):
            attempt(page, build, row, f"{what} #{index}")
    return page


_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def html_text(html: str) -> str:
    """A page fit for parsel/lxml: control characters, which lxml refuses in tag and attribute names with a
    ValueError, are dropped (they are never content)."""
    return _XML_UNSAFE.sub("", html)


def load_json(text: str | bytes, what: str) -> Any:
    """Decode a JSON body; a truncated or HTML body is a ParseError naming the endpoint."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not text.strip():
        raise ParseError(f"{what}: empty response body")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"{what}: malformed JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def load_jsonp(text: str | bytes, what: str) -> Any:
    """Decode `callback({...});` (or plain JSON, which some mirrors send)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    match = _JSONP_RE.match(text)
    return load_json(match.group(1) if match else text, what)


def require(payload: Any, path: str, what: str, kind: type | tuple[type, ...] = (dict, list)) -> Any:
    """Follow a dotted path ("data.cards") and insist on its type; raise ParseError naming the lost field."""
    node = payload
    walked: list[str] = []
    for key in path.split("."):
        walked.append(key)
        if not isinstance(node, dict) or key not in node or node[key] is None:
            raise ParseError(f"{what}: {'.'.join(walked)} missing")
        node = node[key]
    if not isinstance(node, kind):
        raise ParseError(f"{what}: {path} is {type(node).__name__}, expected {_kind_name(kind)}")
    return node


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


MAX_COUNT = 2**63 - 1  # what the index's `long` holds


def parse_count(value: Any) -> int | None:
    """Counts as sites print them: 12, "12", "1.2万", "100万+", "--"; unreadable, negative or impossibly large
    counts are None."""
    if value is None or isinstance(value, bool):
        return None
    number: float | int | None = None
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str):
        match = _COUNT_RE.match(value)
        if match:
            number = float(match.group(1)) * _UNITS[match.group(2)]
    if number is None or not math.isfinite(number) or not 0 <= number <= MAX_COUNT:
        return None
    return int(number)


def text_id(value: Any) -> str | None:
    """An id as text (sites mix numbers and strings); empty and non-scalar ids are None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        text = str(value).strip()
        return text or None
    return None


def from_epoch(value: Any) -> datetime:
    """Epoch seconds to an aware UTC datetime; raise Skip for anything else, or for a time Python's calendar cannot
    hold (1e20 seconds would overflow, not be a post)."""
    if isinstance(value, str) and re.fullmatch(r"\d{1,15}(\.\d+)?", value.strip()):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < MAX_EPOCH:
        raise Skip(f"bad timestamp {str(value)[:40]!r}")
    return datetime.fromtimestamp(value, UTC)


def china_time(value: Any) -> datetime:
    """'2026-11-24 10:00:00' read as China time (+08:00), which is what Chinese sites print without saying so."""
    if not isinstance(value, str):
        raise Skip(f"bad time {value!r}")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=CHINA_TZ)
        except ValueError:
            continue
    raise Skip(f"bad time {value!r}")


def str_field(row: dict[str, Any], key: str) -> str:
    """A text field, or "" when absent or not text (sites send null for empty bodies)."""
    value = row.get(key)
    return value if isinstance(value, str) else ""
