"""Crawl workers end to end: real `groundswell worker` processes, a real Redis, the simulator and Elasticsearch.

The scheduler hands a source's crawl to the workers and records one job run; the pages of one Bilibili crawl are
spread over two workers, each mention stored once, one run record and one cursor; a worker SIGKILLed mid-crawl
loses nothing: the mentions stored are exactly those a single uninterrupted crawl stores."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from elasticsearch import Elasticsearch, NotFoundError

from groundswell import config as gsconfig
from groundswell.workers.dispatch import run_units, unit_specs
from sites.server import Simulator
from store import mapping, state
from tests.conftest import delete_prefix

pytestmark = [pytest.mark.es, pytest.mark.slow]


class Worker:
    """One `groundswell worker --json` process and the events it printed."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "groundswell.cli.main", "--config", str(config), "worker", "--json"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.events: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr or []), daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.events.append(json.loads(line))

    def done(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == "unit_done"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=3, port=0, faults={"slow_seconds": 0.1}) as s:
        yield s


def write_config(tmp_path: Path, sim: Simulator, redis_url: str, **redis: Any) -> Path:
    path = tmp_path / "groundswell.yaml"
    path.write_text(yaml.safe_dump({
        "brands": [{"name": "小米", "aliases": ["Xiaomi"]}],
        "sources": [{"name": "bili", "spider": "bilibili", "keywords": ["小米"], "base_url": sim.url, "max_pages": 2,
                     "interval_minutes": 60}],
        "scheduler": {"job_store_url": f"sqlite:///{tmp_path / 'jobs.sqlite'}", "alerts_every_minutes": 100_000},
        "redis": {"url": redis_url, "key_prefix": f"gstest:{uuid.uuid4().hex[:8]}", "workers": True, **redis},
    }, allow_unicode=True), encoding="utf-8")
    return path


def env_for(prefix: str, tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "GROUNDSWELL_INDEX_PREFIX": prefix, "GROUNDSWELL_HOME": str(tmp_path / "home")}
    env.pop("GROUNDSWELL_CLOCK", None)
    return env


def stored_ids(es: Elasticsearch, prefix: str) -> list[str]:
    try:
        es.indices.refresh(index=mapping.alias(prefix))
        res = es.search(index=mapping.alias(prefix), size=10_000, source=False, query={"match_all": {}})
    except NotFoundError:
        return []
    return [hit["_id"] for hit in res["hits"]["hits"]]


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_scheduler_hands_a_crawl_to_workers_who_share_its_pages(
    tmp_path: Path, sim: Simulator, redis_url: str, es: Elasticsearch, prefix: str
) -> None:
    config = write_config(tmp_path, sim, redis_url)
    env = env_for(prefix, tmp_path)
    workers = [Worker(config, env) for _ in range(2)]
    try:
        wait_until(lambda: all(w.events for w in workers), 60, "the workers to start")
        run = subprocess.run([sys.executable, "-m", "groundswell.cli.main", "--config", str(config), "run", "--once",
                              "--json"], env=env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        job = next(json.loads(line) for line in run.stdout.splitlines() if '"job_run"' in line
                   and '"crawl:bili"' in line)
        assert job["result"] == "ok" and job["stats"]["on_workers"], job
        wait_until(lambda: sum(len(w.done()) for w in workers) == 2, 60, "both workers to finish their part")
    finally:
        for w in workers:
            w.stop()
    parts = {e["role"]: e for w in workers for e in w.done()}
    assert set(parts) == {"owner", "helper"}, [w.events for w in workers]
    assert parts["owner"]["items"] > 0 and parts["helper"]["items"] > 0  # the pages were spread
    ids = stored_ids(es, prefix)
    assert len(ids) == len(set(ids)) == job["indexed"] == job["items"] - job["stats"]["duplicates"] > 0
    runs = state.recent_runs(es, prefix, "bilibili:小米@127.0.0.1", 10)
    assert len(runs) == 1 and runs[0].items == job["items"]  # one record, of both workers' counts
    cursor = state.load_cursor(es, prefix, "bilibili:小米@127.0.0.1")
    assert cursor is not None  # saved once, by the owner


def test_a_worker_killed_mid_crawl_loses_nothing(
    tmp_path: Path, sim: Simulator, redis_url: str, es: Elasticsearch, prefix: str
) -> None:
    config = write_config(tmp_path, sim, redis_url, visibility_seconds=5, worker_lease_seconds=5)
    env = env_for(prefix, tmp_path)
    # what one uninterrupted crawl stores (the simulator's clock stands still: same posts, same pages)
    reference = f"gstest-{uuid.uuid4().hex[:10]}"
    plain = subprocess.run([sys.executable, "-m", "groundswell.cli.main", "--config", str(config), "crawl", "bili"],
                           env={**env, "GROUNDSWELL_INDEX_PREFIX": reference}, capture_output=True, text=True,
                           timeout=600)
    assert plain.returncode == 0, plain.stderr[-3000:]
    expected = set(stored_ids(es, reference))
    delete_prefix(es, reference)
    workers = [Worker(config, env) for _ in range(2)]
    try:
        wait_until(lambda: all(w.events for w in workers), 60, "the workers to start")
        cfg = gsconfig.load(str(config), env={**env})
        src = cfg.source("bili")
        assert src is not None
        outcome: list[Any] = []
        crawl = threading.Thread(target=lambda: outcome.append(run_units(cfg, unit_specs(cfg, src, "crawl:bili",
                                                                                         None), 600)))
        crawl.start()
        owner = None
        deadline = time.monotonic() + 120
        while owner is None and time.monotonic() < deadline:  # kill the owner once both work and items are in
            started = {e["role"]: w for w in workers for e in w.events if e["event"] == "unit_started"}
            if len(started) == 2 and len(stored_ids(es, prefix)) > 50:
                owner = started["owner"]
            time.sleep(0.2)
        assert owner is not None, "the crawl did not spread over both workers"
        owner.proc.send_signal(signal.SIGKILL)
        crawl.join(600)
        (results, stopped), = outcome
    finally:
        for w in workers:
            w.stop()
    assert not stopped and results[0]["finish_reason"] == "finished", results
    ids = stored_ids(es, prefix)
    assert len(ids) == len(set(ids))
    assert set(ids) == expected  # nothing lost, nothing extra
