"""One evaluation of every alert rule at an instant: matches -> incidents -> emails (through the outbox).

The scheduler calls `run_once` every minute; `groundswell alerts run --at` calls it for any instant, and
`backtest` replays a period against an in-memory incident book so real incidents and inboxes stay untouched.
Order matters for at-least-once mail: an email is queued in the outbox (idempotent by incident and kind)
before the incident records it, so a crash in between can repeat a queue attempt but never lose the email.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from elasticsearch import Elasticsearch, NotFoundError

from alerts import incidents as book
from alerts.model import Incident, IncidentReport, Match, Notification, Post, Severity, iso, parse_time
from groundswell import clock
from groundswell.config import Config
from groundswell.store import mapping

log = logging.getLogger(__name__)

Matcher = Callable[["Config", Elasticsearch, datetime], tuple[list[Match], list[str]]]


@dataclass
class RunReport:
    at: datetime
    matches: list[Match] = field(default_factory=list)
    opened: list[Incident] = field(default_factory=list)
    escalated: list[Incident] = field(default_factory=list)
    resolved: list[Incident] = field(default_factory=list)
    updated: list[Incident] = field(default_factory=list)
    emails_queued: int = 0
    emails_sent: int = 0
    emails_pending: int = 0
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "matches": [
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


def evaluate(cfg: Config, es: Elasticsearch, at: datetime) -> tuple[list[Match], list[str]]:
    """Every effective rule (defaults + configured) at `at`; a failing rule is reported, the others still run."""
    from alerts.rules import context_for, evaluate_all
    from alerts.rules.defaults import effective_rules

    prefix = cfg.elasticsearch.index_prefix
    ctx = context_for(cfg, es, prefix, at)
    errors: list[str] = []
    matches = evaluate_all(effective_rules(cfg), ctx, errors)
    return matches, errors


# -- the email's facts ---------------------------------------------------------------------------------------


def _post(src: dict[str, Any]) -> Post:
    return Post(
        mention_id=src.get("mention_id") or "",
        platform=src.get("platform") or "",
        text=src.get("text") or "",
        title=src.get("title"),
        author=src.get("author"),
        author_followers=src.get("author_followers"),
        url=src.get("url"),
        published_at=parse_time(src.get("published_at")) or datetime.fromtimestamp(0, UTC),
        likes=int(src.get("likes") or 0),
        reposts=int(src.get("reposts") or 0),
        comments=int(src.get("comments") or 0),
        sentiment=(src.get("sentiment") or {}).get("score"),
    )


_POST_FIELDS = [
    "mention_id", "platform", "text", "title", "author", "author_followers", "url", "published_at",
    "likes", "reposts", "comments", "sentiment",
]


def _scope(inc: Incident, since: datetime, at: datetime) -> dict[str, Any]:
    """The incident's mentions published in [since, at]: its query, else its clusters, else its top posts."""
    if inc.query:
        what: dict[str, Any] = {"query_string": {"query": inc.query, "default_operator": "AND"}}
    elif inc.cluster_ids:
        what = {"terms": {"cluster_id": inc.cluster_ids}}
    else:
        what = {"ids": {"values": inc.mention_ids or ["-"]}}
    return {"bool": {"filter": [what, {"range": {"published_at": {"gte": iso(since), "lte": iso(at)}}}]}}


def build_report(
    es: Elasticsearch, cfg: Config, inc: Incident, kind: Literal["opened", "escalated"], at: datetime,
    previous: Severity | None = None,
) -> IncidentReport:
    """What the email shows, read from the index as of `at`."""
    from alerts.email.compose import kibana_discover_url

    prefix = cfg.elasticsearch.index_prefix
    alias = mapping.alias(prefix)
    day = at - timedelta(hours=24)
    top: list[Post] = []
    if inc.mention_ids:
        res = es.search(
            index=alias, query={"ids": {"values": inc.mention_ids[:10]}}, size=10, source_includes=_POST_FIELDS
        )
        by_id = {h["_id"]: _post(h["_source"]) for h in res["hits"]["hits"]}
        top = [by_id[i] for i in inc.mention_ids[:10] if i in by_id]
    scope = _scope(inc, day, at)
    res = es.search(
        index=alias,
        query=scope,
        size=5,
        sort=[{"engagement": "desc"}, {"published_at": "asc"}],
        source_includes=_POST_FIELDS,
        aggs={
            "hourly": {
                "date_histogram": {
                    "field": "published_at", "fixed_interval": "1h", "min_doc_count": 0,
                    "extended_bounds": {"min": iso(day), "max": iso(at)},
                }
            },
            "authors": {"cardinality": {"field": "author_id"}},
            "platforms": {"terms": {"field": "platform", "size": 10}},
        },
        track_total_hits=True,
    )
    if not top:
        top = [_post(h["_source"]) for h in res["hits"]["hits"]]
    # who started it: the earliest post of the complaint's copies; for a brand-wide count, its most telling post
    first_post = top[0] if top else None
    if inc.cluster_ids:
        first = es.search(
            index=alias,
            query={"bool": {"filter": [{"terms": {"cluster_id": inc.cluster_ids}},
                                       {"range": {"published_at": {"lte": iso(at)}}}]}},
            size=1, sort=[{"published_at": "asc"}], source_includes=_POST_FIELDS,
        )["hits"]["hits"]
        first_post = _post(first[0]["_source"]) if first else first_post
    aggs = res.get("aggregations") or {}
    hourly = tuple(
        (parse_time(b["key_as_string"]) or day, int(b["doc_count"]))
        for b in aggs.get("hourly", {}).get("buckets", [])
    )
    kibana = (
        kibana_discover_url(cfg.alerting.kibana_url, prefix, inc.query or _ids_query(inc), day, at)
        if cfg.alerting.kibana_url
        else None
    )
    return IncidentReport(
        incident=inc,
        kind=kind,
        at=at,
        first_post=first_post,
        top_posts=tuple(top[:5]),
        hourly=hourly,
        mentions=int(res["hits"]["total"]["value"]),
        authors=int(aggs.get("authors", {}).get("value") or 0),
        platforms=tuple(b["key"] for b in aggs.get("platforms", {}).get("buckets", [])),
        kibana_url=kibana,
        previous_severity=previous,
    )


