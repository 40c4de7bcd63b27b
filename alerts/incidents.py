"""The incident book: matches about the same complaint become one incident with a lifecycle.

- A match joins an open incident about the same complaint: the same cluster of copies, or the same brand and
  complaint category (a brand-wide match without a category joins the brand's open complaint incident, because a
  viral complaint also raises the brand's negative volume and that is not a second complaint).
- One incident emails once when it opens, and once more at most, when its severity first rises (escalation).
  Later matches update it silently. It resolves after `quiet` without a match.
- State lives in a store: Elasticsearch (`<prefix>-incidents`) for the service, memory for backtests, so a
  restarted scheduler neither forgets nor repeats, and a backtest never touches the real incidents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from elasticsearch import Elasticsearch, NotFoundError

from alerts.model import (
    INCIDENT_PROPERTIES,
    RANK,
    Action,
    Incident,
    Match,
    Severity,
    TimelineEntry,
    higher,
    incident_id,
    incidents_index,
)
from store.state import ensure_index

TIMELINE_LIMIT = 200  # entries kept per incident: the first ones and the most recent
ACTIVE = ("open", "acknowledged")


class IncidentStore(Protocol):
    def active(self) -> list[Incident]: ...
    def save(self, incidents: Sequence[Incident]) -> None: ...
    def get(self, incident_id: str) -> Incident | None: ...
    def search(self, status: str | None = None, limit: int = 50) -> list[Incident]: ...
    def update(self, incident_id: str, change: Callable[[Incident], None]) -> Incident | None: ...


class MemoryIncidentStore:
    """For backtests: same behaviour, nothing persisted."""

    def __init__(self) -> None:
        self._by_id: dict[str, Incident] = {}

    def active(self) -> list[Incident]:
        return [i for i in self._by_id.values() if i.status in ACTIVE]

    def save(self, incidents: Sequence[Incident]) -> None:
        for i in incidents:
            self._by_id[i.incident_id] = i

    def get(self, incident_id: str) -> Incident | None:
        return self._by_id.get(incident_id)

    def search(self, status: str | None = None, limit: int = 50) -> list[Incident]:
        found = [i for i in self._by_id.values() if status is None or i.status == status]
        return sorted(found, key=lambda i: i.opened_at, reverse=True)[:limit]

    def update(self, incident_id: str, change: Callable[[Incident], None]) -> Incident | None:
        inc = self._by_id.get(incident_id)
        if inc is not None:
            change(inc)
        return inc


class IncidentConflict(RuntimeError):
    """An incident kept changing under us for every retry (should not happen outside a storm of writers)."""


def merge_people(ours: Incident, stored: Incident) -> None:
    """Keep what people did (stored by the console or CLI meanwhile) in the engine's newer version of an incident:
    its acknowledgement, a resolution by hand and every note. The engine's own fields (matches, severity,
    notifications) are its to write."""
    seen = {(a.kind, a.by, a.at, a.text) for a in ours.actions}
    ours.actions = sorted([*ours.actions, *(a for a in stored.actions if (a.kind, a.by, a.at, a.text) not in seen)],
                          key=lambda a: a.at)
    if stored.acknowledged_at and not ours.acknowledged_at:
        ours.acknowledged_at, ours.acknowledged_by = stored.acknowledged_at, stored.acknowledged_by
        if ours.status == "open":
            ours.status = "acknowledged"
    if stored.status == "resolved" and stored.resolved_by and ours.status != "resolved":
        ours.status = "resolved"
        ours.resolved_at, ours.resolved_by, ours.resolve_reason = (
            stored.resolved_at, stored.resolved_by, stored.resolve_reason)
    ours.updated_at = max(ours.updated_at, stored.updated_at)


class EsIncidentStore:
    """`<prefix>-incidents`: one document per incident, id = incident id, refreshed on write so the next
    evaluation (maybe another process) sees it.

    Writes are optimistic (if_seq_no/if_primary_term of the version read): the engine evaluating and a person
    acknowledging in the console at the same moment cannot overwrite each other. The engine's save keeps what
    people did meanwhile (merge_people); a person's change is re-applied to the newest version (update)."""

    RETRIES = 8

    def __init__(self, es: Elasticsearch, prefix: str) -> None:
        self.es = es
        self.index = incidents_index(prefix)
        self._versions: dict[str, tuple[int, int]] = {}  # incident id -> (seq_no, primary_term) last read

    def _ensure(self) -> None:
        ensure_index(self.es, self.index, INCIDENT_PROPERTIES)

    def _remember(self, hit: Mapping[str, Any]) -> Incident:
        if "_seq_no" in hit:
            self._versions[hit["_id"]] = (int(hit["_seq_no"]), int(hit["_primary_term"]))
        return Incident.from_document(hit["_source"])

    def active(self) -> list[Incident]:
        return self._query({"terms": {"status": list(ACTIVE)}}, 10_000)

    def _write(self, incidents: Sequence[Incident]) -> list[Incident]:
        """One bulk of conditional writes; the incidents whose stored version changed since read (409)."""
        self._ensure()
        ops: list[dict[str, object]] = []
        for i in incidents:
            version = self._versions.get(i.incident_id)
            if version is None:
                ops.append({"create": {"_index": self.index, "_id": i.incident_id}})
            else:
                ops.append({"index": {"_index": self.index, "_id": i.incident_id, "if_seq_no": version[0],
                                      "if_primary_term": version[1]}})
            ops.append(i.to_document())
        res = self.es.bulk(operations=ops, refresh="wait_for")
        conflicts: list[Incident] = []
        failed: list[object] = []
        for item, inc in zip(res["items"], incidents, strict=True):
            op = item.get("index") or item.get("create") or {}
            if op.get("status") == 409:
                conflicts.append(inc)
            elif op.get("error"):
                failed.append(op["error"])
            else:
                self._versions[inc.incident_id] = (int(op["_seq_no"]), int(op["_primary_term"]))
        if failed:
            raise RuntimeError(f"saving incidents to {self.index} failed: {failed[:3]}")
        return conflicts

    def save(self, incidents: Sequence[Incident]) -> None:
        pending = list(incidents)
        for _ in range(self.RETRIES):
            if not pending:
                return
            pending = self._write(pending)
            for inc in pending:
                stored = self.get(inc.incident_id)
                if stored is not None:
                    merge_people(inc, stored)
        if pending:
            raise IncidentConflict(f"incidents kept changing while saving: {[i.incident_id for i in pending]}")

    def update(self, incident_id: str, change: Callable[[Incident], None]) -> Incident | None:
        """Apply `change` to the newest stored version and save it only if nobody wrote in between (else again);
        None when there is no such incident. `change` may raise (e.g. already resolved): nothing is written."""
        for _ in range(self.RETRIES):
            inc = self.get(incident_id)
            if inc is None:
                return None
            change(inc)
            if not self._write([inc]):
                return inc
        raise IncidentConflict(f"incident {incident_id} kept changing; try again")

    def get(self, incident_id: str) -> Incident | None:
        try:
            doc = self.es.get(index=self.index, id=incident_id)
        except NotFoundError:
            return None
        return self._remember(doc.body)

    def search(self, status: str | None = None, limit: int = 50) -> list[Incident]:
        query: dict[str, object] = {"term": {"status": status}} if status else {"match_all": {}}
        return self._query(query, limit)

    def find(self, query: Mapping[str, Any], limit: int = 500) -> list[Incident]:
        """Incidents matching an Elasticsearch query (the console's filters), newest first."""
        return self._query(dict(query), limit)

    def _query(self, query: dict[str, object], size: int) -> list[Incident]:
        try:
            res = self.es.search(
                index=self.index, query=query, size=size, sort=[{"opened_at": {"order": "desc"}}],
                seq_no_primary_term=True,
            )
        except NotFoundError:
            return []
        return [self._remember(h) for h in res["hits"]["hits"]]


