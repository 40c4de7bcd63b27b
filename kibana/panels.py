"""What the analysts' dashboard shows, one description per panel.

Each description is the single source for both the Kibana saved object (kibana.saved_objects) and the
Elasticsearch search that Kibana sends for it (kibana.requests), so a test that runs the search tests the panel.
Queries are Lucene, as in Kibana's query bar with Lucene selected: Kibana sends them to Elasticsearch unchanged,
as a `query_string`, so what runs in the tests is what runs behind the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Source = Literal["mentions", "incidents"]  # which data view: the mention alias or the incidents index
TIME_FIELDS: dict[Source, str] = {"mentions": "@timestamp", "incidents": "opened_at"}


@dataclass(frozen=True)
class Metric:
    agg: Literal["count", "max", "sum", "avg", "cardinality"]
    field: str | None = None  # None only for count
    label: str = ""


@dataclass(frozen=True)
class Buckets:
    agg: Literal["date_histogram", "terms"]
    field: str
    interval: str = "auto"  # date_histogram: "auto" (Kibana picks by time range) or e.g. "1h", "1d"
    size: int = 10  # terms: how many buckets
    order_by: int | None = None  # terms: index of the chart metric to sort by, descending; None: document count
    include: str | None = None  # terms: a regex a bucket key must match whole
    label: str = ""


@dataclass(frozen=True)
class Chart:
    """An aggregation panel, saved as a legacy Kibana `visualization`.

    `buckets` go outermost first: the x-axis (or pie slices, or table rows), then the split. For a bar or line
    chart a second bucket splits the series; for a table every bucket splits the rows.
    """

    key: str
    title: str
    description: str
    source: Source
    vis: Literal["histogram", "line", "pie", "table"]
    buckets: tuple[Buckets, ...]
    metrics: tuple[Metric, ...] = (Metric("count", label="Mentions"),)
    query: str = ""


@dataclass(frozen=True)
class DocTable:
    """Documents matching a query, as a table: saved as a Kibana saved search (Discover), also a dashboard panel."""

    key: str
    title: str
    description: str
    source: Source
    query: str
    columns: tuple[str, ...]
    sort: tuple[tuple[str, Literal["asc", "desc"]], ...]


Panel = Chart | DocTable

VOLUME_BY_SENTIMENT = Chart(
    key="mention-volume-by-sentiment",
    title="Mention volume by sentiment",
    description="Mentions over time, stacked by sentiment label: a growing red band is a complaint taking off.",
    source="mentions",
    vis="histogram",
    buckets=(
        Buckets("date_histogram", "@timestamp", label="Published"),
        Buckets("terms", "sentiment.label", size=3, label="Sentiment"),
    ),
)

COMPLAINT_CATEGORIES = Chart(
    key="complaint-categories-over-time",
    title="Complaint categories over time",
    description="Complaints (negative mentions with a complaint category) over time, by top-level category.",
    source="mentions",
    vis="histogram",
    query="complaint.is_complaint:true",
    # complaint.categories holds both levels (logistics, logistics.late_delivery): count the top level only
    buckets=(
        Buckets("date_histogram", "@timestamp", label="Published"),
        Buckets("terms", "complaint.categories", size=8, include="[^.]+", label="Category"),
    ),
    metrics=(Metric("count", label="Complaints"),),
)

REPEAT_COMPLAINTS = Chart(
    key="repeat-complaints-by-category",
    title="Repeat complaints by category",
    description="Complaints from an author who already complained about the same brand in the 30 days before "
                "(complaint.repeat), by top-level category: where the first answer did not help.",
    source="mentions",
    vis="table",
    query="complaint.repeat:true",
    buckets=(Buckets("terms", "complaint.categories", size=8, include="[^.]+", label="Category"),),
    metrics=(Metric("count", label="Repeat complaints"),),
)

PLATFORMS = Chart(
    key="mentions-by-platform",
    title="Mentions by platform",
    description="Where the brand is talked about.",
    source="mentions",
    vis="pie",
    buckets=(Buckets("terms", "platform", size=10, label="Platform"),),
)

TOP_AUTHORS = Chart(
    key="top-authors-by-reach",
    title="Top authors by reach",
    description="Authors with the most followers who mention the brand, with their mentions and engagement.",
    source="mentions",
    vis="table",
    buckets=(Buckets("terms", "author", size=10, order_by=0, label="Author"),),
    metrics=(
        Metric("max", "author_followers", label="Followers"),
        Metric("count", label="Mentions"),
        Metric("sum", "engagement", label="Engagement"),
    ),
)

INCIDENTS_BY_SEVERITY = Chart(
    key="incidents-by-severity",
    title="Incidents by severity",
    description="Alert incidents by the time they opened, stacked by severity.",
    source="incidents",
    vis="histogram",
    buckets=(
        Buckets("date_histogram", "opened_at", label="Opened"),
        Buckets("terms", "severity", size=3, label="Severity"),
    ),
    metrics=(Metric("count", label="Incidents"),),
)

NEGATIVE_MENTIONS = DocTable(
    key="negative-mentions",
    title="Negative mentions",
    description="Every mention with negative sentiment, newest first.",
    source="mentions",
    query="sentiment.label:negative",
    columns=("platform", "author", "brand", "text", "complaint.categories", "engagement", "url"),
    sort=(("@timestamp", "desc"),),
)

TOP_NEGATIVE_POSTS = DocTable(
    key="top-negative-posts",
    title="Top negative posts by engagement",
    description="Negative mentions with the most likes, reposts and comments: the ones spreading.",
    source="mentions",
    query="sentiment.label:negative",
    columns=("engagement", "platform", "author", "author_followers", "text", "complaint.categories", "url"),
    sort=(("engagement", "desc"), ("@timestamp", "desc")),
)

OPEN_INCIDENTS = DocTable(
    key="open-incidents",
    title="Open incidents",
    description="Alert incidents still open, most severe first.",
    source="incidents",
    query="status:open",
    columns=("severity", "summary", "brand", "category", "matches", "rules", "last_match_at"),
    sort=(("severity_rank", "desc"), ("opened_at", "desc")),
)

CHARTS: tuple[Chart, ...] = (VOLUME_BY_SENTIMENT, COMPLAINT_CATEGORIES, PLATFORMS, TOP_AUTHORS, INCIDENTS_BY_SEVERITY,
                             REPEAT_COMPLAINTS)
SEARCHES: tuple[DocTable, ...] = (NEGATIVE_MENTIONS, TOP_NEGATIVE_POSTS, OPEN_INCIDENTS)
PANELS: tuple[Panel, ...] = CHARTS + SEARCHES

DASHBOARD_TITLE = "Groundswell: brand mentions and complaints"
DASHBOARD_TIME = ("now-30d", "now")
# (panel, x, y, w, h) on Kibana's 48-column grid, top to bottom
LAYOUT: tuple[tuple[Panel, int, int, int, int], ...] = (
    (VOLUME_BY_SENTIMENT, 0, 0, 32, 13),
    (PLATFORMS, 32, 0, 16, 13),
    (COMPLAINT_CATEGORIES, 0, 13, 24, 14),
    (TOP_AUTHORS, 24, 13, 24, 14),
    (TOP_NEGATIVE_POSTS, 0, 27, 48, 15),
    (INCIDENTS_BY_SEVERITY, 0, 42, 16, 13),
    (OPEN_INCIDENTS, 16, 42, 32, 13),
    (REPEAT_COMPLAINTS, 0, 55, 16, 13),
)
