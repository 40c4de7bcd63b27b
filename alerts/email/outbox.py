"""The outbox: every email goes through `<prefix>-alerts-outbox` in Elasticsearch, so sending is at-least-once
without duplicates across restarts and across schedulers.

- enqueue: the rendered message is stored under its notification id with op_type=create, so queueing the same
  notification again (a restarted scheduler re-evaluating the same instant) is a no-op.
- deliver: a due message is first claimed (status `sending`, a lease) with if_seq_no/if_primary_term, so of two
  schedulers only one sends it; it is marked `sent` only after the SMTP server accepted it. A failure records the
  error and retries later with exponential backoff (30 s doubling, at most 30 min). A claim whose holder died
  before marking expires with its lease and the message is sent again (at-least-once).
- digest items (kind `digest-item`) are held, not sent: the engine collects them once per period, composes one
  digest, and enqueue_digest() queues it and marks the items digested. A crash between the two is repaired on
  the next collect (items listed by a queued digest are marked then), so no notice is in two digests.
"""

from __future__ import annotations

import base64
import builtins
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Literal, cast

from elasticsearch import ConflictError, Elasticsearch

from alerts.email.send import SendError, recipients_of, send
from alerts.model import RANK
from core.backoff import delay
from core.config import Smtp
from core.times import iso, parse_time
from store.fields import KEYWORD
from store.state import ensure_index

log = logging.getLogger(__name__)

Kind = Literal["opened", "escalated", "digest", "digest-item"]
KINDS: tuple[str, ...] = ("opened", "escalated", "digest", "digest-item")
Status = Literal["pending", "sending", "sent", "held", "digested"]

BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(minutes=30)
LEASE = timedelta(minutes=30)  # a claim older than this is taken to be abandoned by a dead scheduler
BATCH = 200  # messages tried per deliver() call; the rest wait for the next call

_STORED = {"type": "keyword", "index": False, "doc_values": False}

OUTBOX_PROPERTIES: dict[str, Any] = {
    "message_id": KEYWORD,
    "incident_ids": KEYWORD,
    "kind": KEYWORD,
    "severity": KEYWORD,
    "status": KEYWORD,
    "subject": _STORED,
    "sender": KEYWORD,
    "recipients": KEYWORD,
    "at": {"type": "date"},
    "next_attempt": {"type": "date"},
    "lease_until": {"type": "date"},
    "attempts": {"type": "integer"},
    "last_error": _STORED,
    "updated_at": {"type": "date"},
    "sent_at": {"type": "date"},
    "digest_id": KEYWORD,
    "digest_items": KEYWORD,
    "digested_at": {"type": "date"},
    "raw": {"type": "binary"},
}


_UNSENT = {"terms": {"status": ["pending", "sending"]}}


