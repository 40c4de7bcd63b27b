"""Alerting end to end on the real node and a real SMTP server on loopback: the replay opens exactly one incident
and one email (plus at most one escalation), restarts neither forget nor repeat, SMTP down then up delivers once,
and hostile crawled text arrives inert."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from alerts import engine
from alerts.email.outbox import Outbox
from alerts.model import Match
from core.mention import Mention
from groundswell import config as gsconfig
from sites import replay
from store import mapping
from store.client import ensure_schema
from tests.conftest import Gs, delete_prefix
from tests.smtp_sink import free_port, running_sink

pytestmark = pytest.mark.es

STEP = timedelta(minutes=15)


def cfg_for(prefix: str, smtp_port: int = 25, **env: str) -> gsconfig.Config:
    return gsconfig.load(None, env={"GROUNDSWELL_INDEX_PREFIX": prefix, "GROUNDSWELL_SMTP_HOST": "127.0.0.1",
                                    "GROUNDSWELL_SMTP_PORT": str(smtp_port), "GROUNDSWELL_ALERT_TO": "lead@example.com",
                                    **env})


@pytest.fixture(scope="module")
def replayed(es: Elasticsearch) -> Iterator[tuple[str, replay.Scenario]]:
    prefix = f"gstest-{uuid.uuid4().hex[:10]}"
    try:
        yield prefix, replay.load(es, prefix)
    finally:
        delete_prefix(es, prefix)


def test_backtest_of_the_replay_opens_exactly_the_viral_incident(
    es: Elasticsearch, replayed: tuple[str, replay.Scenario]
) -> None:
    prefix, scenario = replayed
    events, errors = engine.backtest(cfg_for(prefix), es, scenario.start + STEP, scenario.end, STEP)
    assert errors == []
    opened = [e for e in events if e.kind == "opened"]
    assert [e.incident.brand for e in opened] == [scenario.viral_brand], [
        f"{e.at:%a %H:%M} {e.severity} {e.incident.summary}" for e in opened
    ]
    # at the latest one evaluation after its first half hour of spread (sooner is fine)
    assert scenario.viral_start <= opened[0].at < scenario.viral_start + timedelta(minutes=30) + STEP
    assert scenario.viral_mention_id in opened[0].incident.cluster_ids
    assert len([e for e in events if e.kind == "escalated"]) <= 1


def test_alerts_run_through_the_spread_sends_one_email_across_restarts(
    es: Elasticsearch, replayed: tuple[str, replay.Scenario]
) -> None:
    prefix, scenario = replayed
    with running_sink() as sink:
        env = {"GROUNDSWELL_INDEX_PREFIX": prefix, "GROUNDSWELL_SMTP_HOST": "127.0.0.1",
               "GROUNDSWELL_SMTP_PORT": str(sink.port), "GROUNDSWELL_ALERT_TO": "lead@example.com"}
        gs = Gs(prefix, env)
        at = scenario.viral_start - timedelta(minutes=30)
        while at <= scenario.viral_start + timedelta(hours=3):
            # every evaluation is a fresh command: nothing but Elasticsearch carries state between them
            result = gs("alerts", "run", "--at", at.isoformat(), "--json")
            assert result.exit_code == 0, result.output
            at += STEP
        opened = [m for m in sink.messages if m.message["X-Groundswell-Kind"] == "opened"]
        escalated = [m for m in sink.messages if m.message["X-Groundswell-Kind"] == "escalated"]
        assert len(opened) == 1 and len(escalated) <= 1, [m.subject for m in sink.messages]
        mail = opened[0].message
        assert scenario.viral_brand in opened[0].subject
        html = mail.get_body(preferencelist=("html",))
        text = mail.get_body(preferencelist=("plain",))
        assert html is not None and text is not None
        assert "冒烟起火" in text.get_content() and "冒烟起火" in html.get_content()
        assert scenario.viral_author in text.get_content()
        listed = gs("alerts", "list", "--json")
        assert listed.output.count('"incident_id"') == 1


def _mention(text: str, n: int, at: datetime) -> Mention:
    return Mention(platform="weibo", source_id=f"hostile-{n}", url=f"javascript:alert({n})", text=text,
                   author='<img src=x onerror="alert(1)">', author_id=f"u{n}", author_followers=1000 + n,
                   brand="小米", published_at=at, crawled_at=at, sentiment_score=0.05, sentiment_label="negative",
                   reposts=100 * n)


def _index(es: Elasticsearch, prefix: str, mentions: list[Mention]) -> list[str]:
    ensure_schema(es, prefix)
    ids = []
    for m in mentions:
        doc = mapping.to_document(m)
        es.index(index=mapping.index_of(doc, prefix), id=doc["mention_id"], document=doc)
        ids.append(doc["mention_id"])
    es.indices.refresh(index=mapping.alias(prefix))
    return ids


def _matcher(ids: list[str], summary: str) -> engine.Matcher:
    def match(cfg: gsconfig.Config, es: Elasticsearch, at: datetime) -> tuple[list[Match], list[str]]:
        return [Match(rule="viral", rule_type="viral_spread", severity="urgent", at=at, summary=summary,
                      brand="小米", cluster_id=ids[0], mention_ids=tuple(ids), query=f"cluster_id:{ids[0]}",
                      evidence={"reposts_per_hour": 1200.0, "authors": 150.0})], []

    return match


def test_hostile_text_arrives_inert(es: Elasticsearch, prefix: str) -> None:
    at = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    hostile = '<script>alert("x")</script>手机黑屏 " onmouseover="alert(2)'
    ids = _index(es, prefix, [_mention(hostile, 1, at), _mention("转发 " + hostile, 2, at + timedelta(minutes=5))])
    with running_sink() as sink:
        cfg = cfg_for(prefix, sink.port)
        report = engine.run_once(cfg, es, at + timedelta(minutes=40), matcher=_matcher(ids, hostile))
        assert report.errors == [] and report.emails_sent == 1
        mail = sink.messages[0].message
    html = mail.get_body(preferencelist=("html",))
    assert html is not None
    body = html.get_content()
    # the attribute survives only as text: its quote escaped (&quot; or &#34;), so it never becomes an attribute
    assert "<script" not in body and "onerror=" not in body.replace("onerror=&quot;", "").replace("onerror=&#34;", "")
    assert "&lt;script&gt;" in body
    assert 'href="javascript:' not in body
    assert "\n" not in str(mail["Subject"]) and "<script>" in str(mail["Subject"])  # plain-text header, not HTML


def test_smtp_down_then_up_delivers_exactly_once(es: Elasticsearch, prefix: str) -> None:
    at = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    ids = _index(es, prefix, [_mention("手机充电时爆炸了", 3, at)])
    port = free_port()
    cfg = cfg_for(prefix, port)
    down = engine.run_once(cfg, es, at + timedelta(minutes=30), matcher=_matcher(ids, "手机充电时爆炸了"))
    assert len(down.opened) == 1 and down.emails_sent == 0 and down.emails_pending == 1
    assert any(f"127.0.0.1:{port}" in e for e in down.errors), down.errors
    with running_sink(port=port) as sink:
        # the outbox backs off; deliver as the scheduler would once the retry is due
        for _ in range(3):
            report = engine.RunReport(at=at)
            result = Outbox(es, prefix).deliver(cfg.smtp, datetime.now(UTC) + timedelta(hours=1))
            report.emails_sent += result.sent
        again = engine.run_once(cfg, es, at + timedelta(minutes=45), matcher=_matcher(ids, "手机充电时爆炸了"))
        assert again.opened == [] and again.escalated == []
        assert len(sink.messages) == 1


def test_list_show_ack_resolve(es: Elasticsearch, prefix: str, gs: Gs) -> None:
    at = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    ids = _index(es, prefix, [_mention("电池鼓包，售后不管", 4, at)])
    match = _matcher(ids, "电池鼓包，售后不管")
    report = engine.run_once(cfg_for(prefix, free_port()), es, at, matcher=match, send=False)
    (inc,) = report.opened
    listed = gs("alerts", "list", "--status", "open")
    assert inc.incident_id in listed.output and "电池鼓包" in listed.output
    shown = gs("alerts", "show", inc.incident_id)
    assert "reposts_per_hour 1200" in shown.output and "电池鼓包" in shown.output
    assert gs("alerts", "ack", inc.incident_id, "--by", "lead").exit_code == 0
    assert '"acknowledged_by": "lead"' in gs("alerts", "show", inc.incident_id, "--json").output
    # an acknowledged incident still absorbs matches silently: no new incident, no new email
    later = engine.run_once(cfg_for(prefix, free_port()), es, at + timedelta(minutes=5), matcher=match, send=False)
    assert later.opened == [] and later.emails_queued == 0
    assert gs("alerts", "resolve", inc.incident_id).exit_code == 0
    again = gs("alerts", "resolve", inc.incident_id)
    assert again.exit_code == 1 and "already resolved" in again.output
    assert gs("alerts", "show", "inc-nope").exit_code == 1
    assert gs("alerts", "list", "--status", "open").output.strip() == "no incidents"


def test_bad_times_are_named(gs: Gs) -> None:
    result = gs("alerts", "run", "--at", "yesterday")
    assert result.exit_code == 2 and "--at" in result.output
    result = gs("alerts", "backtest", "--from", "2026-11-24T00:00:00Z", "--step", "0m")
    assert result.exit_code == 2 and "--step" in result.output


def test_digest_collects_notices_into_one_email(es: Elasticsearch, prefix: str) -> None:
    at = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    ids = _index(es, prefix, [_mention("客服不回复", 5, at), _mention("物流太慢了", 6, at)])

    def notices(cfg: gsconfig.Config, es: Elasticsearch, when: datetime) -> tuple[list[Match], list[str]]:
        return [Match(rule="t", rule_type="threshold", severity="notice", at=when, summary=f"notice {i}",
                      brand=f"brand{i}", mention_ids=(ids[i],)) for i in range(2)], []

    with running_sink() as sink:
        cfg = cfg_for(prefix, sink.port)
        cfg = cfg.model_copy(update={"alerting": cfg.alerting.model_copy(update={"digest_minutes": 60})})
        report = engine.run_once(cfg, es, at, matcher=notices)
        assert len(report.opened) == 2 and report.emails_sent == 0 and sink.messages == []
        assert engine.flush_digest(cfg, es, at + timedelta(hours=1)) == 1
        assert engine.flush_digest(cfg, es, at + timedelta(hours=2)) == 0
        (mail,) = sink.messages
        assert mail.message["X-Groundswell-Kind"] == "digest" and "2 notices" in mail.subject


def test_a_rule_that_cannot_run_is_emailed_as_a_blind_watch(es: Elasticsearch, prefix: str, tmp_path: Any) -> None:
    at = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    _index(es, prefix, [_mention("小米 食品安全", 1, at - timedelta(minutes=10))])
    config = tmp_path / "groundswell.yaml"
    config.write_text("rules:\n  - {name: food safety, type: threshold, query: 'likes:lots OR 食品安全',"
                      " threshold: 1}\nalerting: {default_rules: false}\n", encoding="utf-8")
    with running_sink() as sink:
        cfg = gsconfig.load(str(config), env={"GROUNDSWELL_INDEX_PREFIX": prefix, "GROUNDSWELL_SMTP_HOST": "127.0.0.1",
                                              "GROUNDSWELL_SMTP_PORT": str(sink.port),
                                              "GROUNDSWELL_ALERT_TO": "lead@example.com"})
        report = engine.run_once(cfg, es, at)
        assert len(report.errors) == 1 and "food safety" in report.errors[0]
        assert [i.source_key for i in report.opened] == ["rule:food safety"]
        assert report.emails_sent == 1
        subject = sink.messages[0].subject
    assert "URGENT" in subject and "food safety" in subject and "cannot run" in subject


def test_alerts_run_says_why_a_match_emails_nobody_and_counts_the_outbox(
    es: Elasticsearch, prefix: str, tmp_path: Path
) -> None:
    """Issue 17: `--no-send` counts what waits in the outbox (not "0 pending"), and a match that joins an incident
    which emailed already says so instead of nothing."""
    at = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    _index(es, prefix, [_mention(f"食品安全 问题 {n}", n, at - timedelta(minutes=10 + n)) for n in range(1, 4)])
    config = tmp_path / "g.yaml"
    config.write_text("alerting: {default_rules: false}\nrules:\n"
                      "  - {name: food, type: threshold, query: 食品安全, threshold: 1, severity: urgent}\n",
                      encoding="utf-8")
    gs = Gs(prefix, {"GROUNDSWELL_ALERT_TO": "lead@example.com", "GROUNDSWELL_SMTP_HOST": "127.0.0.1",
                     "GROUNDSWELL_SMTP_PORT": str(free_port())})
    first = gs("alerts", "run", "--config", str(config), "--at", at.isoformat(), "--no-send")
    assert first.exit_code == 0, first.output
    assert "OPENED urgent" in first.output
    assert "emails: 1 queued, 0 sent, 1 waiting in the outbox (--no-send" in first.output
    again = gs("alerts", "run", "--config", str(config), "--at", (at + timedelta(minutes=5)).isoformat(),
               "--no-send", "--json")
    [match] = json.loads(again.output)["matches"]
    assert match["outcome"] == "joined" and match["incident_id"] and "emailed when it opened" in match["why"]
    said = gs("alerts", "run", "--config", str(config), "--at", (at + timedelta(minutes=10)).isoformat(), "--no-send")
    assert "joined" in said.output and "no email: it is urgent already" in said.output, said.output
    assert "emails: 0 queued, 0 sent, 1 waiting in the outbox" in said.output
