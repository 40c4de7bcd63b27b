"""A real console for tests: mentions ingested into a fresh prefix (hostile ones too), an incident opened through
the real engine (its emails composed and delivered to a real SMTP server on loopback), and the console served by
waitress on a free port; Chromium (Debian's, through Playwright) drives it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from alerts import engine
from alerts.model import Match
from crawlers import browser
from groundswell import config as gsconfig
from groundswell.web.auth import hash_password
from groundswell.web.server import Console
from store import mapping
from tests.conftest import Gs, write_jsonl
from tests.smtp_sink import Sink, free_port

SECRET = "test-secret-" + "k" * 40
PASSWORD = "correct horse battery"
CHROMIUM_ARGS = browser.CHROMIUM_ARGS


def mentions(now: datetime) -> list[dict[str, Any]]:
    t = now - timedelta(hours=3)
    base = {"platform": "weibo", "brand": "小米"}
    rows = [
        {**base, "source_id": "p1", "author": "大V数码", "author_id": "u1", "author_followers": 880000,
         "text": "小米14 用了三天就黑屏，客服一直不回复，太失望了", "url": "https://weibo.example/p1",
         "published_at": t.isoformat(), "reposts": 900, "comments": 300, "likes": 2000},
        {**base, "source_id": "p2", "author": "路人甲", "author_id": "u2",
         "text": "小米14 用了三天就黑屏，客服一直不回复，太失望了 转发", "url": "https://weibo.example/p2",
         "published_at": (t + timedelta(minutes=20)).isoformat(), "reposts": 10},
        {**base, "source_id": "evil", "author": "<img src=x onerror=alert(1)>", "author_id": "u3",
         # entity-escaped in the crawled JSON: normalising turns it into a literal tag in the stored text
         "text": "小米 黑屏 &lt;script&gt;alert('pwned')&lt;/script&gt; 快递也没到 \u202egpj.exe",
         "url": "javascript:alert(1)",
         "published_at": (t + timedelta(minutes=40)).isoformat(), "reposts": 50},
        {**base, "source_id": "formula", "author": "=HYPERLINK(\"http://evil\")", "author_id": "u4",
         "text": "=cmd|' /C calc'!A0 小米 黑屏 又坏了", "url": "https://weibo.example/f",
         "published_at": (t + timedelta(minutes=50)).isoformat()},
    ]
    return rows


@dataclass
class Setup:
    prefix: str
    cfg: gsconfig.Config
    console: Console
    incident_id: str
    mention_ids: list[str]

    @property
    def url(self) -> str:
        return self.console.url


def write_config(folder: Path, port: int, sink_port: int, *, extra: str = "") -> Path:
    path = folder / "groundswell.yaml"
    path.write_text(f"""
brands: [{{name: 小米, aliases: [Xiaomi]}}]
timezone: Asia/Shanghai
recipients:
  urgent: [pr@example.com]
  routes:
    - {{brand: 小米, category: product_quality, to: [lead@example.com], role: quality lead}}
smtp: {{host: 127.0.0.1, port: {sink_port}, sender: groundswell@example.com}}
alerting: {{console_url: "http://127.0.0.1:{port}"}}
web:
  users:
    - {{name: lin, email: lin@example.com, password_hash: "{hash_password(PASSWORD)}"}}
    - {{name: viewer, password_hash: "{hash_password(PASSWORD)}", role: viewer}}
    - {{name: lead@example.com, email: lead@example.com, password_hash: "{hash_password(PASSWORD)}"}}
{extra}""", encoding="utf-8")
    return path


@contextmanager
def running_console(es: Elasticsearch, prefix: str, folder: Path, sink: Sink, extra: str = "") -> Iterator[Setup]:
    port = free_port()
    path = write_config(folder, port, sink.port, extra=extra)
    env = {"GROUNDSWELL_INDEX_PREFIX": prefix, "GROUNDSWELL_SECRET_KEY": SECRET}
    cfg = gsconfig.load(str(path), env=env)
    now = datetime.now(UTC)
    rows = mentions(now)
    result = Gs(prefix, {**env, "GROUNDSWELL_CONFIG": str(path)})("ingest", str(write_jsonl(folder / "m.jsonl", rows)))
    assert result.exit_code == 0, result.output
    ids = [mapping.doc_id(r["platform"], r["source_id"]) for r in rows]
    match = Match(rule="viral-spread", rule_type="viral_spread", severity="urgent", at=now,
                  summary="小米: 黑屏 complaint spreading", brand="小米", category="product_quality",
                  cluster_id=ids[0], mention_ids=tuple(ids), evidence={"reposts_per_hour": 310.0})
    report = engine.run_once(cfg, es, now, matcher=lambda c, e, a: ([match], []))
    assert report.errors == [] and len(report.opened) == 1, report.errors
    console = Console(cfg, "127.0.0.1", port, es).start()
    try:
        yield Setup(prefix, cfg, console, report.opened[0].incident_id, ids)
    finally:
        console.stop()


def links_in(message: EmailMessage) -> dict[str, str]:
    """The console links of an incident email's plain text part: {"incident": url, "ack": url}."""
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    body = text.get_content()
    out = {}
    if m := re.search(r"^Open the incident: (\S+)\r?$", body, re.M):
        out["incident"] = m.group(1)
    if m := re.search(r"^Acknowledge: (https?://\S+)", body, re.M):
        out["ack"] = m.group(1)
    return out
