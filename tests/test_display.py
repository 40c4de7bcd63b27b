"""Issue 11, display spoofing: crawled text reaches a terminal or an email without escapes, bidi controls or line
breaks that could fake what a person reads (core.display, used by search, alerts and the email)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.email.compose import clean_text, header_text, safe_url
from core import display
from tests.conftest import Gs, write_jsonl

HOSTILE = ("小米\x1b[2J\x1b[31m黑屏\x1b[0m\r\n伪造的第二行\u202e\u2066moc.live\u2069\u200f"
           "\x1b]8;;http://evil\x07link\x1b]8;;\x07\x9b31m\u2028end\u0007")
UNSAFE = ["\x1b", "\r", "\u202e", "\u2066", "\u2069", "\u200f", "\x9b", "\u2028", "\x07"]


def assert_safe(text: str) -> None:
    for ch in UNSAFE:
        assert ch not in text, (ch, text)


def test_line_strips_escapes_bidi_and_breaks() -> None:
    out = display.line(HOSTILE)
    assert_safe(out)
    assert "\n" not in out
    assert out == "小米黑屏 伪造的第二行moc.livelink end"


def test_lines_keeps_newlines_only() -> None:
    out = display.lines("a\r\nb\rc\u2028d\x1b[1mE\u202eF\tG")
    assert out == "a\nb\nc\ndE" + "F\tG"


@pytest.mark.parametrize("ch", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
                                "\u2069", "\u200e", "\u200f", "\u061c"])
def test_every_bidi_control_goes(ch: str) -> None:
    assert display.line(f"a{ch}b") == "ab"


def test_line_cuts_at_limit() -> None:
    assert display.line("x" * 50, 10) == "x" * 9 + "…"


def test_email_subject_body_and_links_use_it() -> None:
    assert_safe(header_text(HOSTILE))
    assert_safe(clean_text(HOSTILE).replace("\n", ""))
    assert safe_url("https://example.com/\u202egpj.exe") is None
    assert safe_url("https://example.com/a") == "https://example.com/a"


@pytest.mark.es
def test_search_output_is_safe(gs: Gs, tmp_path: Path) -> None:
    row = {"platform": "weibo", "source_id": "h1", "text": HOSTILE, "author": "用户\u202e\x1b[8m",
           "url": "https://weibo.example/1\u202e", "published_at": "2026-11-24T10:00:00+08:00"}
    assert gs("ingest", str(write_jsonl(tmp_path / "m.jsonl", [row]))).exit_code == 0
    shown = gs("search", "小米")
    assert shown.exit_code == 0
    assert_safe(shown.output)
    assert "伪造的第二行" in shown.output
    as_json = gs("search", "小米", "--json")
    assert_safe(as_json.output)
    hit = json.loads(as_json.output.splitlines()[0])
    assert "\u202e" in hit["author"]  # the data is intact for a program; only the screen was protected


@pytest.mark.es
def test_alerts_list_and_show_are_safe(gs: Gs, es: object) -> None:
    from alerts.engine import incident_store
    from alerts.model import Incident
    from groundswell import config as gsconfig

    cfg = gsconfig.load(None, env={"GROUNDSWELL_INDEX_PREFIX": gs.prefix})
    at = datetime(2026, 11, 24, 2, tzinfo=UTC)
    inc = Incident(incident_id="inc-hostile", key="k", status="open", severity="urgent", opened_at=at, updated_at=at,
                   last_match_at=at, summary=HOSTILE, brand="小米\u202e", category="quality\r\nFAKE",
                   rules=["viral\x1b[31m"])
    incident_store(cfg, es).save([inc])  # type: ignore[arg-type]
    es.indices.refresh(index=f"{gs.prefix}-*")  # type: ignore[attr-defined]
    listed = gs("alerts", "list")
    assert listed.exit_code == 0 and "inc-hostile" in listed.output
    assert_safe(listed.output)
    assert len(listed.output.strip().splitlines()) == 2  # the header and one line: no line break from crawled text
    shown = gs("alerts", "show", "inc-hostile")
    assert shown.exit_code == 0
    assert_safe(shown.output)
    assert "FAKE" in shown.output and "\nFAKE" not in shown.output
