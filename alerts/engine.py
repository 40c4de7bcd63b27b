"""One evaluation of every alert rule at an instant: matches -> incidents -> emails (through the outbox).

Interface used by the scheduler and the CLI; the evaluation itself is being built (issue 5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from alerts.model import Incident, Match, iso
from groundswell import clock
from groundswell.config import Config


@dataclass
class RunReport:
    at: datetime
    matches: list[Match] = field(default_factory=list)
    opened: list[Incident] = field(default_factory=list)
    escalated: list[Incident] = field(default_factory=list)
    resolved: list[Incident] = field(default_factory=list)
    updated: list[Incident] = field(default_factory=list)
    emails_sent: int = 0
    emails_pending: int = 0
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "matches": len(self.matches),
            "opened": [i.incident_id for i in self.opened],
            "escalated": [i.incident_id for i in self.escalated],
            "resolved": [i.incident_id for i in self.resolved],
            "updated": [i.incident_id for i in self.updated],
            "emails_sent": self.emails_sent,
            "emails_pending": self.emails_pending,
            "errors": self.errors,
        }


def run_once(cfg: Config, es: Elasticsearch, at: datetime | None = None, *, send: bool = True) -> RunReport:
    """Evaluate every rule as if the time were `at` (default: groundswell.clock.now()), update incidents, queue
    and (if `send`) deliver the emails that are due."""
    return RunReport(at=at or clock.now())


def flush_digest(cfg: Config, es: Elasticsearch, at: datetime | None = None) -> int:
    """Send the digest of notices collected since the last one (when alerting.digest_minutes is set)."""
    return 0
