"""Kibana 8 saved objects (NDJSON for Stack Management > Saved Objects > Import or POST /api/saved_objects/_import)
built from the panel descriptions in kibana.panels.

Objects are written in the shape Kibana's own sample data ships (legacy aggregation-based visualizations,
`migrationVersion` so that Kibana migrates them to its current format on import), which 8.x imports. Ids are
derived from the index prefix, so several prefixes can live in one Kibana; the mention data view's id is exactly
the alias name, `<prefix>-mentions`, because alert emails link to Discover with that id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from alerts.model import incidents_index
from kibana.panels import (
    CHARTS,
    DASHBOARD_TIME,
    DASHBOARD_TITLE,
    LAYOUT,
    SEARCHES,
    TIME_FIELDS,
    Buckets,
    Chart,
    DocTable,
    Metric,
    Panel,
    Source,
)
from store import mapping

INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
# Mention fields that only serve search and clustering: hidden from Discover's documents
HIDDEN_MENTION_FIELDS = ("text_phrase", "title_phrase", "minhash", "lsh_bands", "cluster_band_ids", "cluster_bands")


def _json(value: Any) -> str:
    """Kibana stores nested state as JSON strings inside the attributes."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def data_view_id(prefix: str, source: Source) -> str:
    return mapping.alias(prefix) if source == "mentions" else incidents_index(prefix)


def object_id(prefix: str, panel: Panel) -> str:
    kind = "vis" if isinstance(panel, Chart) else "search"
    return f"{prefix}-{kind}-{panel.key}"


def dashboard_id(prefix: str) -> str:
    return f"{prefix}-dashboard"


def data_view(prefix: str, source: Source) -> dict[str, Any]:
    view_id = data_view_id(prefix, source)
    attributes: dict[str, Any] = {
        "title": view_id,  # the index pattern: the alias over the monthly indices, or the incidents index
        "timeFieldName": TIME_FIELDS[source],
        "name": f"Groundswell {source} ({prefix})",
    }
    if source == "mentions":
        attributes["sourceFilters"] = _json([{"value": f} for f in HIDDEN_MENTION_FIELDS])
        attributes["fieldFormatMap"] = _json({"url": {"id": "url"}})
    return {
        "id": view_id,
        "type": "index-pattern",
        "attributes": attributes,
        "references": [],
        "migrationVersion": {},
    }


def _search_source(query: str) -> dict[str, Any]:
    return {
        "searchSourceJSON": _json(
            {"query": {"query": query, "language": "lucene"}, "filter": [], "indexRefName": INDEX_REF}
        )
    }


def _index_reference(prefix: str, source: Source) -> dict[str, str]:
    return {"name": INDEX_REF, "type": "index-pattern", "id": data_view_id(prefix, source)}


def agg_ids(chart: Chart) -> tuple[list[str], list[str]]:
    """Metric ids then bucket ids, as Kibana numbers aggregations ("1", "2", ...); shared with kibana.requests."""
    n = len(chart.metrics)
    return [str(i + 1) for i in range(n)], [str(n + j + 1) for j in range(len(chart.buckets))]


def _metric_agg(metric: Metric, agg_id: str) -> dict[str, Any]:
    params: dict[str, Any] = {"customLabel": metric.label} if metric.label else {}
    if metric.field:
        params["field"] = metric.field
    return {"id": agg_id, "enabled": True, "type": metric.agg, "schema": "metric", "params": params}


def _order_by(chart: Chart, buckets: Buckets) -> str:
    metric_ids, _ = agg_ids(chart)
    if buckets.order_by is not None:
        return metric_ids[buckets.order_by]
    counts = [i for i, m in zip(metric_ids, chart.metrics, strict=True) if m.agg == "count"]
    return counts[0] if counts else "_count"


def _bucket_agg(chart: Chart, buckets: Buckets, agg_id: str, schema: str) -> dict[str, Any]:
    params: dict[str, Any] = {"field": buckets.field}
    if buckets.agg == "date_histogram":
        params |= {
            "interval": buckets.interval,
            "min_doc_count": 1,
            "extended_bounds": {},
            "useNormalizedEsInterval": True,
            "drop_partials": False,
        }
    else:
        params |= {
            "size": buckets.size,
            "order": "desc",
            "orderBy": _order_by(chart, buckets),
            "otherBucket": False,
            "otherBucketLabel": "Other",
            "missingBucket": False,
            "missingBucketLabel": "Missing",
        }
        if buckets.include:
            params["include"] = buckets.include
    if buckets.label:
        params["customLabel"] = buckets.label
    return {"id": agg_id, "enabled": True, "type": buckets.agg, "schema": schema, "params": params}


def _schemas(chart: Chart) -> list[str]:
    if chart.vis == "table":
        return ["bucket"] * len(chart.buckets)
    if chart.vis == "pie":
        return ["segment"] * len(chart.buckets)
    return ["segment", *(["group"] * (len(chart.buckets) - 1))]