def _ids_query(inc: Incident) -> str:
    if inc.cluster_ids:
        return " OR ".join(f"cluster_id:{c}" for c in inc.cluster_ids)
    return " OR ".join(f"mention_id:{m}" for m in inc.mention_ids[:20])


def recipients_for(cfg: Config, severity: Severity) -> tuple[str, ...]:
    """The tier's own list, else the next lower tier's: a crisis always reaches at least the urgent list."""
    tiers = {"notice": cfg.recipients.notice, "urgent": cfg.recipients.urgent, "crisis": cfg.recipients.crisis}
    order: list[Severity] = ["crisis", "urgent", "notice"]
    for s in order[order.index(severity) :]:
        if tiers[s]:
            return tiers[s]
    return ()


# -- one evaluation ------------------------------------------------------------------------------------------


def _notify(
    es: Elasticsearch, cfg: Config, inc: Incident, kind: Literal["opened", "escalated"], at: datetime,
    previous: Severity | None, report: RunReport,
) -> None:
    from alerts.email.compose import compose, notification_id
    from alerts.email.outbox import Outbox

    message_id = notification_id(inc.incident_id, kind, inc.severity)
    digest = cfg.alerting.digest_minutes is not None and inc.severity == "notice" and kind == "opened"
    to = recipients_for(cfg, "notice" if digest else inc.severity)
    if not to:
        report.errors.append(
            f"incident {inc.incident_id} ({inc.severity}): no recipients configured "
            "(recipients: in the config, or GROUNDSWELL_ALERT_TO); nothing emailed"
        )
        return
    facts = build_report(es, cfg, inc, kind, at, previous)
    message = compose(facts, sender=cfg.smtp.sender, recipients=to, message_id=message_id)
    outbox = Outbox(es, cfg.elasticsearch.index_prefix)
    queued = outbox.enqueue(
        message_id, message, incident_id=inc.incident_id, kind="digest-item" if digest else kind,
        severity=inc.severity, at=at,
    )
    report.emails_queued += int(queued)
    inc.notifications.append(Notification("digest" if digest else kind, inc.severity, at, message_id))


def run_once(
    cfg: Config,
    es: Elasticsearch,
    at: datetime | None = None,
    *,
    send: bool = True,
    matcher: Matcher = evaluate,
) -> RunReport:
    """Evaluate every rule as if the time were `at` (default: groundswell.clock.now()), update the incidents,
    queue the emails that are due and, if `send`, deliver everything pending in the outbox."""
    at = at or clock.now()
    report = RunReport(at=at)
    matches, errors = matcher(cfg, es, at)
    report.matches, report.errors = matches, list(errors)
    store = book.EsIncidentStore(es, cfg.elasticsearch.index_prefix)
    changes = book.apply(matches, store.active(), at, timedelta(minutes=cfg.alerting.quiet_minutes))
    for inc in changes.opened:
        _safely(report, inc, lambda inc=inc: _notify(es, cfg, inc, "opened", at, None, report))  # type: ignore[misc]
    for inc, before in changes.escalated:
        _safely(report, inc, lambda inc=inc, b=before: _notify(es, cfg, inc, "escalated", at, b, report))  # type: ignore[misc]
    store.save(changes.changed)
    report.opened = changes.opened
    report.escalated = [i for i, _ in changes.escalated]
    report.resolved = changes.resolved
    report.updated = changes.updated
    if send:
        deliver(cfg, es, report)
    return report


def _safely(report: RunReport, inc: Incident, action: Callable[[], None]) -> None:
    """A failing email (rendering, outbox) is reported; the incident is still saved, other emails still go."""
    try:
        action()
    except Exception as exc:  # reported with the incident id; evaluation goes on
        log.exception("notifying about %s failed", inc.incident_id)
        report.errors.append(f"incident {inc.incident_id}: email not queued: {type(exc).__name__}: {exc}")


def deliver(cfg: Config, es: Elasticsearch, report: RunReport) -> None:
    from alerts.email.outbox import Outbox

    result = Outbox(es, cfg.elasticsearch.index_prefix).deliver(cfg.smtp, clock.now())
    report.emails_sent += result.sent
    report.emails_pending += result.pending
    report.errors.extend(result.errors)


def flush_digest(cfg: Config, es: Elasticsearch, at: datetime | None = None) -> int:
    """Send the digest of notices collected since the last one (when alerting.digest_minutes is set)."""
    from alerts import digest

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
    cfg: Config,
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


def incident_store(cfg: Config, es: Elasticsearch) -> book.EsIncidentStore:
    return book.EsIncidentStore(es, cfg.elasticsearch.index_prefix)


def mentions_for(es: Elasticsearch, cfg: Config, ids: Sequence[str]) -> list[Post]:
    """The posts of an incident, for `alerts show`."""
    if not ids:
        return []
    try:
        res = es.search(
            index=mapping.alias(cfg.elasticsearch.index_prefix), query={"ids": {"values": list(ids)}},
            size=len(ids), source_includes=_POST_FIELDS,
        )
    except NotFoundError:
        return []
    by_id = {h["_id"]: _post(h["_source"]) for h in res["hits"]["hits"]}
    return [by_id[i] for i in ids if i in by_id]
