"""Without Kibana: would the dashboard work on this cluster? Every field a saved object names is looked up in the
cluster's own field capabilities (what Kibana reads to build a data view), and every panel's search is run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from core.times import iso
from kibana import fields, requests
from kibana.panels import PANELS, Chart, Panel, Source
from kibana.saved_objects import build, data_view_id, object_id

SOURCES: tuple[Source, ...] = ("mentions", "incidents")


@dataclass(frozen=True)
class PanelResult:
    panel: Panel
    object_id: str
    shown: int  # buckets (chart) or documents (table) in the time range
    total: int  # matching documents

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.object_id,
            "title": self.panel.title,
            "kind": "chart" if isinstance(self.panel, Chart) else "table",
            "shown": self.shown,
            "total": self.total,
        }


@dataclass
class Report:
    prefix: str
    time_range: requests.TimeRange
    panels: list[PanelResult] = field(default_factory=list)
    field_problems: list[str] = field(default_factory=list)

    @property
    def empty(self) -> list[PanelResult]:
        return [p for p in self.panels if p.shown == 0]

    @property
    def ok(self) -> bool:
        return not self.field_problems and not self.empty

    def as_dict(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "since": iso(self.time_range.start),
            "until": iso(self.time_range.end),
            "ok": self.ok,
            "panels": [p.as_dict() for p in self.panels],
            "field_problems": self.field_problems,
        }


def fields_from_caps(caps: Mapping[str, Any]) -> dict[str, str]:
    """field -> type from a field_caps response; a field mapped differently across indices is `conflict(a,b)`,
    which nothing accepts (Kibana shows it as a conflict and cannot aggregate it)."""
    out: dict[str, str] = {}
    for name, by_type in caps.get("fields", {}).items():
        types = sorted(t for t in by_type if not t.startswith("_"))
        if types:
            out[name] = types[0] if len(types) == 1 else f"conflict({','.join(types)})"
    return out


def live_fields(es: Elasticsearch, prefix: str) -> dict[str, dict[str, str]]:
    """Data view id -> field types, as the cluster reports them for the data view's index pattern."""
    out: dict[str, dict[str, str]] = {}
    for source in SOURCES:
        view = data_view_id(prefix, source)
        caps = es.field_caps(index=view, fields="*", ignore_unavailable=True, allow_no_indices=True)
        out[view] = fields_from_caps(caps.body)
    return out


def run(es: Elasticsearch, prefix: str, time_range: requests.TimeRange) -> Report:
    report = Report(prefix, time_range)
    by_view = live_fields(es, prefix)
    known = {view: found for view, found in by_view.items() if found}
    report.field_problems += [
        f"{view}: no such index or alias, or nothing mapped in it yet" for view in by_view if view not in known
    ]
    objects = [o for o in build(prefix) if fields.data_view_of(o) in known]
    report.field_problems += fields.problems(objects, known)
    for panel in PANELS:
        resp = es.search(
            **requests.search_request(prefix, panel, time_range),
            ignore_unavailable=True,
            allow_no_indices=True,
            track_total_hits=True,
        ).body
        shown = len(requests.shown(panel, resp))
        report.panels.append(PanelResult(panel, object_id(prefix, panel), shown, int(resp["hits"]["total"]["value"])))
    return report
