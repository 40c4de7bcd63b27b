"""The Elasticsearch search Kibana sends for a panel, built from the same description as the saved object.

Kibana turns a Lucene query bar into a `query_string` (with its default `analyze_wildcard`), adds the time
picker as a range filter on the data view's time field, and nests the visualization's bucket aggregations
outermost first with the metrics in the innermost bucket. This module does the same, so running its output
against the cluster shows what the dashboard will show. `auto` date intervals are resolved the way Kibana's
time buckets do, roughly: a round interval giving at most 100 buckets over the time range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kibana.panels import TIME_FIELDS, Buckets, Chart, DocTable, Metric, Panel, Source
from kibana.saved_objects import agg_ids, data_view_id

MAX_BUCKETS = 100
# (fixed or calendar, interval, length) from small to large
_INTERVALS: tuple[tuple[str, str, timedelta], ...] = (
    ("fixed_interval", "1m", timedelta(minutes=1)),
    ("fixed_interval", "5m", timedelta(minutes=5)),
    ("fixed_interval", "10m", timedelta(minutes=10)),
    ("fixed_interval", "30m", timedelta(minutes=30)),
    ("fixed_interval", "1h", timedelta(hours=1)),
    ("fixed_interval", "3h", timedelta(hours=3)),
    ("fixed_interval", "12h", timedelta(hours=12)),
    ("calendar_interval", "1d", timedelta(days=1)),
    ("calendar_interval", "1w", timedelta(weeks=1)),
    ("calendar_interval", "1M", timedelta(days=31)),
    ("calendar_interval", "1y", timedelta(days=366)),
)
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError(f"time range needs aware datetimes, got {self.start!r} .. {self.end!r}")
        if self.end <= self.start:
            raise ValueError(f"time range ends before it starts: {self.start.isoformat()} .. {self.end.isoformat()}")


def date_interval(interval: str, time_range: TimeRange) -> dict[str, str]:
    """`{"fixed_interval": "3h"}` or `{"calendar_interval": "1d"}` for a panel interval over a time range."""
    if interval == "auto":
        span = time_range.end - time_range.start
        for kind, name, length in _INTERVALS:
            if span / length <= MAX_BUCKETS:
                return {kind: name}
        return {"calendar_interval": "1y"}
    for kind, name, _ in _INTERVALS:
        if name == interval:
            return {kind: name}
    unit = interval[-1:]
    if unit in _UNITS and interval[:-1].isdigit():
        return {"fixed_interval": interval}
    raise ValueError(f"date_histogram interval: expected auto, 1d, 3h, 30m ... got {interval!r}")


def es_query(query: str, source: Source, time_range: TimeRange) -> dict[str, Any]:
    must: list[dict[str, Any]] = (
        [{"query_string": {"query": query, "analyze_wildcard": True, "time_zone": "UTC"}}]
        if query.strip()
        else [{"match_all": {}}]
    )
    time_filter = {
        "range": {
            TIME_FIELDS[source]: {
                "gte": time_range.start.isoformat(),
                "lte": time_range.end.isoformat(),
                "format": "strict_date_optional_time",
            }
        }
    }
    return {"bool": {"must": must, "filter": [time_filter], "should": [], "must_not": []}}


def _metric(metric: Metric) -> dict[str, Any]:
    assert metric.field, f"{metric.agg} needs a field"
    return {metric.agg: {"field": metric.field}}


def _bucket(chart: Chart, buckets: Buckets, time_range: TimeRange) -> dict[str, Any]:
    if buckets.agg == "date_histogram":
        return {
            "date_histogram": {
                "field": buckets.field,
                **date_interval(buckets.interval, time_range),
                "time_zone": "UTC",
                "min_doc_count": 1,
            }
        }
    metric_ids, _ = agg_ids(chart)
    order = {"_count": "desc"} if buckets.order_by is None else {metric_ids[buckets.order_by]: "desc"}
    terms: dict[str, Any] = {"field": buckets.field, "size": buckets.size, "order": order}
    if buckets.include:
        terms["include"] = buckets.include
    return {"terms": terms}


def chart_aggs(chart: Chart, time_range: TimeRange) -> dict[str, Any]:
    """The nested aggregations, keyed by Kibana's agg ids; metrics (but count) in the innermost bucket."""
    metric_ids, bucket_ids = agg_ids(chart)
    metrics = {i: _metric(m) for i, m in zip(metric_ids, chart.metrics, strict=True) if m.agg != "count"}
    inner: dict[str, Any] = dict(metrics)
    for depth in range(len(chart.buckets) - 1, -1, -1):
        buckets = chart.buckets[depth]
        agg = _bucket(chart, buckets, time_range)
        if buckets.order_by is not None and depth < len(chart.buckets) - 1:
            order_id = metric_ids[buckets.order_by]
            inner = {**inner, order_id: metrics[order_id]}  # Kibana adds the order metric at its level too
        if inner:
            agg["aggs"] = inner
        inner = {bucket_ids[depth]: agg}
    return inner


def search_request(prefix: str, panel: Panel, time_range: TimeRange, size: int = 10) -> dict[str, Any]:
    """Keyword arguments for `Elasticsearch.search` that ask what the panel shows."""
    request: dict[str, Any] = {
        "index": data_view_id(prefix, panel.source),
        "query": es_query(panel.query, panel.source, time_range),
    }
    if isinstance(panel, Chart):
        request |= {"size": 0, "aggs": chart_aggs(panel, time_range)}
    else:
        assert isinstance(panel, DocTable)
        request |= {
            "size": size,
            "sort": [{field: {"order": direction, "unmapped_type": "boolean"}} for field, direction in panel.sort],
        }
    return request


def shown(panel: Panel, response: dict[str, Any]) -> list[Any]:
    """What the panel would display from a response: the outer buckets for a chart, the hits for a table."""
    if isinstance(panel, DocTable):
        return list(response["hits"]["hits"])
    _, bucket_ids = agg_ids(panel)
    # a search over no index at all (allow_no_indices) answers without aggregations
    return list(response.get("aggregations", {}).get(bucket_ids[0], {}).get("buckets", []))
