"""Cluster ids are pinned on a sample: resolving stored clusters through their founders' own bands (mapping
version 4, `cluster_bands`) gives every mention the cluster the earlier resolver (a terms search over every stored
mention's bands) gave it. The sample (copies of a few complaints, and
bench/generate.py's posts) is ingested in three runs, so most copies are resolved against the store, not
the run's memory. `tests/data/cluster_ids_pinned.tsv` was recorded with the code before that change (6f8a380);
mentions not listed there are their own cluster.

Two of the sample's 6,500 mentions are expected to differ, exactly as pipelines.clusters says they may: each is at
the similarity threshold to its stored cluster's founder (0.5 and 0.52) and shares no band key with it, only with a
copy; the earlier resolver found the cluster through the copy, the founder search does not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.conftest import DATA, Gs, write_jsonl
from tests.test_parallel_ingest import sample, stored

PINNED = DATA / "cluster_ids_pinned.tsv"
ROOT = Path(__file__).resolve().parent.parent
AT_THE_THRESHOLD = {  # mention id -> the cluster the earlier resolver gave it (now its own)
    "jd-d95f8bd525cd8ebddefa0833": "weibo-59e640bd336431ac5aa4bc9b",
    "weibo-158a3300daf59415d04fbfef": "jd-d4fc07df781022d6231c5c29",
}


def _rows() -> list:
    rows = [r for r in sample(1500, seed=14) + sample(900, seed=15) if isinstance(r, dict)]
    for i, r in enumerate(rows[1500:]):  # the second sample: other posts, copies of the first one's texts
        r["source_id"] = str(50_000 + i)
        r.pop("repost_of", None)
    # and the benchmark's data: mostly distinct posts, a few percent copies and paraphrases of earlier ones
    made = subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "-", "-n", "4000"], check=True,
                          capture_output=True, text=True).stdout
    return rows + [json.loads(line) for line in made.splitlines()]


@pytest.mark.es
def test_cluster_ids_match_the_pinned_ones(es: Elasticsearch, prefix: str, tmp_path: Path) -> None:
    rows = _rows()
    thirds = [rows[: len(rows) // 3], rows[len(rows) // 3 : 2 * len(rows) // 3], rows[2 * len(rows) // 3 :]]
    gs = Gs(prefix)
    for n, part in enumerate(thirds):
        result = gs("ingest", str(write_jsonl(tmp_path / f"{n}.jsonl", part)), "--batch-size", "100",
                    "--workers", "0")
        assert result.exit_code == 0, result.output
    got = {k: d["cluster_id"] for k, d in stored(es, prefix).items()}
    pinned = dict(line.split("\t") for line in PINNED.read_text(encoding="utf-8").splitlines())
    expected = {k: pinned.get(k, k) for k in got}
    assert len(got) > 5500 and sum(1 for k, c in got.items() if c != k) > 2000
    differ = {k: (expected[k], c) for k, c in got.items() if c != expected[k]}
    assert differ == {k: (was, k) for k, was in AT_THE_THRESHOLD.items()}
