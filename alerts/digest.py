"""The opt-in digest: notices are held in the outbox as they open and go out together, one email per period.

Urgent and crisis incidents never wait for a digest; they are mailed when they open (alerts.engine)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from alerts.email.compose import compose_digest, digest_id
from alerts.email.outbox import Outbox, OutboxItem
from alerts.incidents import EsIncidentStore
from alerts.links import email_links
from alerts.model import IncidentReport
from alerts.report import build_report, recipients_for
from core import clock
from core.config import Config


def flush(cfg: Config[Any], es: Elasticsearch, at: datetime) -> int:
    """Queue one digest per recipient of every notice held for them (re-read as of `at`) and deliver the outbox;
    returns emails sent. Each held item is one recipient's copy of a notice (alerts.engine), so grouping the items
    by recipient gives each person exactly the notices routed to them."""
    prefix = cfg.elasticsearch.index_prefix
    outbox = Outbox(es, prefix)
    items = outbox.collect_digest(at)
    if items:
        store = EsIncidentStore(es, prefix)
        reports: dict[str, IncidentReport] = {}
        by_person: dict[str, list[OutboxItem]] = {}
        for item in items:
            for address in item.recipients or ("",):
                by_person.setdefault(address, []).append(item)
        for address, own in by_person.items():
            ids = list(dict.fromkeys(i for item in own for i in item.incident_ids))
            mine: list[IncidentReport] = []
            reasons: list[str] = []
            for incident_id in ids:
                inc = store.get(incident_id)
                if inc is None:
                    continue
                if incident_id not in reports:
                    reports[incident_id] = build_report(es, cfg, inc, "opened", at)
                mine.append(reports[incident_id])
                for person in recipients_for(cfg, "notice", brand=inc.brand, category=inc.category):
                    if person.address == address and person.reason not in reasons:
                        reasons.append(person.reason)
            if not mine or not address:
                continue
            did = digest_id(item.message_id for item in own)
            links = {r.incident.incident_id: lk for r in mine
                     if (lk := email_links(cfg, r.incident.incident_id, address, at)) is not None}
            message = compose_digest(mine, sender=cfg.smtp.sender, recipients=[address], at=at, message_id=did,
                                     reason="; ".join(reasons) or None, links=links)
            outbox.enqueue_digest(did, message, own, at)
    return outbox.deliver(cfg.smtp, clock.now()).sent
