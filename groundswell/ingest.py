"""Reads mention files for `groundswell ingest`: JSON Lines (one object a line) and CSV with a header,
optionally gzipped, or standard input. Yields each record as a Mention or as a `line N: reason` rejection;
a bad record never stops the good ones beside it.

What a file can do wrong is caught here, record by record: bytes that are not UTF-8, a byte-order mark, JSON
nested deeper than anything a mention needs (deep enough, it would exhaust Python's stack), numbers with
thousands of digits, NaN; in CSV a cell over the csv module's size limit or a quote that
never closes (which would swallow every row after it). A file that is plainly in the other format is said so
once, instead of being read as nothing.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import os
import re
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from core.mention import INPUT_FIELDS, Mention

_BAD_BYTES = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of bytes that are not UTF-8
BOM = "\ufeff"
MAX_DEPTH = 20  # objects and arrays inside a line; a mention's `extra` needs a few
MAX_LINE = 4_000_000  # characters in one JSONL line or one CSV row (a text is at most 100,000)
MAX_CSV_LINES = 1_000  # physical lines one quoted CSV cell may span before we call its quote unterminated
REQUIRED_COLUMNS = ("platform", "text", "published_at")


@dataclass(frozen=True)
class Line:
    """One input record: a mention to process, or the reason it cannot be."""

    source: str
    number: int
    mention: Mention | None = None
    error: str | None = None

    @property
    def origin(self) -> str:
        return f"{self.source}:line {self.number}"


def detect_format(name: str) -> str:
    base = name[:-3] if name.endswith(".gz") else name
    if base.endswith(".csv"):
        return "csv"
    return "jsonl"


def _open(path: str) -> IO[bytes]:
    """Bytes, decoded line by line below, so one line that is not UTF-8 costs only that line."""
    if path == "-":
        return sys.stdin.buffer
    if path.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def to_mention(record: dict[str, Any], origin: str) -> Mention:
    known = {k: v for k, v in record.items() if k in INPUT_FIELDS}
    extra = {k: v for k, v in record.items() if k not in INPUT_FIELDS and k}
    for list_field in ("complaint_categories", "complaint_phrases"):
        value = known.get(list_field)
        if isinstance(value, str):
            known[list_field] = [v.strip() for v in value.split("|") if v.strip()]
        elif value is None:
            known.pop(list_field, None)
    return Mention(**known, origin=origin, extra=extra)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


class _OutOfRange(ValueError):
    """A JSON number too large for a float (1e999 reads as inf)."""


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _OutOfRange(f"number out of range: {value}")
    return value


# one decoder for every line: json.loads with hooks builds a decoder and its scanner per call (~1 µs of 25 a line)
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def _loads(raw: str) -> Any:
    """json.loads(raw) with the hooks above, its BOM refusal included (JSONDecoder.decode has none)."""
    if raw.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", raw, 0)
    return _DECODER.decode(raw)


def _problem(value: Any, depth: int = 0) -> str | None:
    """Why a decoded record cannot be stored as it is (None: it can): too deep, or a number out of range."""
    if depth > MAX_DEPTH:
        return f"nested more than {MAX_DEPTH} levels deep"
    if isinstance(value, float) and not math.isfinite(value):
        return f"number out of range: {value}"
    if isinstance(value, dict):
        for key, item in value.items():
            found = _problem(key, depth + 1) or _problem(item, depth + 1)
            if found:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _problem(item, depth + 1)
            if found:
                return found
    return None


def _nesting(raw: str) -> int:
    """How deep brackets nest in a line, at most, counted without parsing (strings skipped): a cheap guard run
    before json.loads, whose recursion a line of 100,000 '[' would exhaust."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH + 1:
                return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_json_line(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    """One JSON Lines record, or why it is not one (pure, for the fuzz tests)."""
    if len(raw) > MAX_LINE:
        return None, f"line longer than {MAX_LINE:,} characters"
    if ("[" in raw or "{" in raw) and raw.count("[") + raw.count("{") > MAX_DEPTH and _nesting(raw) > MAX_DEPTH + 1:
        return None, f"nested more than {MAX_DEPTH} levels deep"
    try:
        record = _loads(raw)
    except _OutOfRange as exc:
        return None, str(exc)
    except json.JSONDecodeError as exc:
        return None, f"malformed JSON: {exc.msg} at column {exc.colno}"
    except RecursionError:
        return None, f"nested more than {MAX_DEPTH} levels deep"
    except ValueError as exc:  # NaN/Infinity, an integer of more than 4300 digits
        return None, f"malformed JSON: {exc}"
    if not isinstance(record, dict):
        return None, f"expected a JSON object, got {type(record).__name__}"
    # numbers are checked as they are read (_finite_float); the depth only when the line has brackets enough
    problem = _problem(record) if raw.count("[") + raw.count("{") > MAX_DEPTH else None
    if problem:
        return None, problem
    return record, None


# an integer orjson would read as a float (over 64 bits): such a line goes the json module's way. A run of 19 digits
# found by mapping every digit to 0 and looking for nineteen of them (re's \d{19} took 10 us of a 15 us line)
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


def fast_json_record(data: bytes) -> dict[str, Any] | None:
    """The record of a well-formed line by orjson (~4x the json module), or None for the checked way to decide
    (parse_json_line: its record, or its reason). Only lines that way would take as they are come out here: an
    object, nested no deeper than MAX_DEPTH, UTF-8, no integer orjson reads otherwise; whatever orjson refuses
    (NaN, 1e999, a lone surrogate, a byte-order mark, bad UTF-8) goes the checked way, which says why or reads it."""
    if (len(data) > MAX_LINE or data.count(b"[") + data.count(b"{") > MAX_DEPTH
            or _LONG_NUMBER in data.translate(_DIGITS_TO_ZERO)):
        return None
    try:
        record = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def _jsonl(f: IO[bytes], source: str) -> Iterator[Line]:
    for number, data in enumerate(f, 1):
        if (fast := fast_json_record(data)) is not None:
            yield Line(source, number, mention=to_mention(fast, f"{source}:line {number}"))
            continue
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Line(source, number, error=f"not UTF-8 ({exc.reason} at byte {exc.start})")
            continue
        if number == 1:
            raw = raw.removeprefix(BOM)
        if not raw.strip():
            continue
        record, error = parse_json_line(raw)
        if record is None:
            if number == 1 and "," in raw and "platform" in raw and not raw.lstrip().startswith(("{", "[")):
                error = f"{error} (this looks like a CSV header: use --format csv)"
            yield Line(source, number, error=error)
            continue
        yield Line(source, number, mention=to_mention(record, f"{source}:line {number}"))


# --- CSV -----------------------------------------------------------------------------------------------------


def _quote_open(text: str, was_open: bool) -> bool:
    """Whether a quoted cell is still open after `text` (RFC 4180: a doubled quote inside one is a quote)."""
    return (text.count('"') % 2 == 1) != was_open


@dataclass
class _Record:
    lines: list[tuple[int, str]]  # (physical line number, text)
    closed: bool  # False: the file ended, or the span limit was hit, inside a quoted cell

    @property
    def number(self) -> int:
        return self.lines[0][0]

    @property
    def text(self) -> str:
        return "".join(t for _, t in self.lines)


class _Lines:
    """Physical lines as text, with a way to give some back (after a quote that never closed) to be read again.
    Bytes that are not UTF-8 survive as surrogates, to be reported with their row."""

    def __init__(self, f: IO[bytes]):
        self._numbered = enumerate(f, 1)
        self._back: deque[tuple[int, str]] = deque()

    def next(self) -> tuple[int, str] | None:
        if self._back:
            return self._back.popleft()
        found = next(self._numbered, None)
        if found is None:
            return None
        number, data = found
        text = data.decode("utf-8", errors="surrogateescape")
        return number, text.removeprefix(BOM) if number == 1 else text

    def give_back(self, lines: list[tuple[int, str]]) -> None:
        self._back.extendleft(reversed(lines))

    def record(self) -> _Record | None:
        """The next CSV record: physical lines while a quoted cell is open, up to the span limits."""
        taken: list[tuple[int, str]] = []
        open_quote = False
        size = 0
        while (line := self.next()) is not None:
            taken.append(line)
            size += len(line[1])
            open_quote = _quote_open(line[1], open_quote)
            if not open_quote:
                return _Record(taken, True)
            if len(taken) > MAX_CSV_LINES or size > MAX_LINE:
                return _Record(taken, False)
        return _Record(taken, False) if taken else None


def _cells(rec: _Record) -> list[str]:
    """The record's cells; csv.Error (a cell over the module's size limit, a stray quote) for this record only."""
    rows = list(csv.reader([t for _, t in rec.lines], strict=False))
    if len(rows) != 1:
        raise csv.Error("not one CSV row")
    return rows[0]


def _header(rec: _Record, source: str) -> tuple[list[str] | None, Line | None]:
    """The column names, or the one rejection that says why this file cannot be read as CSV."""
    if rec.text.lstrip().startswith(("{", "[")):
        return None, Line(source, 0, error="this looks like JSON, not CSV: use --format jsonl")
    try:
        header = [h.strip() for h in _cells(rec)]
    except csv.Error as exc:
        return None, Line(source, 0, error=f"unreadable CSV header on line {rec.number}: {exc}")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if "source_id" not in header and "url" not in header:
        missing.append("source_id or url")
    if missing:
        return None, Line(source, 0, error=f"the CSV header (line {rec.number}) has no column {', '.join(missing)}; "
                          f"its columns: {', '.join(h for h in header if h) or '(none)'}")
    return header, None


def _csv(f: IO[bytes], source: str) -> Iterator[Line]:
    lines = _Lines(f)
    header: list[str] | None = None
    while (rec := lines.record()) is not None:
        if not rec.text.strip():
            continue
        if header is None:
            header, refusal = _header(rec, source)
            if refusal is not None:
                yield refusal
                return
            continue
        try:
            cells, error = _cells(rec), None
        except csv.Error as exc:
            cells, error = [], str(exc)
            if "field larger than field limit" in error:
                error = f"a cell is longer than {csv.field_size_limit():,} characters"
        if len(rec.lines) > 1 and (not rec.closed or (error is None and len(cells) != len(header))):
            # a quote opened on this line never closes where a row could end: skip this line alone and read
            # the lines it swallowed again, as rows of their own
            yield Line(source, rec.number, error="unterminated quote: a quoted cell never closes")
            lines.give_back(rec.lines[1:])
            continue
        if error is None and not rec.closed:
            error = "unterminated quote: a quoted cell never closes"
        if error is not None:
            yield Line(source, rec.number, error=f"malformed CSV: {error}")
            continue
        if len(cells) > len(header):
            yield Line(source, rec.number, error=f"more cells than the header's {len(header)} columns")
            continue
        row = dict(zip(header, cells, strict=False))
        if any(_BAD_BYTES.search(v) for v in row.values()):
            yield Line(source, rec.number, error="not UTF-8")
            continue
        record = {k: (v if v != "" else None) for k, v in row.items() if k}
        yield Line(source, rec.number, mention=to_mention(record, f"{source}:line {rec.number}"))


def read(path: str, fmt: str = "auto") -> Iterator[Line]:
    """Every record of one file, in order; an unreadable file is one rejection, not an exception."""
    source = "stdin" if path == "-" else path
    kind = detect_format(path) if fmt == "auto" else fmt
    if path != "-" and not Path(path).is_file():
        yield Line(source, 0, error="no such file")
        return
    try:
        with _open(path) as f:
            yield from (_csv(f, source) if kind == "csv" else _jsonl(f, source))
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        yield Line(source, 0, error=f"cannot read: {exc}")


def default_workers() -> int:
    """Analysis processes when not told: one per core this process may use (none on one core: the writer and
    Elasticsearch need it)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores if cores > 1 else 0
