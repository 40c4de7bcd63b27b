"""How incidents were handled, as service teams report it: the timeline of one incident, and time to acknowledge,
time to resolve and closed-within-12-hours per incident, with medians per complaint category and severity.

Pure functions over Incidents, shared by the console and the CLI."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Literal

from alerts.model import RANK, Incident

CLOSE_TARGET = timedelta(hours=12)

EventKind = Literal["opened", "match", "email", "acknowledged", "resolved", "note"]


@dataclass(frozen=True)
class Event:
    """One line of an incident's timeline. `text` may hold crawled text: escape it wherever it is shown."""

    at: datetime
    kind: EventKind
    text: str
    by: str = ""
    severity: str = ""


def timeline(inc: Incident) -> list[Event]:
    """Matches, emails, acknowledgements, resolutions and notes, oldest first (opened first among equals)."""
    events = [Event(inc.opened_at, "opened", f"opened as {inc.severity}", severity=inc.severity)]
    events += [Event(t.at, "match", f"{t.rule}: {t.summary}", severity=t.severity) for t in inc.timeline]
    for n in inc.notifications:
        what = {"opened": "email", "escalated": "escalation email", "digest": "held for the digest"}.get(n.kind, n.kind)
        events.append(Event(n.at, "email", f"{what} ({n.severity})" + (f" to {n.to}" if n.to else ""),
                            severity=n.severity))
    for a in inc.actions:
        via = f" ({a.via})" if a.via else ""
        events.append(Event(a.at, a.kind, (a.text if a.kind == "note" else f"{a.kind}{via}"), by=a.by))
    if inc.acknowledged_at and not any(a.kind == "acknowledged" for a in inc.actions):  # acknowledged before actions
        events.append(Event(inc.acknowledged_at, "acknowledged", "acknowledged", by=inc.acknowledged_by or ""))
    if inc.status == "resolved" and inc.resolved_at and not inc.resolved_by:
        events.append(Event(inc.resolved_at, "resolved", inc.resolve_reason or "resolved"))
    order = {"opened": 0, "match": 1, "email": 2, "acknowledged": 3, "note": 4, "resolved": 5}
    return sorted(events, key=lambda e: (e.at, order[e.kind]))


@dataclass(frozen=True)
class Handling:
    """One incident's handling times (None: not yet)."""

    to_acknowledge: timedelta | None  # first response: acknowledged, or resolved by hand without an acknowledgement
    to_resolve: timedelta | None  # resolved by a person (a quiet resolution is not handling)
    closed_within_target: bool | None  # resolved by hand within 12 h; None while it is open and younger than that


def handling(inc: Incident, now: datetime) -> Handling:
    first = inc.acknowledged_at or (inc.resolved_at if inc.resolved_by else None)
    to_ack = first - inc.opened_at if first else None
    to_resolve = inc.resolved_at - inc.opened_at if inc.resolved_by and inc.resolved_at else None
    if to_resolve is not None:
        within: bool | None = to_resolve <= CLOSE_TARGET
    elif now - inc.opened_at > CLOSE_TARGET or inc.status == "resolved":
        within = False
    else:
        within = None
    return Handling(to_ack, to_resolve, within)


@dataclass(frozen=True)
class GroupStats:
    category: str  # "-" for incidents without a complaint category
    severity: str
    incidents: int
    acknowledged: int
    median_to_acknowledge: timedelta | None
    median_to_resolve: timedelta | None
    closed_within_target: int
    judged: int  # incidents old enough (or resolved) to judge the 12 h target on


def _median(values: Sequence[timedelta]) -> timedelta | None:
    return timedelta(seconds=median(v.total_seconds() for v in values)) if values else None


def group_stats(incidents: Iterable[Incident], now: datetime) -> list[GroupStats]:
    """Per complaint category and severity: medians of time to acknowledge and resolve, and the 12 h target."""
    groups: dict[tuple[str, str], list[Handling]] = {}
    for inc in incidents:
        groups.setdefault((inc.category or "-", inc.severity), []).append(handling(inc, now))
    out = []
    for (category, severity), rows in groups.items():
        acks = [h.to_acknowledge for h in rows if h.to_acknowledge is not None]
        resolves = [h.to_resolve for h in rows if h.to_resolve is not None]
        judged = [h for h in rows if h.closed_within_target is not None]
        out.append(GroupStats(category, severity, len(rows), len(acks), _median(acks), _median(resolves),
                              sum(1 for h in judged if h.closed_within_target), len(judged)))
    return sorted(out, key=lambda g: (g.category == "-", g.category, -RANK.get(g.severity, 0)))
