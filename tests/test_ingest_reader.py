"""The ingest reader: every line is a mention or a `line N: reason`, never an exception."""

from __future__ import annotations

import gzip
from pathlib import Path

from groundswell.ingest import read


def test_jsonl_lines_and_errors(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl"
    p.write_text(
        '{"platform":"weibo","text":"a","published_at":"2026-11-24T10:00:00Z","source_id":"1","x":1}\n'
        "\n"
        "{broken\n"
        "[1, 2]\n",
        encoding="utf-8",
    )
    lines = list(read(str(p)))
    assert [(x.number, x.error is None) for x in lines] == [(1, True), (3, False), (4, False)]
    assert lines[0].mention is not None and lines[0].mention.extra == {"x": 1}
    assert lines[0].mention.origin == f"{p}:line 1"
    assert "malformed JSON" in (lines[1].error or "")
    assert "expected a JSON object, got list" in (lines[2].error or "")


def test_csv_with_header_multiline_cells_and_extra_cells(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text(
        "platform,source_id,text,published_at,likes\n"
        'weibo,1,"第一行\n第二行",2026-11-24T10:00:00+08:00,3\n'
        "jd,2,ok,2026-11-24T10:00:00+08:00,,surplus\n"
        "jd,3,fine,2026-11-24T10:00:00+08:00,\n",
        encoding="utf-8",
    )
    lines = list(read(str(p)))
    assert [x.number for x in lines] == [2, 4, 5]
    assert lines[0].mention is not None and lines[0].mention.text == "第一行\n第二行"
    assert lines[0].mention.likes == "3"  # typed later, by normalize
    assert "more cells than the header" in (lines[1].error or "")
    assert lines[2].mention is not None and lines[2].mention.likes is None


def test_gzip_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl.gz"
    with gzip.open(p, "wt", encoding="utf-8") as f:
        f.write('{"platform":"weibo","text":"a","published_at":"2026-11-24T10:00:00Z","url":"u"}\n')
    assert [x.mention is not None for x in read(str(p))] == [True]
    missing = list(read(str(tmp_path / "nope.jsonl")))
    assert missing[0].error == "no such file"


def test_invalid_utf8_reported(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl"
    p.write_bytes(b'{"platform":"weibo","text":"a","published_at":"2026-11-24T10:00:00Z","url":"u"}\n\xff\xfe\n')
    lines = list(read(str(p)))
    assert lines[0].mention is not None
    assert any("not UTF-8" in (x.error or "") for x in lines)


def test_invalid_utf8_csv_row_reported_others_kept(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_bytes(
        b"platform,url,text,published_at\n"
        b"jd,u1,\xff\xfebad,2026-11-24T10:00:00Z\n"
        b"jd,u2,\xe5\xa5\xbd,2026-11-24T10:00:00Z\n"
    )
    lines = list(read(str(p)))
    assert lines[0].error == "not UTF-8" and lines[0].number == 2
    assert lines[1].mention is not None and lines[1].mention.text == "好"
