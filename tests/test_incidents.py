"""The incident book's folding logic (pure): one complaint, one incident, one email plus at most one escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts import incidents as book
from alerts.model import Incident, Match, Notification, Severity

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
QUIET = timedelta(hours=3)


def viral(at: datetime, severity: Severity = "urgent", cluster: str = "c1", brand: str = "小米") -> Match:
    return Match(rule="viral", rule_type="viral_spread", severity=severity, at=at, summary=f"{brand} 黑屏 spreading",
                 brand=brand, category="quality", cluster_id=cluster, mention_ids=(f"m-{cluster}",),
                 evidence={"reposts_per_hour": 1000.0})


def surge(at: datetime, severity: Severity = "notice", brand: str = "小米", category: str | None = None) -> Match:
    return Match(rule="surge", rule_type="negative_surge", severity=severity, at=at, summary="negative surge",
                 brand=brand, category=category, evidence={"z": 5.0})


def run(steps: list[tuple[datetime, list[Match]]]) -> tuple[book.MemoryIncidentStore, list[book.Changes]]:
    store = book.MemoryIncidentStore()
    out = []
    for at, matches in steps:
        changes = book.apply(matches, store.active(), at, QUIET)
        store.save(changes.changed)
        out.append(changes)
    return store, out


def test_repeated_matches_open_one_incident_and_escalate_once() -> None:
    steps = [(T0 + timedelta(minutes=5 * i), [viral(T0 + timedelta(minutes=5 * i), sev)])
             for i, sev in enumerate(["urgent", "urgent", "crisis", "urgent", "crisis", "crisis"])]
    store, changes = run(steps)
    assert sum(len(c.opened) for c in changes) == 1
    escalations = [c.escalated for c in changes if c.escalated]
    assert len(escalations) == 1 and escalations[0][0][1] == "urgent"
    inc = store.search()[0]
    assert inc.severity == "crisis" and inc.matches == 6 and inc.cluster_ids == ["c1"]


def test_escalation_is_not_repeated_once_notified() -> None:
    store, changes = run([(T0, [viral(T0, "notice")])])
    inc = store.active()[0]
    changes = book.apply([viral(T0 + timedelta(minutes=5), "urgent")], store.active(), T0 + timedelta(minutes=5), QUIET)
    assert [i.incident_id for i, _ in changes.escalated] == [inc.incident_id]
    inc.notifications.append(Notification("escalated", "urgent", T0, "x"))  # the engine records the email
    store.save(changes.changed)
    later = book.apply([viral(T0 + timedelta(minutes=10), "crisis")], store.active(), T0 + timedelta(minutes=10), QUIET)
    assert not later.escalated and not later.opened


def test_brand_wide_surge_joins_the_open_complaint() -> None:
    store, changes = run([(T0, [viral(T0)]), (T0 + timedelta(minutes=5), [surge(T0 + timedelta(minutes=5))])])
    assert sum(len(c.opened) for c in changes) == 1
    inc = store.search()[0]
    assert inc.rule_types == ["viral_spread", "negative_surge"]
    assert inc.mention_ids == ["m-c1"]  # the cluster's posts stay what the email quotes


def test_same_evaluation_viral_and_surge_is_one_incident() -> None:
    store, changes = run([(T0, [surge(T0, "urgent", category="quality"), viral(T0, "urgent")])])
    assert len(changes[0].opened) == 1
    assert store.active()[0].cluster_ids == ["c1"]


def test_other_brand_other_category_and_crawler_health_stay_apart() -> None:
    health = Match(rule="health", rule_type="crawler_health", severity="notice", at=T0, summary="weibo silent",
                   source_key="weibo:小米")
    matches = [viral(T0), viral(T0, cluster="c2", brand="华为"), surge(T0, category="logistics"), health]
    store, _ = run([(T0, matches)])
    # a logistics surge is another complaint than the quality cluster of the same brand
    keys = sorted(i.key for i in store.active())
    assert keys == ["brand:小米:logistics", "cluster:c1", "cluster:c2", "source:weibo:小米"]


def test_quiet_incident_resolves_and_a_new_spread_opens_a_new_one() -> None:
    store, _ = run([(T0, [viral(T0)])])
    first = store.active()[0].incident_id
    later = T0 + QUIET + timedelta(minutes=1)
    changes = book.apply([], store.active(), later, QUIET)
    assert [i.incident_id for i in changes.resolved] == [first]
    store.save(changes.changed)
    again = book.apply([viral(later)], store.active(), later, QUIET)
    assert len(again.opened) == 1 and again.opened[0].incident_id != first


def test_document_round_trip() -> None:
    store, _ = run([(T0, [viral(T0)])])
    inc = store.active()[0]
    inc.notifications.append(Notification("opened", "urgent", T0, "inc.opened"))
    back = Incident.from_document(inc.to_document())
    assert back == inc


def test_acknowledge_and_resolve_by_hand() -> None:
    store, _ = run([(T0, [viral(T0)])])
    inc = store.active()[0]
    book.acknowledge(inc, "lead", T0)
    assert inc.status == "acknowledged" and inc.acknowledged_by == "lead"
    book.resolve(inc, "lead", T0)
    assert inc.status == "resolved"
    try:
        book.resolve(inc, "lead", T0)
    except ValueError as exc:
        assert "already resolved" in str(exc)
    else:
        raise AssertionError("resolving twice must fail")