@dataclass
class Changes:
    """What one evaluation did to the book; `opened` and `escalated` are the ones to email."""

    opened: list[Incident] = field(default_factory=list)
    escalated: list[tuple[Incident, str]] = field(default_factory=list)  # (incident, previous severity)
    updated: list[Incident] = field(default_factory=list)
    resolved: list[Incident] = field(default_factory=list)
    # where each match went: (match, the incident it opened or joined), so a person can be told why a match
    # emailed nobody (it joined an incident that had emailed already)
    placed: list[tuple[Match, Incident]] = field(default_factory=list)

    @property
    def changed(self) -> list[Incident]:
        seen: dict[str, Incident] = {}
        for i in [*self.opened, *(e for e, _ in self.escalated), *self.updated, *self.resolved]:
            seen[i.incident_id] = i
        return list(seen.values())


def _is_complaint(i: Incident) -> bool:
    return i.source_key is None


def find_incident(match: Match, active: Iterable[Incident]) -> Incident | None:
    """The active incident this match is about, if any (most specific first)."""
    candidates = [i for i in active if i.status in ACTIVE]
    if match.source_key:
        return next((i for i in candidates if i.source_key == match.source_key), None)
    if match.cluster_id:
        same = [i for i in candidates if match.cluster_id in i.cluster_ids]
        if same:
            return same[0]
    if match.term and not match.brand:
        return next((i for i in candidates if i.term == match.term), None)
    brand = [i for i in candidates if _is_complaint(i) and i.brand == match.brand]
    if match.category:
        exact = [i for i in brand if i.category == match.category]
        if exact:
            return _strongest(exact)
        # a cluster with its own category stays its own complaint unless the brand's incident is category-wide
        loose = [i for i in brand if i.category is None and not (match.cluster_id and i.cluster_ids)]
        return _strongest(loose) if loose else None
    if match.cluster_id:
        # a cluster without a category joins a brand incident only if that one has no cluster of its own
        loose = [i for i in brand if not i.cluster_ids]
        return _strongest(loose) if loose else None
    return _strongest(brand) if brand else None


