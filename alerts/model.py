"""What alerting passes around: a rule's Match, the Incident it feeds, and what an email about it shows.

Rules (alerts.rules) turn the mention index at an instant into Matches; the incident book (alerts.incidents)
folds Matches about the same complaint into one Incident with a lifecycle; the mailer (alerts.email) renders an
IncidentReport. The incident index mapping lives here because the document shape is this module's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal

from core.times import iso, parse_time
from store.fields import KEYWORD

Severity = Literal["notice", "urgent", "crisis"]
SEVERITIES: tuple[Severity, ...] = ("notice", "urgent", "crisis")
RANK: Mapping[str, int] = {s: i for i, s in enumerate(SEVERITIES)}

Status = Literal["open", "acknowledged", "resolved"]
RuleType = str  # a rule kind's `type:` (alerts.rules.kinds)


def higher(a: Severity, b: Severity) -> Severity:
    return a if RANK[a] >= RANK[b] else b


@dataclass(frozen=True)
class Match:
    """One rule firing at one instant, with the evidence a service lead needs.

    `cluster_id` set: the match is about one complaint and its copies. Otherwise it concerns a brand (and maybe a
    complaint category), or for crawler health a `source_key`.
    """

    rule: str  # the rule's name (unique in the rule set)
    rule_type: RuleType
    severity: Severity
    at: datetime  # the evaluation instant
    summary: str  # one line, plain text, for the subject and lists
    brand: str | None = None
    category: str | None = None
    cluster_id: str | None = None
    source_key: str | None = None
    term: str | None = None  # new_term: the rising phrase
    query: str = ""  # Lucene query over the mention alias that shows the matched mentions (Kibana link, chart)
    window_start: datetime | None = None
    mention_ids: tuple[str, ...] = ()  # most engaging first; the first is what the email quotes
    evidence: Mapping[str, float] = field(default_factory=dict)  # mentions, authors, platforms, reach, growth...
    # the store filter of the matched mentions, for the rule kind's `explain` (top posts, dominant cluster)
    scope: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def subject_key(self) -> str:
        """What complaint this is about, before incidents merge clusters into brand/category incidents."""
        if self.cluster_id:
            return f"cluster:{self.cluster_id}"
        if self.source_key:
            return f"source:{self.source_key}"
        if self.term:
            return f"term:{self.brand or '*'}:{self.term}"
        return f"brand:{self.brand or '*'}:{self.category or '*'}"


def incident_id(key: str, opened_at: datetime) -> str:
    """Stable and readable: the same key opening at the same instant is the same incident on every machine."""
    digest = hashlib.sha1(f"{key}\x1f{iso(opened_at)}".encode()).hexdigest()[:16]
    return f"inc-{opened_at.astimezone(UTC):%Y%m%d%H%M}-{digest}"


@dataclass(frozen=True)
class Post:
    """A mention as an email quotes it. Every text field is crawled, untrusted text: escape before HTML."""

    mention_id: str
    platform: str
    text: str
    author: str | None
    author_followers: int | None
    url: str | None
    published_at: datetime
    likes: int = 0
    reposts: int = 0
    comments: int = 0
    title: str | None = None
    sentiment: float | None = None

    @property
    def engagement(self) -> int:
        return self.likes + self.reposts + self.comments


@dataclass
class Notification:
    kind: Literal["opened", "escalated", "digest"]
    severity: Severity
    at: datetime
    message_id: str  # the outbox document id
    to: str | None = None  # the recipient (each gets an email of their own); None in books written before that


@dataclass
class TimelineEntry:
    at: datetime
    rule: str
    severity: Severity
    summary: str


ActionKind = Literal["acknowledged", "resolved", "note"]


@dataclass(frozen=True)
class Action:
    """What a person did to an incident (console or CLI): who, when, and for a note its text."""

    kind: ActionKind
    by: str
    at: datetime
    text: str = ""
    via: str = ""  # "console", "email link", "cli"


@dataclass
class Incident:
    """Every match about one complaint, from open to resolved. Mutable: the incident book updates it."""

    incident_id: str
    key: str  # subject key of the match that opened it
    status: Status
    severity: Severity  # current (highest seen while open)
    opened_at: datetime
    updated_at: datetime
    last_match_at: datetime
    summary: str
    brand: str | None = None
    category: str | None = None
    cluster_ids: list[str] = field(default_factory=list)
    source_key: str | None = None
    term: str | None = None
    rules: list[str] = field(default_factory=list)
    rule_types: list[str] = field(default_factory=list)
    query: str = ""
    mention_ids: list[str] = field(default_factory=list)  # top posts, most engaging first
    evidence: dict[str, float] = field(default_factory=dict)  # the primary match's latest numbers (and peaks)
    primary_rule_type: str = ""  # the most telling kind of match so far: its posts, numbers and summary show
    matches: int = 0
    resolved_at: datetime | None = None
    resolve_reason: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    notifications: list[Notification] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    resolved_by: str | None = None  # a person; None when it resolved after quiet_minutes without a match
    actions: list[Action] = field(default_factory=list)  # acknowledgements, resolutions and notes, oldest first

    def to_document(self) -> dict[str, Any]:
        return {
            "@timestamp": iso(self.opened_at),
            "incident_id": self.incident_id,
            "key": self.key,
            "status": self.status,
            "severity": self.severity,
            "severity_rank": RANK[self.severity],
            "opened_at": iso(self.opened_at),
            "updated_at": iso(self.updated_at),
            "last_match_at": iso(self.last_match_at),
            "summary": self.summary,
            "brand": self.brand,
            "category": self.category,
            "cluster_ids": list(self.cluster_ids),
            "source_key": self.source_key,
            "term": self.term,
            "rules": list(self.rules),
            "rule_types": list(self.rule_types),
            "query": self.query,
            "mention_ids": list(self.mention_ids),
            "evidence": dict(self.evidence),
            "primary_rule_type": self.primary_rule_type,
            "matches": self.matches,
            "resolved_at": iso(self.resolved_at) if self.resolved_at else None,
            "resolve_reason": self.resolve_reason,
            "acknowledged_at": iso(self.acknowledged_at) if self.acknowledged_at else None,
            "acknowledged_by": self.acknowledged_by,
            "notifications": [
                {"kind": n.kind, "severity": n.severity, "at": iso(n.at), "message_id": n.message_id, "to": n.to}
                for n in self.notifications
            ],
            "timeline": [
                {"at": iso(t.at), "rule": t.rule, "severity": t.severity, "summary": t.summary} for t in self.timeline
            ],
            "resolved_by": self.resolved_by,
            "actions": [
                {"kind": a.kind, "by": a.by, "at": iso(a.at), "text": a.text, "via": a.via} for a in self.actions
            ],
        }

    @classmethod
    def from_document(cls, src: Mapping[str, Any]) -> Incident:
        def t(key: str) -> datetime:
            value = parse_time(src.get(key))
            assert value is not None, f"incident without {key}"
            return value

        return cls(
            incident_id=src["incident_id"],
            key=src["key"],
            status=src["status"],
            severity=src["severity"],
            opened_at=t("opened_at"),
            updated_at=t("updated_at"),
            last_match_at=t("last_match_at"),
            summary=src.get("summary") or "",
            brand=src.get("brand"),
            category=src.get("category"),
            cluster_ids=list(src.get("cluster_ids") or []),
            source_key=src.get("source_key"),
            term=src.get("term"),
            rules=list(src.get("rules") or []),
            rule_types=list(src.get("rule_types") or []),
            query=src.get("query") or "",
            mention_ids=list(src.get("mention_ids") or []),
            evidence=dict(src.get("evidence") or {}),
            primary_rule_type=src.get("primary_rule_type") or "",
            matches=int(src.get("matches") or 0),
            resolved_at=parse_time(src.get("resolved_at")),
            resolve_reason=src.get("resolve_reason"),
            acknowledged_at=parse_time(src.get("acknowledged_at")),
            acknowledged_by=src.get("acknowledged_by"),
            notifications=[
                Notification(n["kind"], n["severity"], t_ if (t_ := parse_time(n["at"])) else t("opened_at"),
                             n["message_id"], n.get("to"))
                for n in src.get("notifications") or []
            ],
            timeline=[
                TimelineEntry(parse_time(e["at"]) or t("opened_at"), e["rule"], e["severity"], e["summary"])
                for e in src.get("timeline") or []
            ],
            resolved_by=src.get("resolved_by"),
            actions=[
                Action(a["kind"], a["by"], parse_time(a["at"]) or t("updated_at"), a.get("text") or "",
                       a.get("via") or "")
                for a in src.get("actions") or []
            ],
        )


def incidents_index(prefix: str) -> str:
    return f"{prefix}-incidents"



INCIDENT_PROPERTIES: dict[str, Any] = {
    "@timestamp": {"type": "date"},
    "incident_id": KEYWORD,
    "key": KEYWORD,
    "status": KEYWORD,
    "severity": KEYWORD,
    "severity_rank": {"type": "integer"},
    "opened_at": {"type": "date"},
    "updated_at": {"type": "date"},
    "last_match_at": {"type": "date"},
    "summary": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 512}}},
    "brand": KEYWORD,
    "category": KEYWORD,
    "cluster_ids": KEYWORD,
    "source_key": KEYWORD,
    "term": KEYWORD,
    "rules": KEYWORD,
    "rule_types": KEYWORD,
    "query": {"type": "keyword", "index": False, "doc_values": False},
    "mention_ids": KEYWORD,
    "evidence": {"type": "object", "dynamic": True},  # numbers per rule type; mapped as they come
    "primary_rule_type": KEYWORD,
    "matches": {"type": "long"},
    "resolved_at": {"type": "date"},
    "resolve_reason": KEYWORD,
    "acknowledged_at": {"type": "date"},
    "acknowledged_by": KEYWORD,
    "notifications": {
        "properties": {"kind": KEYWORD, "severity": KEYWORD, "at": {"type": "date"}, "message_id": KEYWORD,
                       "to": KEYWORD},
    },
    "timeline": {"type": "object", "enabled": False},
    "resolved_by": KEYWORD,
    "actions": {"type": "object", "enabled": False},
}


@dataclass(frozen=True)
class IncidentReport:
    """Everything an incident email shows, gathered from Elasticsearch at send time."""

    incident: Incident
    kind: Literal["opened", "escalated"]
    at: datetime
    first_post: Post | None  # the earliest post of the complaint (who started it, with reach)
    top_posts: tuple[Post, ...]  # most engaging first, with links
    hourly: tuple[tuple[datetime, int], ...]  # matched mentions per hour over the last 24 h, oldest first
    mentions: int  # matched mentions in the last 24 h
    authors: int
    platforms: tuple[str, ...]
    kibana_url: str | None  # Discover with the incident's query and time range, when alerting.kibana_url is set
    previous_severity: Severity | None = None  # for an escalation
    zone: tzinfo = UTC  # the configured `timezone:`: every time the email shows is in it
