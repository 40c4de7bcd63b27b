"""The pieces under the console, one by one: people's time format, the configuration of routes, zone, console and
secret, signed acknowledge links, routing fallback, the email's links and reason, handling times and the
timeline, and people's changes surviving the engine's concurrent save (on the real node)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from alerts import incidents as book
from alerts.email.compose import compose
from alerts.handling import group_stats, handling, timeline
from alerts.links import LinkError, email_links, sign_ack, verify_ack
from alerts.model import Incident, IncidentReport, Notification, TimelineEntry
from alerts.report import recipients_for
from core.timefmt import local_input, people_duration, people_time, zone_named
from groundswell import config as gsconfig

T0 = datetime(2026, 11, 24, 2, 5, tzinfo=UTC)
SECRET = "s" * 40


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> gsconfig.Config:
    path = tmp_path / "groundswell.yaml"
    path.write_text(text, encoding="utf-8")
    return gsconfig.load(str(path), env=env or {})


# -- people's time --------------------------------------------------------------------------------------------


def test_people_time_is_in_the_zone_with_its_offset() -> None:
    shanghai = zone_named("Asia/Shanghai")
    assert people_time(T0) == "2026-11-24 02:05 +00:00"
    assert people_time(T0, shanghai) == "2026-11-24 10:05 +08:00"
    assert people_time(T0 + timedelta(seconds=7), shanghai, seconds=True) == "2026-11-24 10:05:07 +08:00"
    assert people_time(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), zone_named("America/New_York")) == \
        "2026-07-01 08:00 -04:00"  # daylight saving time comes from the zone, not a fixed offset
    assert people_time(None) == "-"
    assert people_time(T0.replace(tzinfo=None), shanghai) == "2026-11-24 10:05 +08:00"  # naive stored = UTC
    assert local_input(datetime(2026, 11, 24, 10, 5), shanghai) == T0


def test_people_duration() -> None:
    assert [people_duration(timedelta(seconds=s)) for s in (20, 45 * 60, 3 * 3600 + 300, 50 * 3600)] == [
        "<1 min", "45 min", "3 h 05 min", "2 d 2 h"]
    assert people_duration(None) == "-"


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "Asia/Shang hai"])
def test_unknown_zones_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="IANA"):
        zone_named(name)


# -- configuration ------------------------------------------------------------------------------------------


def test_timezone_console_and_secret_from_the_environment(tmp_path: Path) -> None:
    cfg = load(tmp_path, "timezone: Asia/Shanghai\n", env={"GROUNDSWELL_CONSOLE_URL": "https://gs.example.com/",
                                                             "GROUNDSWELL_SECRET_KEY": SECRET})
    assert str(cfg.zone) == "Asia/Shanghai" and cfg.alerting.console_url == "https://gs.example.com"
    assert cfg.secret_key is not None and SECRET not in repr(cfg) and SECRET not in str(cfg.model_dump())


@pytest.mark.parametrize(("text", "env", "expected"), [
    ("timezone: Beijing\n", {}, r"groundswell.yaml: timezone: unknown time zone 'Beijing'"),
    ("secret_key: abc\n", {}, r"secret_key: a secret does not belong in the file; set GROUNDSWELL_SECRET_KEY"),
    ("{}\n", {"GROUNDSWELL_SECRET_KEY": "short-secret"},
     r"secret_key: GROUNDSWELL_SECRET_KEY must be at least 32 characters .*\(got \(hidden\)\)"),
    ("alerting: {console_url: 'javascript:alert(1)'}\n", {}, r"alerting.console_url: expected an http\(s\) address"),
    ("recipients: {routes: [{category: shipping, to: [a@example.com]}]}\n", {},
     r"recipients.routes\[0\].category: unknown complaint category 'shipping' \(expected one of logistics, "),
    ("brands: [{name: 小米}]\nrecipients: {routes: [{brand: 华为, to: [a@example.com]}]}\n", {},
     r"recipients.routes\[0\].brand: not a configured brand '华为'"),
    ("recipients: {routes: [{category: logistics, to: [not-an-address]}]}\n", {},
     r"recipients.routes\[0\].to: not an email address: 'not-an-address'"),
    ("web: {trusted_header: X-Remote-User}\n", {}, r"trusted_header needs trusted_proxies"),
    ("web: {users: [{name: lin, password_hash: hunter2}]}\n", {}, r"not an argon2 hash: make one with"),
])
def test_configuration_errors_name_the_key(tmp_path: Path, text: str, env: dict[str, str], expected: str) -> None:
    with pytest.raises(gsconfig.ConfigError, match=expected) as info:
        load(tmp_path, text, env)
    assert "short-secret" not in str(info.value) and "hunter2" not in str(info.value).split("(got")[0]


# -- signed acknowledge links ---------------------------------------------------------------------------------


def test_ack_links_verify_and_refuse_forgeries_and_expiry() -> None:
    token = sign_ack(SECRET, "inc-1", "lead@example.com", T0 + timedelta(hours=72))
    claim = verify_ack(SECRET, token, T0)
    assert (claim.incident_id, claim.recipient) == ("inc-1", "lead@example.com")
    with pytest.raises(LinkError) as expired:
        verify_ack(SECRET, token, T0 + timedelta(hours=72))
    assert expired.value.reason == "expired"
    for bad in (token[:-2] + ("xy" if not token.endswith("xy") else "zz"), token.replace(".", ".A", 1), "nonsense",
                sign_ack("o" * 40, "inc-1", "lead@example.com", T0 + timedelta(hours=1))):
        with pytest.raises(LinkError) as forged:
            verify_ack(SECRET, bad, T0)
        assert forged.value.reason == "forged"


def test_email_links_need_a_console_url_and_sign_only_with_a_secret(tmp_path: Path) -> None:
    assert email_links(load(tmp_path, "{}\n"), "inc-1", "a@example.com", T0) is None
    unsigned = email_links(load(tmp_path, "alerting: {console_url: 'http://c:8600'}\n"), "inc 1", "a@example.com", T0)
    assert unsigned is not None and unsigned.incident_url == "http://c:8600/incidents/inc%201" and not unsigned.ack_url
    cfg = load(tmp_path, "alerting: {console_url: 'http://c:8600', ack_link_hours: 2}\n",
               env={"GROUNDSWELL_SECRET_KEY": SECRET})
    links = email_links(cfg, "inc-1", "a@example.com", T0)
    assert links is not None and links.ack_url and links.ack_url.startswith("http://c:8600/ack/")
    assert links.ack_expires_at == T0 + timedelta(hours=2)
    assert verify_ack(SECRET, links.ack_url.rsplit("/", 1)[1], T0).recipient == "a@example.com"


# -- routing ------------------------------------------------------------------------------------------------

ROUTES = """
brands: [{name: 小米}, {name: 华为}]
recipients:
  notice: [service@example.com]
  urgent: [service-lead@example.com]
  default: [everyone@example.com]
  routes:
    - {brand: 小米, category: logistics, severity: urgent, to: [xm-logistics-lead@example.com], role: logistics lead}
    - {category: logistics, severity: urgent, to: [logistics-lead@example.com], role: logistics lead}
    - {category: logistics, to: [logistics@example.com]}
    - {category: after_sales, severity: crisis, to: [after-sales-director@example.com]}