TELLING = {"viral_spread": 4, "new_term": 3, "negative_surge": 2, "threshold": 1, "crawler_health": 0, "rule_error": 0}


def _telling(match: Match) -> tuple[int, int, int]:
    return (int(match.cluster_id is not None), TELLING[match.rule_type], RANK[match.severity])


def _telling_incident(inc: Incident) -> tuple[int, int, int]:
    if not inc.primary_rule_type:
        return (-1, -1, -1)
    return (int(bool(inc.cluster_ids)), TELLING[inc.primary_rule_type], RANK[inc.severity])


def _strongest(incidents: list[Incident]) -> Incident:
    return max(incidents, key=lambda i: (RANK[i.severity], i.matches, i.opened_at))


def _open(match: Match) -> Incident:
    at = match.at
    inc = Incident(
        incident_id=incident_id(match.subject_key, at),
        key=match.subject_key,
        status="open",
        severity=match.severity,
        opened_at=at,
        updated_at=at,
        last_match_at=at,
        summary=match.summary,
        brand=match.brand,
        category=match.category,
        source_key=match.source_key,
        term=match.term,
        query=match.query,
    )
    return inc


def _absorb(inc: Incident, match: Match) -> None:
    inc.matches += 1
    inc.last_match_at = max(inc.last_match_at, match.at)
    inc.updated_at = max(inc.updated_at, match.at)
    if match.cluster_id and match.cluster_id not in inc.cluster_ids:
        inc.cluster_ids.append(match.cluster_id)
    if match.rule not in inc.rules:
        inc.rules.append(match.rule)
    if match.rule_type not in inc.rule_types:
        inc.rule_types.append(match.rule_type)
    if inc.category is None and match.category and not inc.source_key:
        inc.category = match.category
    if _telling(match)[:2] >= _telling_incident(inc)[:2]:
        # the most telling match shows: a spreading post's copies over a new term over a brand-wide count
        if match.rule_type != inc.primary_rule_type:
            inc.evidence = {}
        inc.primary_rule_type = match.rule_type
        inc.summary = match.summary
        if match.mention_ids:
            inc.mention_ids = list(match.mention_ids[:20])
        if match.query:
            inc.query = match.query
        for k, v in match.evidence.items():
            inc.evidence[k] = float(v)
            if not k.startswith("peak_"):
                inc.evidence[f"peak_{k}"] = max(float(v), inc.evidence.get(f"peak_{k}", float(v)))
    last = inc.timeline[-1] if inc.timeline else None
    if last is None or last.rule != match.rule or last.severity != match.severity or last.summary != match.summary:
        inc.timeline.append(TimelineEntry(match.at, match.rule, match.severity, match.summary))
        if len(inc.timeline) > TIMELINE_LIMIT:
            inc.timeline = [inc.timeline[0], *inc.timeline[-(TIMELINE_LIMIT - 1) :]]


