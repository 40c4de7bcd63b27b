"""Reads mention files for `groundswell ingest`: JSON Lines (one object a line) and CSV with a header,
optionally gzipped, or standard input. Yields each line as a Mention or as a `line N: reason` rejection;
a bad line never stops the good ones beside it."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from core.mention import INPUT_FIELDS, Mention

_BAD_BYTES = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of bytes that are not UTF-8


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


def _jsonl(f: IO[bytes], source: str) -> Iterator[Line]:
    for number, data in enumerate(f, 1):
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Line(source, number, error=f"not UTF-8 ({exc.reason} at byte {exc.start})")
            continue
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield Line(source, number, error=f"malformed JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(record, dict):
            yield Line(source, number, error=f"expected a JSON object, got {type(record).__name__}")
            continue
        yield Line(source, number, mention=to_mention(record, f"{source}:line {number}"))


def _csv(f: IO[bytes], source: str) -> Iterator[Line]:
    text = io.TextIOWrapper(f, encoding="utf-8", errors="surrogateescape", newline="")
    reader = csv.DictReader(text)
    try:
        header = reader.fieldnames
    except (csv.Error, UnicodeDecodeError) as exc:
        yield Line(source, 1, error=f"unreadable CSV header: {exc}")
        return
    if not header:
        return
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            yield Line(source, start, error=f"malformed CSV: {exc}")
            return
        if None in row:
            yield Line(source, start, error=f"more cells than the header's {len(header)} columns")
            continue
        if any(_BAD_BYTES.search(v) for v in row.values() if isinstance(v, str)):
            yield Line(source, start, error="not UTF-8")
            continue
        record = {k: (v if v != "" else None) for k, v in row.items() if k is not None}
        yield Line(source, start, mention=to_mention(record, f"{source}:line {start}"))


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
    except (OSError, EOFError) as exc:
        yield Line(source, 0, error=f"cannot read: {exc}")
