"""Issue 11, bad input: every record is stored once or named with its line and reason; nothing raises out of
`groundswell ingest`; what a broken line or cell would swallow is kept."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.mention import Mention
from groundswell.ingest import read
from pipelines.normalize import Rejected, normalize
from tests.conftest import Gs, write_jsonl

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
HEADER = "platform,source_id,text,published_at\n"


def good(i: int, **over: Any) -> dict[str, Any]:
    return {"platform": "weibo", "source_id": f"g{i}", "text": f"小米手机 第{i}条",
            "published_at": "2026-11-24T10:00:00+08:00", **over}


def outcomes(path: Path, fmt: str = "auto") -> list[tuple[int, str]]:
    """(line, source_id) for every mention read, (line, 'ERROR: reason') for every rejection."""
    return [(x.number, x.mention.source_id if x.mention else f"ERROR: {x.error}") for x in read(str(path), fmt)]


# --- the reader ---------------------------------------------------------------------------------------------


def test_deeply_nested_line_is_one_rejection(tmp_path: Path) -> None:
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    wide = json.dumps(good(3, extra={"k": [[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]}))
    p = write_jsonl(tmp_path / "m.jsonl", [good(1), deep, good(2), "[" * 50_000, wide, good(4)])
    got = outcomes(p)
    assert [n for n, s in got if not s.startswith("ERROR")] == [1, 3, 6]
    assert got[1] == (2, "ERROR: nested more than 20 levels deep")
    assert got[3][1].startswith("ERROR: nested more than 20 levels deep") and got[3][0] == 4
    assert got[4][0] == 5 and "nested" in got[4][1]


def test_numbers_json_refuses(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "m.jsonl", [
        '{"platform":"weibo","source_id":"n","text":"a","published_at":"2026-11-24T10:00:00Z","likes":NaN}',
        '{"platform":"weibo","source_id":"n","text":"a","published_at":"2026-11-24T10:00:00Z","likes":' + "9" * 5000
        + "}",
        good(1),
    ])
    got = outcomes(p)
    assert got[0][0] == 1 and "NaN" in got[0][1]
    assert got[1][0] == 2 and got[1][1].startswith("ERROR: malformed JSON")
    assert got[2] == (3, "g1")


def test_jsonl_bom_keeps_its_first_line(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl"
    p.write_text("\n".join(json.dumps(good(i)) for i in (1, 2)) + "\n", encoding="utf-8-sig")
    assert outcomes(p) == [(1, "g1"), (2, "g2")]


def test_csv_bom_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text(HEADER + "weibo,c1,小米 a,2026-11-24T10:00:00+08:00\n", encoding="utf-8-sig")
    lines = list(read(str(p)))
    assert lines[0].mention is not None and lines[0].mention.platform == "weibo"


def test_csv_cell_over_the_csv_limit_costs_its_row_only(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text(HEADER + "weibo,h1,小米 a,2026-11-24T10:00:00+08:00\n"
                 f"weibo,h2,{'长' * 200_000},2026-11-24T10:00:00+08:00\n"
                 f'weibo,h3,"{"x" * 140_000}\nsecond line",2026-11-24T10:00:00+08:00\n'
                 "weibo,h4,小米 c,2026-11-24T10:00:00+08:00\n", encoding="utf-8")
    got = outcomes(p)
    assert got[0] == (2, "h1") and got[-1] == (6, "h4")
    assert got[1] == (3, "ERROR: malformed CSV: a cell is longer than 131,072 characters")
    assert got[2][0] == 4 and got[2][1].startswith("ERROR")
    assert len(got) == 4


def test_csv_unterminated_quote_keeps_the_rows_after_it(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text(HEADER + "weibo,q1,小米 a,2026-11-24T10:00:00+08:00\n"
                 'weibo,q2,"小米 never closed,2026-11-24T10:00:00+08:00\n'
                 "weibo,q3,小米 c,2026-11-24T10:00:00+08:00\n"
                 'weibo,q4,"多行\n文本",2026-11-24T10:00:00+08:00\n'
                 "weibo,q5,小米 e,2026-11-24T10:00:00+08:00\n", encoding="utf-8")
    got = outcomes(p)
    assert got == [(2, "q1"), (3, "ERROR: unterminated quote: a quoted cell never closes"), (4, "q3"), (5, "q4"),
                   (7, "q5")]


def test_csv_quote_that_closes_on_a_later_row_is_still_caught(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text(HEADER + 'weibo,q1,"小米 oops,2026-11-24T10:00:00+08:00\n'
                 'weibo,q2,"小米 quoted",2026-11-24T10:00:00+08:00\n'
                 "weibo,q3,小米 c,2026-11-24T10:00:00+08:00\n", encoding="utf-8")
    got = outcomes(p)
    assert got[0][0] == 2 and got[0][1].startswith("ERROR: unterminated quote")
    assert (3, "q2") in got and (4, "q3") in got


def test_csv_flag_for_a_json_file_is_said_not_read_as_nothing(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "m.json", [good(1)])
    assert outcomes(p, "csv") == [(0, "ERROR: this looks like JSON, not CSV: use --format jsonl")]


def test_csv_header_without_required_columns_is_one_line(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text("name,comment\nbob,hi\n", encoding="utf-8")
    (number, reason), = outcomes(p)
    assert number == 0 and "has no column platform, text, published_at, source_id or url" in reason


def test_truncated_gzip_is_one_rejection_after_the_good_lines(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl.gz"
    body = gzip.compress(("\n".join(json.dumps(good(i)) for i in range(200)) + "\n").encode())
    p.write_bytes(body[: len(body) // 2])
    got = outcomes(p)
    assert got[0] == (1, "g0") and got[-1][0] == 0 and "cannot read" in got[-1][1]


# --- normalize: ranges checked before conversion ---------------------------------------------------------------


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("published_at", "9999-12-31T23:59:59-05:00", "out of range"),
    ("published_at", "0001-01-01T00:00:00+05:00", "out of range"),
    ("published_at", 1e20, "out of range"),
    ("published_at", -1e20, "out of range"),
    ("published_at", float("nan"), "out of range"),
    ("published_at", float("inf"), "out of range"),
    ("crawled_at", "9999-12-31T23:59:59-00:01", "out of range"),
    ("likes", 1e308, "out of range"),
    ("likes", 2**80, "out of range"),
    ("likes", "9" * 5000, "expected a whole number"),
    ("rating", "nan", "finite"),
    ("rating", "1e400", "finite"),
    ("rating", float("inf"), "finite"),
])
def test_out_of_range_values_are_rejections(field: str, value: Any, reason: str) -> None:
    m = Mention(**{**good(1), field: value})
    with pytest.raises(Rejected, match=reason) as err:
        normalize(m, NOW)
    assert field in str(err.value) and len(str(err.value)) < 200


def test_lone_surrogates_are_mended_not_fatal() -> None:
    m = normalize(Mention(**good(1, text="小米 \ud800 坏了", author="\udfff"), extra={"x": ["\ud83d"]}), NOW)
    assert m.text == "小米 \ufffd 坏了" and m.author == "\ufffd" and m.extra == {"x": ["\ufffd"]}
    json.dumps(m.text).encode("utf-8")


# --- the command, against the real node ---------------------------------------------------------------------


@pytest.mark.es
def test_ingest_stores_every_good_line_around_hostile_ones(gs: Gs, tmp_path: Path) -> None:
    rows: list[dict[str, Any] | str] = [
        good(1),
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        good(2, published_at="9999-12-31T23:59:59-05:00"),
        good(3, published_at="0001-01-01T00:00:00+05:00"),
        good(4, published_at=1e20),
        good(5, text="小米 \ud800"),
        good(6, likes=1e308),
        good(7),
    ]
    p = tmp_path / "hostile.jsonl"
    p.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=True) for r in rows) + "\n")
    result = gs("ingest", "--batch-size", "3", str(p))
    assert result.exit_code == 1, result.output
    for n in (2, 3, 4, 5, 7):
        assert f"{p}:line {n}: " in result.output
    assert "read 8, indexed 3, updated 0, duplicates 0, rejected 5" in result.output
    assert "Traceback" not in result.output
    assert int(gs("search", "--count").output) == 3


@pytest.mark.es
def test_csv_ingest_with_bom_huge_cell_and_broken_quote(gs: Gs, tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text(HEADER + "weibo,c1,小米 a,2026-11-24T10:00:00+08:00\n"
                 f"weibo,c2,{'长' * 200_000},2026-11-24T10:00:00+08:00\n"
                 "weibo,c3,小米 c,2026-11-24T10:00:00+08:00\n"
                 'weibo,c4,"小米 never closed,2026-11-24T10:00:00+08:00\n'
                 "weibo,c5,小米 e,2026-11-24T10:00:00+08:00\n", encoding="utf-8-sig")
    result = gs("ingest", str(p))
    assert result.exit_code == 1, result.output
    assert "read 5, indexed 3, updated 0, duplicates 0, rejected 2" in result.output
    assert int(gs("search", "--count").output) == 3


@pytest.mark.es
def test_csv_format_on_a_json_file_says_so(gs: Gs, tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "m.json", [good(1)])
    result = gs("ingest", "--format", "csv", str(p))
    assert result.exit_code == 1
    assert "this looks like JSON, not CSV: use --format jsonl" in result.output


@pytest.mark.es
def test_a_file_without_records_is_a_warning_not_silence(gs: Gs, tmp_path: Path) -> None:
    empty, header = tmp_path / "empty.jsonl", tmp_path / "header.csv"
    empty.write_text("\n\n", encoding="utf-8")
    header.write_text(HEADER, encoding="utf-8")
    result = gs("ingest", str(empty), str(header))
    assert result.exit_code == 0
    assert f"warning: {empty}: no records in it" in result.output
    assert f"warning: {header}: no records in it" in result.output