"""


def test_routing_falls_back_level_by_level(tmp_path: Path) -> None:
    cfg = load(tmp_path, ROUTES, env={"GROUNDSWELL_ALERT_TO": "env@example.com"})

    def who(severity: str, brand: str | None, category: str | None) -> dict[str, str]:
        return {r.address: r.reason for r in recipients_for(cfg, severity, brand=brand, category=category)}  # type: ignore[arg-type]

    xm_lead = {"xm-logistics-lead@example.com": "logistics lead for 小米, urgent or above"}
    assert who("urgent", "小米", "logistics") == xm_lead
    assert who("crisis", "小米", "logistics") == xm_lead
    assert who("urgent", "华为", "logistics") == {"logistics-lead@example.com": "logistics lead, urgent or above"}
    assert who("notice", "小米", "logistics") == {"logistics@example.com": "logistics recipient"}
    # no route for the category at this severity: the severity tiers (a crisis reaches the next lower tier's list)
    assert who("urgent", "小米", "after_sales") == {"service-lead@example.com": "urgent recipient (recipients.urgent)"}
    assert who("crisis", "小米", "after_sales") == {"after-sales-director@example.com": "after_sales recipient, crisis"}
    assert who("crisis", "小米", None) == {"service-lead@example.com": "urgent recipient (recipients.urgent)"}
    # GROUNDSWELL_ALERT_TO is the broadest fallback: recipients.default from the file gives way to it
    bare = load(tmp_path, "{}\n", env={"GROUNDSWELL_ALERT_TO": "a@example.com, b@example.com"})
    assert [r.address for r in recipients_for(bare, "crisis", brand="小米", category="logistics")] == [
        "a@example.com", "b@example.com"]
    assert recipients_for(load(tmp_path, "{}\n"), "crisis") == ()


def _incident(**kw: object) -> Incident:
    base = dict(incident_id="inc-202611240205-abc", key="cluster:c1", status="open", severity="urgent", opened_at=T0,
                updated_at=T0, last_match_at=T0, summary="小米: 黑屏 <b>spreading</b>", brand="小米",
                category="logistics")
    base.update(kw)
    return Incident(**base)  # type: ignore[arg-type]


def test_the_email_carries_its_links_and_says_why(tmp_path: Path) -> None:
    cfg = load(tmp_path, ROUTES + "timezone: Asia/Shanghai\nalerting: {console_url: 'https://gs.example.com'}\n",
               env={"GROUNDSWELL_SECRET_KEY": SECRET})
    inc = _incident()
    report = IncidentReport(incident=inc, kind="opened", at=T0, first_post=None, top_posts=(), hourly=(), mentions=3,
                            authors=2, platforms=("weibo",), kibana_url=None, zone=cfg.zone)
    person = recipients_for(cfg, "urgent", brand="小米", category="logistics")[0]
    msg = compose(report, sender="g@example.com", recipients=[person.address], reason=person.reason,
                  links=email_links(cfg, inc.incident_id, person.address, T0))
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "opened 2026-11-24 10:05 +08:00" in text
    assert f"Open the incident: https://gs.example.com/incidents/{inc.incident_id}" in text
    assert "Acknowledge: https://gs.example.com/ack/" in text and "(until 2026-11-27 10:05 +08:00)" in text
    assert "You receive this as: logistics lead for 小米, urgent or above" in text
    assert "groundswell alerts ack" not in text
    assert ">Acknowledge</a>" in html and "You receive this as: logistics lead for 小米" in html
    plain = compose(report, sender="g@example.com", recipients=["a@example.com"])
    assert f"Acknowledge: groundswell alerts ack {inc.incident_id}" in plain.get_body(  # type: ignore[union-attr]
        preferencelist=("plain",)).get_content()


# -- handling and timeline ----------------------------------------------------------------------------------


def test_handling_times_and_medians_per_category_and_severity() -> None:
    fast = _incident(incident_id="a")
    book.acknowledge(fast, "lin", T0 + timedelta(minutes=10))
    book.resolve(fast, "lin", T0 + timedelta(hours=2))
    slow = _incident(incident_id="b")
    book.acknowledge(slow, "wang", T0 + timedelta(minutes=50))
    book.resolve(slow, "wang", T0 + timedelta(hours=20))
    quiet = _incident(incident_id="c", status="resolved", resolved_at=T0 + timedelta(hours=3),
                      resolve_reason="quiet for 180 minutes")
    young = _incident(incident_id="d", severity="notice", category=None)
    now = T0 + timedelta(hours=6)
    assert handling(fast, now).to_acknowledge == timedelta(minutes=10) and handling(fast, now).closed_within_target
    assert handling(quiet, now).to_resolve is None and handling(quiet, now).closed_within_target is False
    assert handling(young, now).closed_within_target is None
    stats = {(g.category, g.severity): g for g in group_stats([fast, slow, quiet, young], now)}
    logistics = stats[("logistics", "urgent")]
    assert (logistics.incidents, logistics.acknowledged) == (3, 2)
    assert logistics.median_to_acknowledge == timedelta(minutes=30)
    assert logistics.median_to_resolve == timedelta(hours=11)
    assert (logistics.closed_within_target, logistics.judged) == (1, 3)
    assert stats[("-", "notice")].judged == 0


def test_timeline_has_matches_emails_and_people() -> None:
    inc = _incident()
    inc.timeline.append(TimelineEntry(T0, "viral-spread", "urgent", "spreading"))
    inc.notifications.append(Notification("opened", "urgent", T0, "m1", to="lead@example.com"))
    book.acknowledge(inc, "lead@example.com", T0 + timedelta(minutes=5), via="email link")
    book.add_note(inc, "lin", T0 + timedelta(minutes=7), "called the customer")
    book.resolve(inc, "lin", T0 + timedelta(minutes=9), via="console")
    events = timeline(inc)
    assert [e.kind for e in events] == ["opened", "match", "email", "acknowledged", "note", "resolved"]
    assert events[2].text == "email (urgent) to lead@example.com"
    assert (events[3].by, events[3].text) == ("lead@example.com", "acknowledged (email link)")
    with pytest.raises(ValueError, match="already resolved"):
        book.acknowledge(inc, "x", T0)
    with pytest.raises(ValueError, match="empty"):
        book.add_note(inc, "x", T0, "  ")


# -- people's changes against the engine's concurrent save (real node) -----------------------------------------


@pytest.mark.es
def test_an_acknowledgement_survives_the_engines_save_of_an_older_version(es: Elasticsearch, prefix: str) -> None:
    engine_store = book.EsIncidentStore(es, prefix)
    engine_store.save([_incident()])
    [active] = engine_store.active()  # the engine reads the book...
    console_store = book.EsIncidentStore(es, prefix)  # ...a person acknowledges and notes in the console...
    book.act(console_store, active.incident_id, "ack", "lin", T0 + timedelta(minutes=3), via="console")
    book.act(console_store, active.incident_id, "note", "lin", T0 + timedelta(minutes=4), via="console", text="on it")
    active.matches += 1  # ...and the engine saves its version, read before
    active.severity = "crisis"
    engine_store.save([active])
    stored = book.EsIncidentStore(es, prefix).get(active.incident_id)
    assert stored is not None
    assert (stored.status, stored.acknowledged_by, stored.severity, stored.matches) == ("acknowledged", "lin",
                                                                                         "crisis", 1)
    assert [a.kind for a in stored.actions] == ["acknowledged", "note"]
    with pytest.raises(LookupError):
        book.act(console_store, "inc-none", "ack", "lin", T0, via="console")


def test_console_cookies_are_secure_behind_https(tmp_path: Path) -> None:
    from groundswell.web.app import ConsoleError, create_app

    with pytest.raises(ConsoleError, match="GROUNDSWELL_SECRET_KEY is not set"):
        create_app(load(tmp_path, "{}\n"))
    https = create_app(load(tmp_path, "alerting: {console_url: 'https://gs.example.com'}\n",
                            env={"GROUNDSWELL_SECRET_KEY": SECRET}))
    assert https.config["SESSION_COOKIE_SECURE"] and https.config["SESSION_COOKIE_HTTPONLY"]
    assert https.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    plain = create_app(load(tmp_path, "{}\n", env={"GROUNDSWELL_SECRET_KEY": SECRET}))
    assert not plain.config["SESSION_COOKIE_SECURE"]
    # security headers on every answer, even the sign-in page: no script may run, no framing, no referrer
    response = plain.test_client().get("/login")
    assert response.status_code == 200
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY" and response.headers["Referrer-Policy"] == "no-referrer"
    assert plain.test_client().get("/incidents").status_code == 302
