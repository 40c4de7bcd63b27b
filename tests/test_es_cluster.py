"""A replicated cluster losing a node: three real nodes (tests/es_cluster.py), one replica, one node killed with
SIGKILL while `groundswell ingest` writes and the alert engine evaluates. Every mention is stored once, the alerts
go on on the yellow cluster, and the incident's email is sent once. bench/node_loss_bench.py does the same with
50,000 mentions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from alerts import engine
from alerts.model import Match
from core.config import Elasticsearch as EsSettings
from groundswell import config as gsconfig
from groundswell import esnode
from store import mapping
from store.client import make_client
from tests.es_cluster import Cluster, three_nodes
from tests.smtp_sink import running_sink

pytestmark = [pytest.mark.es, pytest.mark.slow]

MENTIONS = 3000
AT = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with three_nodes() as c:
        yield c


def _lines(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({
                "platform": "weibo", "source_id": f"loss-{i}", "text": f"小米手机第{i}次黑屏，客服不理人",
                "published_at": (AT - timedelta(minutes=i % 600)).isoformat(), "author": f"user{i % 97}",
                "crawled_at": AT.isoformat(), "reposts": i % 13,
            }, ensure_ascii=False) + "\n")
    return path


def _viral(ids: list[str]) -> engine.Matcher:
    def match(cfg: gsconfig.Config, es: Elasticsearch, at: datetime) -> tuple[list[Match], list[str]]:
        return [Match(rule="viral", rule_type="viral_spread", severity="urgent", at=at, summary="黑屏 spreads",
                      brand="小米", cluster_id=ids[0], mention_ids=tuple(ids), query=f"cluster_id:{ids[0]}",
                      evidence={"reposts_per_hour": 1200.0, "authors": 150.0})], []

    return match


def test_a_node_dies_mid_ingest_and_mid_alerts(cluster: Cluster, tmp_path: Path) -> None:
    prefix = f"gstest-{uuid.uuid4().hex[:10]}"
    urls = ",".join(cluster.urls)
    env = {**os.environ, "GROUNDSWELL_ES_URL": urls, "GROUNDSWELL_INDEX_PREFIX": prefix,
           "GROUNDSWELL_HOME": str(tmp_path / "home")}
    settings = EsSettings(url=urls, index_prefix=prefix, replicas=1)
    es = make_client(settings, retries=2)
    path = _lines(tmp_path / "mentions.jsonl", MENTIONS)
    config = tmp_path / "groundswell.yaml"
    config.write_text("elasticsearch: {replicas: 1}\n", encoding="utf-8")
    ingest = subprocess.Popen(
        [sys.executable, "-m", "groundswell.cli.main", "--config", str(config), "ingest", str(path),
         "--batch-size", "100", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with running_sink() as sink:
        cfg = gsconfig.load(str(config), env={
            "GROUNDSWELL_ES_URL": urls, "GROUNDSWELL_INDEX_PREFIX": prefix, "GROUNDSWELL_SMTP_HOST": "127.0.0.1",
            "GROUNDSWELL_SMTP_PORT": str(sink.port), "GROUNDSWELL_ALERT_TO": "lead@example.com"})
        matcher = _viral([mapping.doc_id("weibo", "loss-0"), mapping.doc_id("weibo", "loss-1")])
        evaluations: list[engine.RunReport] = []
        failures: list[str] = []
        stop = threading.Event()

        def evaluate() -> None:  # the scheduler's every-minute job, as fast as it goes
            while not stop.is_set():
                try:
                    evaluations.append(engine.run_once(cfg, es, at=AT, matcher=matcher))
                except Exception as exc:  # an evaluation cut by the dying node; the next one goes on
                    failures.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.05)

        alerts = threading.Thread(target=evaluate, daemon=True)
        alerts.start()
        # kill a node that is not the elected master once part of the mentions are in
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and ingest.poll() is None:
            try:
                if es.count(index=mapping.alias(prefix))["count"] >= MENTIONS // 4:
                    break
            except Exception:
                pass
            time.sleep(0.1)
        master = es.cat.master(format="json")[0]["node"]
        victim = next(lay for lay in cluster.layouts() if lay.name != master)
        assert esnode.kill(victim) is not None
        killed_at = time.monotonic()
        out, err = ingest.communicate(timeout=600)
        time.sleep(1.0)
        after_kill = [r for r in evaluations[-3:]]
        stop.set()
        alerts.join(60)
        assert time.monotonic() - killed_at > 0
        health = es.cluster.health()
        assert health["status"] == "yellow" and health["number_of_nodes"] == 2
        report = json.loads(out.strip().splitlines()[-1])
        assert ingest.returncode == 0, (report, err[-2000:])
        es.indices.refresh(index=mapping.alias(prefix))
        assert es.count(index=mapping.alias(prefix))["count"] == MENTIONS  # every mention, each once
        # a bulk cut by the dying node is sent again: what it had stored then counts as already there
        assert report["indexed"] + report["duplicates"] == MENTIONS and report["spooled"] == 0, report
        # the alerts went on: evaluations after the kill succeeded, and the incident was mailed once
        assert after_kill and all(not r.errors for r in after_kill), [r.errors for r in after_kill]
        engine.run_once(cfg, es, at=AT + timedelta(minutes=1), matcher=matcher)
        opened = [m for m in sink.messages if m.message["X-Groundswell-Kind"] == "opened"]
        assert len(opened) == 1, ([m.subject for m in sink.messages], failures[:3])
    es.close()
