"""Which fields the saved objects name, and whether the mappings can serve each use.

Read from the saved objects themselves (not from the panel descriptions), so what is checked is what Kibana
imports: aggregated and sorted fields must have doc values (keyword, numbers, dates, booleans; never `text`),
a data view's time field must be a date, and shown or queried fields must exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Use = Literal["aggregate", "sort", "time", "column", "query"]
AGGREGATABLE = frozenset(
    {
        "keyword", "constant_keyword", "boolean", "date", "date_nanos", "ip",
        "long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long",
    }
)  # fmt: skip
_NEEDS_DOC_VALUES: frozenset[Use] = frozenset({"aggregate", "sort"})
# a Lucene `field:` outside quotes (our panel queries are simple field:value terms joined by AND/OR/NOT)
_QUERY_FIELD = re.compile(r'"(?:\\.|[^"\\])*"|(?<![\w.@\\])([A-Za-z_@][\w.@]*)\s*:')


@dataclass(frozen=True)
class FieldUse:
    object_type: str
    object_id: str
    data_view: str  # the data view id whose fields this names
    field: str
    use: Use

    def where(self) -> str:
        return f"{self.object_type} {self.object_id}: {self.field} ({self.use})"


def flatten(properties: Mapping[str, Any], parent: str = "") -> dict[str, str]:
    """`{"sentiment.label": "keyword", "text": "text", "text.keyword": "keyword", ...}` from mapping properties."""
    out: dict[str, str] = {}
    for name, spec in properties.items():
        path = f"{parent}{name}"
        out[path] = spec.get("type", "object")
        if "properties" in spec:
            out |= flatten(spec["properties"], f"{path}.")
        for sub, sub_spec in (spec.get("fields") or {}).items():
            out[f"{path}.{sub}"] = sub_spec.get("type", "object")
    return out


def query_fields(query: str) -> list[str]:
    return [m.group(1) for m in _QUERY_FIELD.finditer(query) if m.group(1)]


def data_view_of(obj: Mapping[str, Any]) -> str | None:
    """The data view a saved object reads: itself for a data view, its index-pattern reference otherwise."""
    if obj.get("type") == "index-pattern":
        return str(obj["id"])
    for ref in obj.get("references") or []:
        if ref.get("type") == "index-pattern":
            return str(ref["id"])
    return None


def uses(objects: Iterable[Mapping[str, Any]]) -> list[FieldUse]:
    """Every field each saved object names, and what it does with it."""
    found: list[FieldUse] = []
    for obj in objects:
        kind, oid, attrs = str(obj["type"]), str(obj["id"]), obj["attributes"]

        def add(view: str, field: str, use: Use, kind: str = kind, oid: str = oid) -> None:
            found.append(FieldUse(kind, oid, view, field, use))

        if kind == "index-pattern":
            add(oid, attrs["timeFieldName"], "time")
            continue
        if kind not in ("visualization", "search"):
            continue
        view = data_view_of(obj)
        if view is None:
            raise ValueError(f"{kind} {oid}: no index-pattern reference")
        source = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
        for field in query_fields(source["query"]["query"]):
            add(view, field, "query")
        if kind == "visualization":
            for agg in json.loads(attrs["visState"])["aggs"]:
                if "field" in agg["params"]:
                    add(view, agg["params"]["field"], "aggregate")
        else:
            for field, _direction in attrs["sort"]:
                add(view, field, "sort")
            for field in attrs["columns"]:
                add(view, field, "column")
    return found


def problems(objects: Iterable[Mapping[str, Any]], fields_by_view: Mapping[str, Mapping[str, str]]) -> list[str]:
    """What Kibana could not do with these objects on these mappings (`fields_by_view`: data view id -> flatten())."""
    out: list[str] = []
    for u in uses(objects):
        fields = fields_by_view.get(u.data_view)
        if fields is None:
            out.append(f"{u.where()}: no mapping known for data view {u.data_view!r}")
            continue
        ftype = fields.get(u.field)
        if ftype is None:
            out.append(f"{u.where()}: no such field in {u.data_view}")
        elif u.use == "time" and ftype not in ("date", "date_nanos"):
            out.append(f"{u.where()}: is {ftype}, a time field must be a date")
        elif u.use in _NEEDS_DOC_VALUES and ftype not in AGGREGATABLE:
            out.append(f"{u.where()}: is {ftype}, which Kibana cannot {u.use} on")
    return out
