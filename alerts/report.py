"""What an incident email shows and who receives it, for the engine's emails and the digest alike.

`build_report` reads the index as of an instant: the complaint's first post and top posts, the last 24 hours per
hour, distinct authors and platforms; `recipients_for` picks who can act on it (by brand, complaint category and
severity, each level falling back to the next broader one) and says why each of them gets it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from elasticsearch import Elasticsearch, NotFoundError

from alerts.email.compose import kibana_discover_url
from alerts.model import RANK, SEVERITIES, Incident, IncidentReport, Post, Severity
from alerts.rules.common import AUTHORS
from core.config import Config, Route
from core.times import iso, parse_time
from store import mapping


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


def _seen_by(at: datetime) -> dict[str, Any]:
    """As the rules see the index: a mention exists from its first crawl (first_seen_at) on."""
    return {"range": {"first_seen_at": {"lte": iso(at)}}}


def _scope(inc: Incident, since: datetime, at: datetime) -> dict[str, Any]:
    """The incident's mentions published in [since, at] and seen by `at`: its query, else its clusters, else its
    top posts."""
    if inc.query:
        what: dict[str, Any] = {"query_string": {"query": inc.query, "default_operator": "AND"}}
    elif inc.cluster_ids:
        what = {"terms": {"cluster_id": inc.cluster_ids}}
    else:
        what = {"ids": {"values": inc.mention_ids or ["-"]}}
    return {"bool": {"filter": [what, {"range": {"published_at": {"gte": iso(since), "lte": iso(at)}}}, _seen_by(at)]}}


def build_report(
    es: Elasticsearch, cfg: Config[Any], inc: Incident, kind: Literal["opened", "escalated"], at: datetime,
    previous: Severity | None = None,
) -> IncidentReport:
    """What the email shows, read from the index as of `at`."""
    prefix = cfg.elasticsearch.index_prefix
    alias = mapping.alias(prefix)
    day = at - timedelta(hours=24)
    top: list[Post] = []
    if inc.mention_ids:
        res = es.search(
            index=alias, query={"bool": {"filter": [{"ids": {"values": inc.mention_ids[:10]}}, _seen_by(at)]}},
            size=10, source_includes=_POST_FIELDS,
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
            "authors": AUTHORS,  # counted as the rules count them
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
                                       {"range": {"published_at": {"lte": iso(at)}}}, _seen_by(at)]}},
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
        zone=cfg.zone,
    )


def _ids_query(inc: Incident) -> str:
    if inc.cluster_ids:
        return " OR ".join(f"cluster_id:{c}" for c in inc.cluster_ids)
    return " OR ".join(f"mention_id:{m}" for m in inc.mention_ids[:20])


@dataclass(frozen=True)
class Recipient:
    """One address an incident email goes to, and why (shown in the email's footer)."""

    address: str
    reason: str


def _route_label(route: Route, tier: str | None = None) -> str:
    """Why a route's recipients got the email, e.g. "logistics lead for 小米, urgent or above"."""
    if tier is not None:
        return f"{tier} recipient (recipients.{tier})"
    who = route.role.strip() or (f"{route.category} recipient" if route.category else "alert recipient")
    if route.brand:
        who += f" for {route.brand}"
    if route.category and route.role.strip() and route.category not in route.role:
        who += f", {route.category}"
    if route.severity:
        who += f", {route.severity}" + ("" if route.severity == "crisis" else " or above")
    return who


def _specificity(route: Route) -> tuple[int, int, int]:
    """Category before brand before severity (the people who can act are per category); a higher tier floor
    before a lower one (a crisis reaches the crisis list when there is one, else the next lower tier's)."""
    return (int(route.category is not None), int(route.brand is not None),
            RANK[route.severity] if route.severity else -1)


def recipients_for(
    cfg: Config[Any], severity: Severity, *, brand: str | None = None, category: str | None = None
) -> tuple[Recipient, ...]:
    """Who receives an incident of this brand, complaint category and severity, and why.

    Every route that matches (each key it sets equals the incident's, its severity at or below the incident's)
    competes; the most specific ones win: brand+category+severity, brand+category, category+severity, category,
    brand+severity, brand, then the severity-only tiers (`recipients: {notice, urgent, crisis}`), then
    `recipients.default` (GROUNDSWELL_ALERT_TO). A person in several winning routes gets one email with every
    reason."""
    rec = cfg.recipients
    candidates: list[tuple[Route, str]] = [(r, _route_label(r)) for r in rec.routes]
    for tier in SEVERITIES:
        addresses = getattr(rec, tier)
        if addresses:
            route = Route(to=addresses, severity=tier)
            candidates.append((route, _route_label(route, tier)))
    matching = [
        (route, label) for route, label in candidates
        if (route.brand is None or route.brand == brand)
        and (route.category is None or route.category == category)
        and (route.severity is None or RANK[route.severity] <= RANK[severity])
    ]
    if not matching:
        return tuple(Recipient(a, "default recipient (no more specific route)") for a in dict.fromkeys(rec.default))
    best = max(_specificity(route) for route, _ in matching)
    reasons: dict[str, list[str]] = {}
    for route, label in matching:
        if _specificity(route) == best:
            for address in route.to:
                if label not in reasons.setdefault(address, []):
                    reasons[address].append(label)
    return tuple(Recipient(address, "; ".join(labels)) for address, labels in reasons.items())


def mentions_for(es: Elasticsearch, cfg: Config[Any], ids: Sequence[str]) -> list[Post]:
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
