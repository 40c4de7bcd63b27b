"""The incident list (filters, handling times, medians, repeat complaints per category) and the incident page
(the complaint, its spread, top posts, timeline, who acted; acknowledge, resolve, notes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for

from alerts import incidents as book
from alerts.email.chart import bar_chart
from alerts.handling import group_stats, handling, timeline
from alerts.model import SEVERITIES, Incident
from alerts.report import build_report
from core import clock
from core.config import Config
from core.times import iso
from groundswell.web.auth import current_user, requires_responder
from store import mapping
from store.search import QueryError, parse_time

bp = Blueprint("incidents", __name__)
STATUSES = ("open", "acknowledged", "resolved")


def _cfg() -> Config[Any]:
    cfg: Config[Any] = current_app.config["GS_CONFIG"]
    return cfg


def _store() -> book.EsIncidentStore:
    return book.EsIncidentStore(current_app.config["GS_ES"], _cfg().elasticsearch.index_prefix)


def _categories() -> list[str]:
    from pipelines.complaints import load_taxonomy

    return [c.id for c in load_taxonomy().categories]


def _filters(args: Any, now: datetime) -> tuple[dict[str, Any], list[dict[str, Any]], str | None]:
    """The form's values and the matching Elasticsearch filters; an error line for a bad time."""
    form = {k: (args.get(k) or "").strip() for k in ("status", "brand", "category", "severity", "since", "until")}
    filters: list[dict[str, Any]] = []
    for key in ("status", "brand", "category", "severity"):
        if form[key] and form[key] != "all":
            filters.append({"term": {key: form[key]}})
    error = None
    try:
        rng = {}
        if form["since"]:
            rng["gte"] = iso(parse_time(form["since"], "since", now, _cfg().zone))
        if form["until"]:
            rng["lt"] = iso(parse_time(form["until"], "until", now, _cfg().zone))
        if rng:
            filters.append({"range": {"opened_at": rng}})
    except QueryError as exc:
        error = str(exc)
    return form, filters, error


def _repeats_by_category(filters_since: dict[str, Any] | None) -> list[tuple[str, int]]:
    """Repeat complaints (pipelines.repeats) per top-level category, in the list's time range."""
    es = current_app.config["GS_ES"]
    query: dict[str, Any] = {"bool": {"filter": [{"term": {"complaint.repeat": True}}]}}
    if filters_since:
        query["bool"]["filter"].append({"range": {"published_at": filters_since}})
    res = es.search(index=mapping.alias(_cfg().elasticsearch.index_prefix), size=0, query=query,
                    aggs={"c": {"terms": {"field": "complaint.categories", "include": "[^.]+", "size": 20}}},
                    ignore_unavailable=True, allow_no_indices=True)
    buckets = ((res.get("aggregations") or {}).get("c") or {}).get("buckets", [])
    return [(b["key"], int(b["doc_count"])) for b in buckets]


@bp.get("/")
def home() -> Any:
    return redirect(url_for("incidents.index"))


@bp.get("/incidents")
def index() -> Any:
    now = clock.now()
    form, filters, error = _filters(request.args, now)
    found: list[Incident] = []
    if error is None:
        query = {"bool": {"filter": filters}} if filters else {"match_all": {}}
        found = _store().find(query, limit=500)
    rows = [(i, handling(i, now)) for i in found]
    time_range = next((f["range"]["opened_at"] for f in filters if "range" in f), None)
    return render_template(
        "incidents.html", form=form, error=error, rows=rows, stats=group_stats(found, now),
        repeats=_repeats_by_category(time_range) if error is None else [],
        statuses=STATUSES, severities=SEVERITIES, categories=_categories(),
        brands=[b.name for b in _cfg().brands],
    ), (400 if error else 200)


def _incident(incident_id: str) -> Incident:
    inc = _store().get(incident_id)
    if inc is None:
        abort(404, description=f"There is no incident {incident_id!r}.")
    return inc


def _as_of(inc: Incident, now: datetime) -> datetime:
    """A resolved incident shows the day before it resolved; an active one, now."""
    return inc.resolved_at if inc.status == "resolved" and inc.resolved_at else now


@bp.get("/incidents/<incident_id>")
def page(incident_id: str) -> Any:
    inc = _incident(incident_id)
    now = clock.now()
    facts = build_report(current_app.config["GS_ES"], _cfg(), inc, "opened", _as_of(inc, now))
    user = current_user()
    return render_template("incident.html", inc=inc, facts=facts, events=timeline(inc), handled=handling(inc, now),
                           can_act=user is not None and user.role == "responder", notice=request.args.get("done"))


@bp.get("/incidents/<incident_id>/chart.png")
def chart(incident_id: str) -> Response:
    inc = _incident(incident_id)
    facts = build_report(current_app.config["GS_ES"], _cfg(), inc, "opened", _as_of(inc, clock.now()))
    png = bar_chart([count for _, count in facts.hourly] or [0])
    return Response(png, mimetype="image/png", headers={"Cache-Control": "no-store"})


def _act(incident_id: str, action: str, text: str = "") -> Any:
    user = current_user()
    assert user is not None
    try:
        book.act(_store(), incident_id, action, user.name, clock.now(), via="console", text=text)
    except LookupError:
        abort(404, description=f"There is no incident {incident_id!r}.")
    except ValueError as exc:
        return render_template("message.html", title="Nothing changed", message=str(exc),
                               back=url_for("incidents.page", incident_id=incident_id)), 409
    return redirect(url_for("incidents.page", incident_id=incident_id, done=action))


@bp.post("/incidents/<incident_id>/acknowledge")
@requires_responder
def acknowledge(incident_id: str) -> Any:
    return _act(incident_id, "ack")


@bp.post("/incidents/<incident_id>/resolve")
@requires_responder
def resolve(incident_id: str) -> Any:
    return _act(incident_id, "resolve")


@bp.post("/incidents/<incident_id>/note")
@requires_responder
def note(incident_id: str) -> Any:
    return _act(incident_id, "note", request.form.get("note", ""))

