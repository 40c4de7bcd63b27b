"""The opt-in digest: notices are held in the outbox as they open and go out together, one email per period.

Urgent and crisis incidents never wait for a digest; they are mailed when they open (alerts.engine)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from alerts.email.compose import compose_digest, digest_id
from alerts.email.outbox import Outbox
from alerts.incidents import EsIncidentStore
from alerts.model import IncidentReport
from alerts.report import build_report, recipients_for
from core import clock
from core.config import Config


def flush(cfg: Config[Any], es: Elasticsearch, at: datetime) -> int:
    """Queue one digest of every held notice (re-read as of `at`) and deliver the outbox; returns emails sent."""
    prefix = cfg.elasticsearch.index_prefix
    outbox = Outbox(es, prefix)
    items = outbox.collect_digest(at)
    if items:
        store = EsIncidentStore(es, prefix)
        reports: list[IncidentReport] = []
        for incident_id in dict.fromkeys(i for item in items for i in item.incident_ids):
            inc = store.get(incident_id)
            if inc is not None:
                reports.append(build_report(es, cfg, inc, "opened", at))
        to = recipients_for(cfg, "notice")
        if reports and to:
            did = digest_id(item.message_id for item in items)
            message = compose_digest(reports, sender=cfg.smtp.sender, recipients=to, at=at, message_id=did)
            outbox.enqueue_digest(did, message, items, at)
    return outbox.deliver(cfg.smtp, clock.now()).sent
