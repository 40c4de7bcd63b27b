"""Cluster ids are pinned on a sample: resolving stored clusters through their founders' own bands (mapping
version 4, `cluster_bands`) gives every mention the cluster the earlier resolver (a terms search over every stored
mention's bands) gave it. The sample (copies of a few complaints, and
bench/generate.py's posts) is ingested in three runs, so most copies are resolved against the store, not
the run's memory. `tests/data/cluster_ids_pinned.tsv` was recorded with the code before that change (6f8a380);
mentions not listed there are their own cluster.

Five of the sample's 6,500 mentions are expected to differ, exactly as pipelines.clusters says they may. Four are at
the similarity threshold to their stored cluster's founder (0.50 to 0.55) and share no band key with it: two shared
one only with a copy (the earlier resolver found the cluster through the copy, the founder search does not), two
only with another document of their batch (a founder is now a candidate for the documents sharing a band with it,
as in the in-memory index, not for the whole batch, so that a cluster does not depend on the batch size). The fifth
is a copy of one of those, and follows it into its new cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.conftest import DATA, Gs, write_jsonl
from tests.test_parallel_ingest import sample, stored

PINNED = DATA / "cluster_ids_pinned.tsv"
ROOT = Path(__file__).resolve().parent.parent
CHANGED = {  # mention id -> (the cluster the earlier resolver gave it, the one it has now)
    # at the threshold (0.50, 0.52), a band shared only with a copy of the founder
    "jd-d95f8bd525cd8ebddefa0833": ("weibo-59e640bd336431ac5aa4bc9b", "jd-d95f8bd525cd8ebddefa0833"),
    "weibo-158a3300daf59415d04fbfef": ("jd-d4fc07df781022d6231c5c29", "weibo-158a3300daf59415d04fbfef"),
    # at the threshold (0.50, 0.55), a band shared only with another document of the batch
    "reddit-bbf009f2c90973c134735ddb": ("reddit-c3e1ed19a1eacaf2588b8b69", "reddit-bbf009f2c90973c134735ddb"),
    "weibo-2e6a994a5df80edaeb22a48c": ("jd-89dd2a7fc1f79f84c5fdc0ff", "weibo-2e6a994a5df80edaeb22a48c"),
    # a copy of the one above (0.41 to the old founder: it joined that cluster through its copy), following it
    "xiaohongshu-e4c848d47468bc4c54ade9a1": ("jd-89dd2a7fc1f79f84c5fdc0ff", "weibo-2e6a994a5df80edaeb22a48c"),
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


def _ingest(prefix: str, rows: list, tmp_path: Path, env: dict[str, str] | None = None) -> None:
    thirds = [rows[: len(rows) // 3], rows[len(rows) // 3 : 2 * len(rows) // 3], rows[2 * len(rows) // 3 :]]
    gs = Gs(prefix, env)
    for n, part in enumerate(thirds):
        result = gs("ingest", str(write_jsonl(tmp_path / f"{n}.jsonl", part)), "--batch-size", "100",
                    "--workers", "0")
        assert result.exit_code == 0, result.output


def _seen(doc: dict) -> datetime:
    return datetime.fromisoformat(doc["first_seen_at"].replace("Z", "+00:00"))


@pytest.mark.es
def test_cluster_ids_match_the_pinned_ones(es: Elasticsearch, prefix: str, tmp_path: Path) -> None:
    """With a window wider than the sample's two months, as the earlier resolver had none."""
    config = tmp_path / "wide.yaml"
    config.write_text("clusters:\n  window_days: 3660\n", encoding="utf-8")
    _ingest(prefix, _rows(), tmp_path, {"GROUNDSWELL_CONFIG": str(config)})
    got = {k: d["cluster_id"] for k, d in stored(es, prefix).items()}
    pinned = dict(line.split("\t") for line in PINNED.read_text(encoding="utf-8").splitlines())
    expected = {k: pinned.get(k, k) for k in got}
    assert len(got) > 5500 and sum(1 for k, c in got.items() if c != k) > 2000
    differ = {k: (expected[k], c) for k, c in got.items() if c != expected[k]}
    assert differ == CHANGED


@pytest.mark.es
def test_no_mention_joins_a_cluster_older_than_the_window(es: Elasticsearch, prefix: str, tmp_path: Path) -> None:
    """The default window (30 days) on the same sample, whose copies are up to two months from their originals
    (bench/generate.py spreads posts over September and October): every mention's cluster was founded within 30
    days of it, whichever path found the cluster (this run's memory or the store), and the mentions whose pinned
    cluster was founded further away than that are in other clusters now; the others mostly keep theirs."""
    _ingest(prefix, _rows(), tmp_path)
    docs = stored(es, prefix)
    window = timedelta(days=30)
    # (a repost joins its original's cluster whatever its age: it names it)
    clustered = [k for k, d in docs.items() if d["cluster_id"] != k and not d.get("repost_of")]
    assert len(clustered) > 2000
    assert all(abs(_seen(docs[k]) - _seen(docs[docs[k]["cluster_id"]])) <= window for k in clustered)
    pinned = dict(line.split("\t") for line in PINNED.read_text(encoding="utf-8").splitlines())
    old = {k for k, c in pinned.items()
           if k in docs and not docs[k].get("repost_of") and abs(_seen(docs[k]) - _seen(docs[c])) > window}
    assert old and all(docs[k]["cluster_id"] != pinned[k] for k in old)
    kept = [k for k, c in pinned.items() if k in docs and k not in old and docs[k]["cluster_id"] == c]
    assert len(kept) > 0.95 * (len([k for k in pinned if k in docs]) - len(old))
