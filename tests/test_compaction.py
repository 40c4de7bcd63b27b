"""Finished months are merged into one segment, once (store.compaction), by the scheduler's compaction job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import Elasticsearch

from store import mapping
from store.client import ensure_schema
from store.compaction import compact, finished_months

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def test_a_month_is_finished_some_days_after_its_end() -> None:
    names = ["p-mentions-2026.09", "p-mentions-2026.10", "p-mentions-2026.11", "p-mentions-2026.13",
             "p-mentions-2026.10-old", "q-mentions-2026.01", "p-job-runs"]
    assert finished_months(names, "p", NOW, timedelta(days=7)) == ["p-mentions-2026.09", "p-mentions-2026.10"]
    assert finished_months(names, "p", NOW, timedelta(days=10)) == ["p-mentions-2026.09"]
    assert finished_months(["p-mentions-2025.12"], "p", datetime(2026, 1, 2, tzinfo=UTC), timedelta(days=1)) == [
        "p-mentions-2025.12"]


def _segments(es: Elasticsearch, index: str) -> int:
    shards = es.indices.segments(index=index)["indices"][index]["shards"].values()
    return sum(len(copy["segments"]) for copies in shards for copy in copies)


@pytest.mark.es
def test_finished_months_are_merged_once_and_keep_their_mapping_version(es: Elasticsearch, prefix: str) -> None:
    ensure_schema(es, prefix)
    old, current = f"{prefix}-mentions-2026.09", f"{prefix}-mentions-2026.11"
    for index in (old, current):
        for n in range(3):  # three refreshes: three segments
            es.index(index=index, id=f"{index}-{n}", document={"mention_id": f"m{n}", "platform": "weibo"},
                     refresh=True)
    assert _segments(es, old) == 3
    assert compact(es, prefix, NOW, timedelta(days=7)) == [old]
    assert _segments(es, old) == 1 and _segments(es, current) == 3
    meta = es.indices.get_mapping(index=old)[old]["mappings"]["_meta"]
    assert meta["compacted_at"] == NOW.isoformat() and meta["mapping_version"] == mapping.MAPPING_VERSION
    es.index(index=old, id="late", document={"mention_id": "late", "platform": "weibo"}, refresh=True)
    assert compact(es, prefix, NOW + timedelta(days=1), timedelta(days=7)) == []  # once: a late re-crawl stays put
    assert es.count(index=mapping.alias(prefix))["count"] == 7
