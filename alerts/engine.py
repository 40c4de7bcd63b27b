"""One evaluation of every alert rule at an instant: matches -> incidents -> emails (through the outbox).

The scheduler calls `run_once` every minute; `groundswell alerts run --at` calls it for any instant, and
`backtest` replays a period against an in-memory incident book so real incidents and inboxes stay untouched.
Order matters for at-least-once mail: an email is queued in the outbox (idempotent by incident and kind)
before the incident records it, so a crash in between can repeat a queue attempt but never lose the email.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from elasticsearch import Elasticsearch

from alerts import digest
from alerts import incidents as book
from alerts.email.compose import compose, notification_id
from alerts.email.outbox import Outbox
from alerts.links import email_links
from alerts.model import Incident, Match, Notification, Severity
from alerts.report import build_report, recipients_for
from alerts.rules.context import context_for
from alerts.rules.defaults import effective_rules
from alerts.rules.registry import evaluate_all
from core import clock
from core.config import Config
from core.times import iso

log = logging.getLogger(__name__)

Matcher = Callable[[Config[Any], Elasticsearch, datetime], tuple[list[Match], list[str]]]


@dataclass(frozen=True)
class Placement:
    """What a match did: opened an incident, escalated it, or joined one without an email of its own (an incident
    emails when it opens and once when its severity first rises; `why` says which of these it was not)."""

    match: Match
    incident: Incident
    outcome: Literal["opened", "escalated", "joined"]
    why: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"incident_id": self.incident.incident_id, "outcome": self.outcome, "why": self.why or None}


def _why_joined(inc: Incident, match: Match) -> str:
    if inc.status == "acknowledged":
        return f"acknowledged by {inc.acknowledged_by or 'someone'}; it emails again only if its severity first rises"
    if any(n.kind == "escalated" for n in inc.notifications):
        return "it emailed when it opened and when it escalated; later matches update it silently"
    if match.severity == inc.severity:
        return f"it is {inc.severity} already and emailed when it opened; it emails again only if its severity rises"
    return f"it is {inc.severity}, above this {match.severity} match; it emails again only if its severity rises"


@dataclass
class RunReport:
    at: datetime
    matches: list[Match] = field(default_factory=list)
    opened: list[Incident] = field(default_factory=list)
    escalated: list[Incident] = field(default_factory=list)
    resolved: list[Incident] = field(default_factory=list)
    updated: list[Incident] = field(default_factory=list)
    placed: list[Placement] = field(default_factory=list)  # one per match, in `matches` order
    emails_queued: int = 0
    emails_sent: int = 0
    emails_pending: int = 0
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "matches": [
                {"rule": p.match.rule, "type": p.match.rule_type, "severity": p.match.severity,
                 "summary": p.match.summary, **p.to_json()}
                for p in self.placed
            ] if len(self.placed) == len(self.matches) else [
                {"rule": m.rule, "type": m.rule_type, "severity": m.severity, "summary": m.summary}
                for m in self.matches
            ],
            "opened": [_brief(i) for i in self.opened],
            "escalated": [_brief(i) for i in self.escalated],
            "resolved": [_brief(i) for i in self.resolved],
            "updated": [i.incident_id for i in self.updated],
            "emails_queued": self.emails_queued,
            "emails_sent": self.emails_sent,
            "emails_pending": self.emails_pending,
            "errors": self.errors,
        }


def _brief(i: Incident) -> dict[str, Any]:
    return {"incident_id": i.incident_id, "severity": i.severity, "brand": i.brand, "summary": i.summary}


# -- rules ----------------------------------------------------------------------------------------------------


def evaluate(
    cfg: Config[Any], es: Elasticsearch, at: datetime, running_since: datetime | None = None
) -> tuple[list[Match], list[str]]:
    """Every effective rule (defaults + configured) at `at`; a failing rule is reported, the others still run.
    `running_since`: when the scheduler evaluating started (EvalContext)."""
    prefix = cfg.elasticsearch.index_prefix
    ctx = context_for(cfg, es, prefix, at, running_since)
    errors: list[str] = []
    matches = evaluate_all(effective_rules(cfg), ctx, errors)
    return matches, errors


# -- one evaluation ------------------------------------------------------------------------------------------


def _notify(
    es: Elasticsearch, cfg: Config[Any], inc: Incident, kind: Literal["opened", "escalated"], at: datetime,
    previous: Severity | None, report: RunReport,
) -> None:
    """One email per recipient routed to the incident (alerts.report.recipients_for): each says why its recipient
    gets it and carries that person's acknowledge link. Notices wait for the digest when one is configured."""
    digest = cfg.alerting.digest_minutes is not None and inc.severity == "notice" and kind == "opened"
    to = recipients_for(cfg, "notice" if digest else inc.severity, brand=inc.brand, category=inc.category)
    if not to:
        report.errors.append(
            f"incident {inc.incident_id} ({inc.severity}): no recipients configured "
            "(recipients: in the config, or GROUNDSWELL_ALERT_TO); nothing emailed"
        )
        return
    facts = build_report(es, cfg, inc, kind, at, previous)
    outbox = Outbox(es, cfg.elasticsearch.index_prefix)
    for person in to:
        message_id = notification_id(inc.incident_id, kind, inc.severity, person.address)
        message = compose(facts, sender=cfg.smtp.sender, recipients=[person.address], message_id=message_id,
                          reason=person.reason, links=email_links(cfg, inc.incident_id, person.address, at))
        queued = outbox.enqueue(
            message_id, message, incident_id=inc.incident_id, kind="digest-item" if digest else kind,
            severity=inc.severity, at=at,
        )
        report.emails_queued += int(queued)
        inc.notifications.append(
            Notification("digest" if digest else kind, inc.severity, at, message_id, to=person.address))


