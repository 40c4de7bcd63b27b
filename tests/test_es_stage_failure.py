"""A bug in the Elasticsearch stage (not the store) loses nothing: the batch it failed on and the rest of the run
are spooled like in an outage, said in one line, and the next run stores them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from pipelines.clusters import ClusterResolver
from store import mapping
from tests.conftest import Gs, write_jsonl


@pytest.mark.es
def test_a_failing_batch_is_spooled_and_the_next_run_stores_it(
    es: Elasticsearch, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [{"platform": "weibo", "source_id": str(i), "text": f"第{i}条：小米手机用了{i % 7 + 2}天就黑屏，客服不回复",
             "published_at": "2026-10-05T08:00:00Z", "crawled_at": "2026-10-05T09:00:00Z"} for i in range(450)]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    gs = Gs(prefix, {"GROUNDSWELL_HOME": str(tmp_path / "home")})
    resolve = ClusterResolver.resolve
    calls = {"n": 0}

    def broken(self: ClusterResolver, docs: list[dict[str, Any]]) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyError("a bug")
        resolve(self, docs)

    monkeypatch.setattr(ClusterResolver, "resolve", broken)
    first = gs("ingest", str(path), "--json", "--workers", "0", "--batch-size", "100")
    assert first.exit_code == 3
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["indexed"] == 100 and summary["spooled"] == 350
    assert "the Elasticsearch stage failed: KeyError" in summary["error"]
    assert "Traceback" not in first.stderr.split("\n")[-3:]

    monkeypatch.setattr(ClusterResolver, "resolve", resolve)  # fixed
    second = gs("ingest", "--json", "--workers", "0")
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout.strip().splitlines()[-1])["replayed"] == 350
    es.indices.refresh(index=mapping.alias(prefix))
    assert es.count(index=mapping.alias(prefix))["count"] == 450