def outbox_index(prefix: str) -> str:
    return f"{prefix}-alerts-outbox"


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones: 30 s, 1 min, 2 min, ... at most 30 min."""
    return timedelta(seconds=delay(attempts, BACKOFF_FIRST.total_seconds(), BACKOFF_MAX.total_seconds()))


@dataclass(frozen=True)
class OutboxItem:
    message_id: str
    kind: str
    severity: str
    status: str
    at: datetime
    incident_ids: tuple[str, ...]
    subject: str
    recipients: tuple[str, ...]
    attempts: int
    next_attempt: datetime | None
    last_error: str | None
    sent_at: datetime | None
    digest_id: str | None
    raw: bytes = field(repr=False)

    @property
    def message(self) -> EmailMessage:
        return cast(EmailMessage, message_from_bytes(self.raw, policy=policy.default))

    @classmethod
    def from_hit(cls, hit: dict[str, Any]) -> OutboxItem:
        src = hit["_source"]
        at = parse_time(src["at"])
        assert at is not None, f"outbox message {hit['_id']} without at"
        return cls(
            message_id=src["message_id"],
            kind=src["kind"],
            severity=src.get("severity") or "",
            status=src["status"],
            at=at,
            incident_ids=tuple(src.get("incident_ids") or ()),
            subject=src.get("subject") or "",
            recipients=tuple(src.get("recipients") or ()),
            attempts=int(src.get("attempts") or 0),
            next_attempt=parse_time(src.get("next_attempt")),
            last_error=src.get("last_error"),
            sent_at=parse_time(src.get("sent_at")),
            digest_id=src.get("digest_id"),
            raw=base64.b64decode(src["raw"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "kind": self.kind,
            "severity": self.severity,
            "status": self.status,
            "at": iso(self.at),
            "incident_ids": list(self.incident_ids),
            "subject": self.subject,
            "recipients": list(self.recipients),
            "attempts": self.attempts,
            "next_attempt": iso(self.next_attempt) if self.next_attempt else None,
            "last_error": self.last_error,
            "sent_at": iso(self.sent_at) if self.sent_at else None,
            "digest_id": self.digest_id,
        }


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    pending: int = 0  # still to send after this call (due later, or failed and backing off)
    errors: list[str] = field(default_factory=list)


class Outbox:
    """The outbox of one index prefix. Every method creates the index on first use."""

    def __init__(self, es: Elasticsearch, prefix: str):
        self.es = es
        self.index = outbox_index(prefix)

    def _ready(self) -> None:
        ensure_index(self.es, self.index, OUTBOX_PROPERTIES)

    def _search(self, query: dict[str, Any], *, sort: builtins.list[Any], size: int) -> builtins.list[dict[str, Any]]:
        self._ready()
        self.es.indices.refresh(index=self.index)
        res = self.es.search(index=self.index, query=query, sort=sort, size=size, seq_no_primary_term=True)
        return cast(builtins.list[dict[str, Any]], res["hits"]["hits"])

    # -- queueing ----------------------------------------------------------------------------------------

    def enqueue(
        self,
        message_id: str,
        message: EmailMessage,
        *,
        incident_id: str,
        kind: str,
        severity: str,
        at: datetime,
        digest_items: Sequence[str] = (),
    ) -> bool:
        """Queue a rendered message (kind opened/escalated/digest: to send; digest-item: to hold for the next
        digest). False when this id was queued before, in which case nothing changes."""
        if kind not in KINDS:
            raise ValueError(f"outbox: unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
        self._ready()
        incident_ids = incident_id.split() if kind == "digest" else [incident_id]
        doc = {
            "message_id": message_id,
            "incident_ids": incident_ids,
            "kind": kind,
            "severity": severity,
            "status": "held" if kind == "digest-item" else "pending",
            "subject": str(message.get("Subject", "")),
            "sender": str(message.get("From", "")),
            "recipients": recipients_of(message),
            "at": iso(at),
            "next_attempt": iso(at),
            "attempts": 0,
            "updated_at": iso(at),
            "digest_items": list(digest_items),
            "raw": base64.b64encode(message.as_bytes(policy=policy.SMTP)).decode("ascii"),
        }
        try:
            self.es.create(index=self.index, id=message_id, document=doc)
        except ConflictError:
            log.info("outbox: %s was queued before; not queued again", message_id)
            return False
        return True

    # -- sending -----------------------------------------------------------------------------------------

    def _update(self, hit: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any] | None:
        """Apply `fields` only if the document is unchanged since `hit` was read; the new hit, or None when
        another scheduler changed it first."""
        try:
            res = self.es.update(
                index=self.index, id=hit["_id"], doc=fields,
                if_seq_no=hit["_seq_no"], if_primary_term=hit["_primary_term"],
            )
        except ConflictError:
            return None
        return {**hit, "_seq_no": res["_seq_no"], "_primary_term": res["_primary_term"]}

    def _fail(self, hit: dict[str, Any], error: str, now: datetime) -> None:
        attempts = int(hit["_source"].get("attempts") or 0) + 1
        self._update(hit, {
            "status": "pending",
            "attempts": attempts,
            "last_error": error,
            "next_attempt": iso(now + backoff(attempts)),
            "lease_until": None,
            "updated_at": iso(now),
        })

    def deliver(self, smtp: Smtp, now: datetime, *, tls_context: ssl.SSLContext | None = None) -> DeliveryReport:
        """Send every message due at `now` (never tried, or its retry is due), oldest first; see the module
        docstring for the guarantees."""
        report = DeliveryReport()
        due = self._search(
            {"bool": {"should": [
                {"bool": {"filter": [{"term": {"status": "pending"}}, {"bool": {"should": [
                    {"term": {"attempts": 0}},  # never tried: due at once, even if queued for a later instant
                    {"range": {"next_attempt": {"lte": iso(now)}}},
                ]}}]}},
                {"bool": {"filter": [{"term": {"status": "sending"}}, {"range": {"lease_until": {"lte": iso(now)}}}]}},
            ], "minimum_should_match": 1}},
            sort=[{"next_attempt": "asc"}, {"message_id": "asc"}],
            size=BATCH,
        )
        down: SendError | None = None  # once the server is unreachable, the rest of the batch fails the same way
        for hit in due:
            if down is not None:
                self._fail(hit, str(down), now)
                report.failed += 1
                continue
            claimed = self._update(hit, {"status": "sending", "lease_until": iso(now + LEASE), "updated_at": iso(now)})
            if claimed is None:
                continue  # another scheduler has it
            raw = base64.b64decode(hit["_source"]["raw"])
            try:
                send(cast(EmailMessage, message_from_bytes(raw, policy=policy.default)), smtp, tls_context=tls_context)
            except SendError as exc:
                log.warning("outbox: %s not sent: %s", hit["_id"], exc)
                self._fail(claimed, str(exc), now)
                report.failed += 1
                report.errors.append(f"{hit['_id']}: {exc}")
                if exc.affects_all:
                    down = exc
                continue
            marked = self._update(claimed, {"status": "sent", "sent_at": iso(now), "lease_until": None,
                                            "last_error": None, "updated_at": iso(now)})
            if marked is None:
                log.warning("outbox: %s was sent but changed meanwhile; its status may be stale", hit["_id"])
            report.sent += 1
        self.es.indices.refresh(index=self.index)
        report.pending = int(self.es.count(index=self.index, query=_UNSENT)["count"])
        return report

    # -- inspection --------------------------------------------------------------------------------------

    def unsent(self) -> int:
        """How many messages the SMTP server has not accepted yet (pending or being sent)."""
        if not self.es.indices.exists(index=self.index):
            return 0
        self.es.indices.refresh(index=self.index)
        return int(self.es.count(index=self.index, query=_UNSENT)["count"])

    def pending(self) -> builtins.list[OutboxItem]:
        """Messages not yet accepted by the SMTP server (pending or being sent), next due first."""
        hits = self._search(_UNSENT,
                            sort=[{"next_attempt": "asc"}, {"message_id": "asc"}], size=10_000)
        return [OutboxItem.from_hit(h) for h in hits]

    def get(self, message_id: str) -> OutboxItem | None:
        hits = self._search({"ids": {"values": [message_id]}}, sort=[], size=1)
        return OutboxItem.from_hit(hits[0]) if hits else None

    def list(self, *, status: str | None = None, limit: int = 100) -> builtins.list[OutboxItem]:
        """The newest messages first, optionally of one status."""
        query = {"term": {"status": status}} if status else {"match_all": {}}
        hits = self._search(query, sort=[{"at": "desc"}, {"message_id": "desc"}], size=limit)
        return [OutboxItem.from_hit(h) for h in hits]

    # -- digest ------------------------------------------------------------------------------------------

    def collect_digest(self, now: datetime) -> builtins.list[OutboxItem]:
        """The held digest items queued by `now`, oldest first, that no queued digest lists yet."""
        held = self._search(
            {"bool": {"filter": [{"term": {"status": "held"}}, {"range": {"at": {"lte": iso(now)}}}]}},
            sort=[{"at": "asc"}, {"message_id": "asc"}], size=10_000,
        )
        if not held:
            return []
        ids = [h["_id"] for h in held]
        digests = self._search(
            {"bool": {"filter": [{"term": {"kind": "digest"}}, {"terms": {"digest_items": ids}}]}},
            sort=[{"at": "asc"}], size=10_000,
        )
        listed: dict[str, str] = {}
        for d in digests:
            for item in d["_source"].get("digest_items") or []:
                listed.setdefault(item, d["_id"])
        for item_id, digest in listed.items():
            if item_id in ids:
                self.mark_digested([item_id], digest, now)  # a digest queued before a crash: finish its marking
        return [OutboxItem.from_hit(h) for h in held if h["_id"] not in listed]

    def mark_digested(self, message_ids: Sequence[str], digest_id: str, now: datetime) -> None:
        for message_id in message_ids:
            self.es.update(index=self.index, id=message_id, doc={
                "status": "digested", "digest_id": digest_id, "digested_at": iso(now), "updated_at": iso(now),
            })

    def enqueue_digest(self, digest_id: str, message: EmailMessage, items: Sequence[OutboxItem], now: datetime) -> bool:
        """Queue a digest composed from `items` (see compose_digest, digest_id) and mark them digested."""
        ids = [i.message_id for i in items]
        incidents = sorted({i for item in items for i in item.incident_ids})
        severity = max((i.severity for i in items), key=lambda s: RANK.get(s, 0), default="notice")
        queued = self.enqueue(digest_id, message, incident_id=" ".join(incidents), kind="digest", severity=severity,
                              at=now, digest_items=ids)
        self.mark_digested(ids, digest_id, now)
        return queued