def run_once(
    cfg: Config[Any],
    es: Elasticsearch,
    at: datetime | None = None,
    *,
    send: bool = True,
    matcher: Matcher = evaluate,
) -> RunReport:
    """Evaluate every rule as if the time were `at` (default: core.clock.now()), update the incidents,
    queue the emails that are due and, if `send`, deliver everything pending in the outbox."""
    at = at or clock.now()
    report = RunReport(at=at)
    matches, errors = matcher(cfg, es, at)
    report.matches, report.errors = matches, list(errors)
    store = book.EsIncidentStore(es, cfg.elasticsearch.index_prefix)
    changes = book.apply(matches, store.active(), at, timedelta(minutes=cfg.alerting.quiet_minutes))
    # an incident whose email could not be queued (the store failing under us) is not saved as opened or
    # escalated: the next evaluation finds the same match and tries again, so no email is ever lost
    unsent: set[str] = set()
    for inc in changes.opened:
        if not _safely(report, inc, lambda inc=inc: _notify(es, cfg, inc, "opened", at, None, report)):  # type: ignore[misc]
            unsent.add(inc.incident_id)
    for inc, before in changes.escalated:
        if not _safely(report, inc, lambda inc=inc, b=before: _notify(es, cfg, inc, "escalated", at, b, report)):  # type: ignore[misc]
            unsent.add(inc.incident_id)
    store.save([i for i in changes.changed if i.incident_id not in unsent])
    report.opened = [i for i in changes.opened if i.incident_id not in unsent]
    report.escalated = [i for i, _ in changes.escalated if i.incident_id not in unsent]
    report.resolved = changes.resolved
    report.updated = changes.updated
    report.placed = _placements(changes, matches)
    if send:
        deliver(cfg, es, report)
    else:
        report.emails_pending = Outbox(es, cfg.elasticsearch.index_prefix).unsent()
    return report


def _placements(changes: book.Changes, matches: list[Match]) -> list[Placement]:
    """Each match's incident and outcome, in the order the rules found them."""
    opened = {i.incident_id for i in changes.opened}
    escalated = {i.incident_id for i, _ in changes.escalated}
    where = {id(m): inc for m, inc in changes.placed}
    out: list[Placement] = []
    for m in matches:
        inc = where[id(m)]
        if inc.incident_id in opened:
            out.append(Placement(m, inc, "opened"))
        elif inc.incident_id in escalated and m.severity == inc.severity:
            out.append(Placement(m, inc, "escalated"))
        else:
            out.append(Placement(m, inc, "joined", _why_joined(inc, m)))
    return out


def _safely(report: RunReport, inc: Incident, action: Callable[[], None]) -> bool:
    """A failing email (rendering, outbox) is reported, other emails still go; False: retried next time."""
    try:
        action()
    except Exception as exc:  # reported with the incident id; evaluation goes on
        log.exception("notifying about %s failed", inc.incident_id)
        report.errors.append(f"incident {inc.incident_id}: email not queued ({type(exc).__name__}: {exc}); "
                             "tried again at the next evaluation")
        return False
    return True


def deliver(cfg: Config[Any], es: Elasticsearch, report: RunReport) -> None:
    result = Outbox(es, cfg.elasticsearch.index_prefix).deliver(cfg.smtp, clock.now())
    report.emails_sent += result.sent
    report.emails_pending += result.pending
    report.errors.extend(result.errors)


def flush_digest(cfg: Config[Any], es: Elasticsearch, at: datetime | None = None) -> int:
    """Send the digest of notices collected since the last one (when alerting.digest_minutes is set)."""
    if cfg.alerting.digest_minutes is None:
        return 0
    return digest.flush(cfg, es, at or clock.now())


# -- backtest ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BacktestEvent:
    at: datetime
    kind: Literal["opened", "escalated", "resolved"]
    incident: Incident
    severity: Severity


def backtest(
    cfg: Config[Any],
    es: Elasticsearch,
    start: datetime,
    end: datetime,
    step: timedelta,
    *,
    matcher: Matcher = evaluate,
    progress: Callable[[datetime], None] | None = None,
) -> tuple[list[BacktestEvent], list[str]]:
    """Replay [start, end] every `step` on an in-memory incident book: what would have been emailed, and when."""
    if step <= timedelta(0):
        raise ValueError("step must be positive")
    store = book.MemoryIncidentStore()
    events: list[BacktestEvent] = []
    errors: list[str] = []
    quiet = timedelta(minutes=cfg.alerting.quiet_minutes)
    at = start
    while at <= end:
        matches, errs = matcher(cfg, es, at)
        errors.extend(f"{iso(at)}: {e}" for e in errs)
        changes = book.apply(matches, store.active(), at, quiet)
        for inc in changes.opened:
            inc.notifications.append(Notification("opened", inc.severity, at, f"{inc.incident_id}.opened"))
            events.append(BacktestEvent(at, "opened", inc, inc.severity))
        for inc, _before in changes.escalated:
            inc.notifications.append(Notification("escalated", inc.severity, at, f"{inc.incident_id}.escalated"))
            events.append(BacktestEvent(at, "escalated", inc, inc.severity))
        for inc in changes.resolved:
            events.append(BacktestEvent(at, "resolved", inc, inc.severity))
        store.save(changes.changed)
        if progress:
            progress(at)
        at += step
    return events, errors


def incident_store(cfg: Config[Any], es: Elasticsearch) -> book.EsIncidentStore:
    return book.EsIncidentStore(es, cfg.elasticsearch.index_prefix)