def _vis_params(chart: Chart) -> dict[str, Any]:
    if chart.vis == "table":
        return {
            "perPage": 10,
            "showPartialRows": False,
            "showMetricsAtAllLevels": False,
            "showTotal": False,
            "totalFunc": "sum",
            "percentageCol": "",
            "sort": {"columnIndex": None, "direction": None},
        }
    if chart.vis == "pie":
        return {
            "type": "pie",
            "addTooltip": True,
            "addLegend": True,
            "legendPosition": "right",
            "isDonut": True,
            "labels": {"show": True, "values": True, "last_level": True, "truncate": 100},
            "palette": {"type": "palette", "name": "default"},
        }
    metric_ids, _ = agg_ids(chart)
    label = chart.metrics[0].label or "Count"
    series_mode = "stacked" if chart.vis == "histogram" else "normal"
    return {
        "type": chart.vis,
        "grid": {"categoryLines": False},
        "categoryAxes": [
            {
                "id": "CategoryAxis-1",
                "type": "category",
                "position": "bottom",
                "show": True,
                "style": {},
                "scale": {"type": "linear"},
                "labels": {"show": True, "filter": True, "truncate": 100},
                "title": {},
            }
        ],
        "valueAxes": [
            {
                "id": "ValueAxis-1",
                "name": "LeftAxis-1",
                "type": "value",
                "position": "left",
                "show": True,
                "style": {},
                "scale": {"type": "linear", "mode": "normal"},
                "labels": {"show": True, "rotate": 0, "filter": False, "truncate": 100},
                "title": {"text": label},
            }
        ],
        "seriesParams": [
            {
                "show": True,
                "type": chart.vis,
                "mode": series_mode,
                "data": {"label": m.label or "Count", "id": metric_id},
                "valueAxis": "ValueAxis-1",
                "drawLinesBetweenPoints": True,
                "lineWidth": 2,
                "showCircles": True,
                "interpolate": "linear",
            }
            for metric_id, m in zip(metric_ids, chart.metrics, strict=True)
        ],
        "addTooltip": True,
        "addLegend": True,
        "legendPosition": "right",
        "times": [],
        "addTimeMarker": False,
        "detailedTooltip": True,
        "palette": {"type": "palette", "name": "default"},
        "labels": {"show": False},
        "thresholdLine": {"show": False, "value": 10, "width": 1, "style": "full", "color": "#E7664C"},
    }


def vis_state(chart: Chart) -> dict[str, Any]:
    metric_ids, bucket_ids = agg_ids(chart)
    aggs = [_metric_agg(m, i) for m, i in zip(chart.metrics, metric_ids, strict=True)]
    aggs += [_bucket_agg(chart, b, i, s) for b, i, s in zip(chart.buckets, bucket_ids, _schemas(chart), strict=True)]
    return {"title": chart.title, "type": chart.vis, "aggs": aggs, "params": _vis_params(chart)}


def visualization(prefix: str, chart: Chart) -> dict[str, Any]:
    return {
        "id": object_id(prefix, chart),
        "type": "visualization",
        "attributes": {
            "title": chart.title,
            "description": chart.description,
            "visState": _json(vis_state(chart)),
            "uiStateJSON": "{}",
            "version": 1,
            "kibanaSavedObjectMeta": _search_source(chart.query),
        },
        "references": [_index_reference(prefix, chart.source)],
        "migrationVersion": {},
    }


def saved_search(prefix: str, table: DocTable) -> dict[str, Any]:
    return {
        "id": object_id(prefix, table),
        "type": "search",
        "attributes": {
            "title": table.title,
            "description": table.description,
            "columns": list(table.columns),
            "sort": [[field, direction] for field, direction in table.sort],
            "grid": {},
            "hideChart": False,
            "isTextBasedQuery": False,
            "kibanaSavedObjectMeta": _search_source(table.query),
        },
        "references": [_index_reference(prefix, table.source)],
        "migrationVersion": {},
    }


def dashboard(prefix: str) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    references: list[dict[str, str]] = []
    for n, (panel, x, y, w, h) in enumerate(LAYOUT):
        index = str(n + 1)
        ref = f"panel_{n}"
        panels.append(
            {
                "panelIndex": index,
                "gridData": {"x": x, "y": y, "w": w, "h": h, "i": index},
                "embeddableConfig": {},
                "version": "7.0.0",
                "panelRefName": ref,
            }
        )
        kind = "visualization" if isinstance(panel, Chart) else "search"
        references.append({"name": ref, "type": kind, "id": object_id(prefix, panel)})
    time_from, time_to = DASHBOARD_TIME
    return {
        "id": dashboard_id(prefix),
        "type": "dashboard",
        "attributes": {
            "title": DASHBOARD_TITLE if prefix == "groundswell" else f"{DASHBOARD_TITLE} ({prefix})",
            "description": "Mention volume, sentiment, complaint categories, platforms, top negative posts, "
            "top authors and alert incidents.",
            "hits": 0,
            "version": 1,
            "panelsJSON": _json(panels),
            "optionsJSON": _json({"hidePanelTitles": False, "useMargins": True}),
            "timeRestore": True,
            "timeFrom": time_from,
            "timeTo": time_to,
            "refreshInterval": {"pause": False, "value": 60000},
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": _json({"query": {"query": "", "language": "lucene"}, "filter": []})
            },
        },
        "references": references,
        # the shape Kibana's sample dashboards ship: panel references already extracted (7.0.0 format)
        "migrationVersion": {"dashboard": "7.0.0"},
    }


def build(prefix: str) -> list[dict[str, Any]]:
    """Every saved object for one index prefix, referenced objects before those that refer to them."""
    objects = [data_view(prefix, "mentions"), data_view(prefix, "incidents")]
    objects += [saved_search(prefix, s) for s in SEARCHES]
    objects += [visualization(prefix, c) for c in CHARTS]
    objects.append(dashboard(prefix))
    return objects


def to_ndjson(objects: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(o, ensure_ascii=False, sort_keys=True) + "\n" for o in objects)
