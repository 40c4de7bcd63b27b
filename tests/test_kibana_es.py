"""Against the real node: the demo's mentions (ingested with `groundswell ingest`) and one incident document,
then every field a saved object names as the cluster maps it, and every panel's search as Kibana would send it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from alerts.model import INCIDENT_PROPERTIES, Incident, incident_id, incidents_index
from kibana import check, fields, panels, requests
from kibana.saved_objects import build
from store import mapping
from tests.conftest import Gs, delete_prefix

pytestmark = pytest.mark.es

ROOT = Path(__file__).parent.parent
# the demo sample spans 2026-11-20 .. 2026-11-24; the dashboard's time picker over it
RANGE = requests.TimeRange(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


def _incident(opened: datetime) -> Incident:
    key = "cluster:weibo-demo"
    return Incident(
        incident_id=incident_id(key, opened),
        key=key,
        status="open",
        severity="urgent",
        opened_at=opened,
        updated_at=opened + timedelta(minutes=30),
        last_match_at=opened + timedelta(minutes=30),
        summary="小米手机黑屏: 3 posts, reach 125k, spreading on weibo",
        brand="小米",
        category="product_quality",
        cluster_ids=["weibo-demo"],
        rules=["viral spread"],
        rule_types=["viral_spread"],
        query='text_phrase:"黑屏"',
        matches=2,
    )


@pytest.fixture(scope="module")
def demo_prefix(es: Elasticsearch) -> Iterator[str]:
    """One prefix for the module: the demo sample ingested through the CLI, and one open incident."""
    name = f"gstest-{uuid.uuid4().hex[:10]}"
    try:
        result = Gs(name)(
            "--config", str(ROOT / "demo" / "groundswell.yaml"), "ingest", str(ROOT / "demo" / "sample_mentions.jsonl")
        )
        assert result.exit_code == 1, result.output  # the sample has three bad lines on purpose
        es.indices.refresh(index=mapping.alias(name))
        index = incidents_index(name)
        es.indices.create(index=index, mappings={"properties": INCIDENT_PROPERTIES})
        doc = _incident(datetime(2026, 11, 24, 2, 30, tzinfo=UTC)).to_document()
        es.index(index=index, id=doc["incident_id"], document=doc, refresh=True)
        yield name
    finally:
        delete_prefix(es, name)


def test_every_referenced_field_is_mapped_for_its_use_in_the_cluster(es: Elasticsearch, demo_prefix: str) -> None:
    live = check.live_fields(es, demo_prefix)
    assert live[mapping.alias(demo_prefix)] and live[incidents_index(demo_prefix)]
    assert fields.problems(build(demo_prefix), live) == []
    # and field_caps agrees that each aggregated or sorted field is aggregatable
    for use in fields.uses(build(demo_prefix)):
        if use.use in ("aggregate", "sort"):
            caps = es.field_caps(index=use.data_view, fields=use.field).body["fields"][use.field]
            assert all(c["aggregatable"] for c in caps.values()), (use, caps)


@pytest.mark.parametrize("panel", panels.PANELS, ids=lambda p: p.key)
def test_panel_search_returns_the_demo_data(es: Elasticsearch, demo_prefix: str, panel: panels.Panel) -> None:
    resp = es.search(**requests.search_request(demo_prefix, panel, RANGE)).body
    shown = requests.shown(panel, resp)
    assert shown, f"{panel.title}: nothing to show in {json.dumps(resp)[:500]}"
    if isinstance(panel, panels.Chart) and len(panel.buckets) > 1:
        split_id = str(len(panel.metrics) + 2)
        assert any(b[split_id]["buckets"] for b in shown), f"{panel.title}: the split has no buckets"


def test_panels_show_what_an_analyst_expects(es: Elasticsearch, demo_prefix: str) -> None:
    def run(panel: panels.Panel) -> list[Any]:
        return requests.shown(panel, es.search(**requests.search_request(demo_prefix, panel, RANGE)).body)

    authors = run(panels.TOP_AUTHORS)
    assert authors[0]["key"] == "数码小王"  # 125k followers: the largest reach in the sample
    assert authors[0]["1"] == {"value": 125000.0}
    top_post = run(panels.TOP_NEGATIVE_POSTS)[0]["_source"]
    assert top_post["sentiment"]["label"] == "negative" and top_post["author"] == "数码小王"
    categories = {c["key"] for day in run(panels.COMPLAINT_CATEGORIES) for c in day["3"]["buckets"]}
    assert categories and all("." not in c for c in categories), categories
    sentiments = {s["key"] for day in run(panels.VOLUME_BY_SENTIMENT) for s in day["3"]["buckets"]}
    assert {"negative", "positive"} <= sentiments
    assert {p["key"] for p in run(panels.PLATFORMS)} >= {"weibo", "jd", "reddit", "bilibili"}
    (incident,) = run(panels.OPEN_INCIDENTS)
    assert incident["_source"]["status"] == "open"


def test_check_command(demo_prefix: str) -> None:
    gs = Gs(demo_prefix)
    result = gs("kibana", "check", "--since", "2026-11-01", "--until", "2026-12-01", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["field_problems"] == []
    assert {p["title"] for p in report["panels"]} == {p.title for p in panels.PANELS}
    # outside the data's time range every panel is empty, and the check says so
    result = gs("kibana", "check", "--since", "2020-01-01", "--until", "2020-02-01")
    assert result.exit_code == 1
    assert result.stdout.count("EMPTY") == len(panels.PANELS)


def test_check_reports_a_missing_incidents_index(prefix: str, gs: Gs) -> None:
    result = gs(
        "--config", str(ROOT / "demo" / "groundswell.yaml"), "ingest", str(ROOT / "demo" / "sample_mentions.jsonl")
    )
    assert result.exit_code == 1, result.output
    result = gs("kibana", "check", "--since", "2026-11-01", "--until", "2026-12-01")
    assert result.exit_code == 1
    assert f"FIELD {incidents_index(prefix)}: no such index" in result.stdout
    assert "EMPTY Open incidents" in result.stdout and "ok    Top authors by reach" in result.stdout