def apply(matches: Sequence[Match], active: Sequence[Incident], at: datetime, quiet: timedelta) -> Changes:
    """Fold one evaluation's matches into the active incidents (mutated in place), then resolve the quiet ones."""
    changes = Changes()
    book = list(active)
    prior = {i.incident_id: i.severity for i in book}
    joined: dict[str, list[Match]] = {}
    # strongest first: the most severe match about a complaint opens its incident, the rest join it
    for match in sorted(matches, key=lambda m: (-RANK[m.severity], m.cluster_id is None, m.rule)):
        inc = find_incident(match, book)
        if inc is None:
            inc = _open(match)
            book.append(inc)
            changes.opened.append(inc)
        joined.setdefault(inc.incident_id, []).append(match)
        changes.placed.append((match, inc))
    for inc in book:
        # least telling first, so the most telling match of this evaluation is the one the incident shows
        for match in sorted(joined.get(inc.incident_id, ()), key=_telling):
            _absorb(inc, match)
            inc.severity = higher(inc.severity, match.severity)
    opened_ids = {i.incident_id for i in changes.opened}
    for inc in book:
        if inc.incident_id in opened_ids:
            continue
        was = prior.get(inc.incident_id)
        if was is None:
            continue
        before: Severity = was
        if RANK[inc.severity] > RANK[before] and not any(n.kind == "escalated" for n in inc.notifications):
            changes.escalated.append((inc, before))
        elif inc.last_match_at == at or inc.severity != before:
            changes.updated.append(inc)
        elif inc.last_match_at <= at - quiet:
            inc.status = "resolved"
            inc.resolved_at = at
            inc.resolve_reason = f"quiet for {int(quiet.total_seconds() // 60)} minutes"
            inc.updated_at = at
            changes.resolved.append(inc)
    return changes


def acknowledge(inc: Incident, by: str, at: datetime, via: str = "cli") -> None:
    """Someone is on it (it still escalates and updates). Acknowledging twice keeps the first who and when."""
    if inc.status == "resolved":
        raise ValueError(f"incident {inc.incident_id} is already resolved")
    if inc.acknowledged_at is not None:
        return
    inc.status = "acknowledged"
    inc.acknowledged_at = at
    inc.acknowledged_by = by
    inc.updated_at = at
    inc.actions.append(Action("acknowledged", by, at, via=via))


def resolve(inc: Incident, by: str, at: datetime, via: str = "cli") -> None:
    if inc.status == "resolved":
        raise ValueError(f"incident {inc.incident_id} is already resolved")
    inc.status = "resolved"
    inc.resolved_at = at
    inc.resolved_by = by
    inc.resolve_reason = f"resolved by {by}"
    inc.updated_at = at
    inc.actions.append(Action("resolved", by, at, via=via))


NOTE_MAX = 4000  # characters


def add_note(inc: Incident, by: str, at: datetime, text: str, via: str = "console") -> None:
    """A note on the timeline (what was done, who was called). Notes stay possible after resolving."""
    body = text.strip()
    if not body:
        raise ValueError("the note is empty")
    if len(body) > NOTE_MAX:
        raise ValueError(f"the note is longer than {NOTE_MAX} characters")
    inc.actions.append(Action("note", by, at, text=body, via=via))
    inc.updated_at = max(inc.updated_at, at)


TRANSITIONS: dict[str, Callable[..., None]] = {"ack": acknowledge, "resolve": resolve}


def act(store: IncidentStore, incident_id: str, action: str, by: str, at: datetime, *, via: str,
        text: str = "") -> Incident:
    """The one way a person changes an incident, for the CLI (`alerts ack/resolve`) and the console alike:
    applied to the newest stored version and saved only if nobody wrote in between. LookupError for an unknown
    incident, ValueError for a change that does not apply (already resolved, an empty note)."""
    def change(inc: Incident) -> None:
        if action == "note":
            add_note(inc, by, at, text, via=via)
        elif action in TRANSITIONS:
            TRANSITIONS[action](inc, by, at, via=via)
        else:
            raise ValueError(f"unknown action {action!r}")

    inc = store.update(incident_id, change)
    if inc is None:
        raise LookupError(f"no incident {incident_id!r}")
    return inc
