"""Several `groundswell run` against one Redis and one job store: one schedules, the others stand by; killing the
active one (SIGKILL, as a dying machine) hands the schedule to a standby within seconds, and no job runs twice.

Real processes, a real Redis (tests/redis_server.py) and the real Elasticsearch node. A bounded number of
kill/restart cycles here; bench/failover_bench.py runs 100 and measures the failover time."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from elasticsearch import Elasticsearch

from groundswell.scheduler import runs
from tests.scheduler_process import Scheduler, stop_all

pytestmark = [pytest.mark.es, pytest.mark.slow]

LEASE_SECONDS = 3


def wait_for(what: str, check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_standby_takes_over_and_no_job_runs_twice(tmp_path: Path, prefix: str, redis_url: str,
                                                  es: Elasticsearch) -> None:
    config = tmp_path / "groundswell.yaml"
    config.write_text(yaml.safe_dump({
        "scheduler": {"job_store_url": f"sqlite:///{tmp_path / 'jobs.sqlite'}", "alerts_every_minutes": 0.05},
        "redis": {"url": redis_url, "key_prefix": f"gstest:{uuid.uuid4().hex[:8]}", "lease_seconds": LEASE_SECONDS},
    }), encoding="utf-8")
    env = {**os.environ, "GROUNDSWELL_INDEX_PREFIX": prefix, "GROUNDSWELL_HOME": str(tmp_path / "home")}
    env.pop("GROUNDSWELL_CLOCK", None)
    active = Scheduler(config, env)
    everyone = [active]
    killed_ones: list[Scheduler] = []
    try:
        wait_for("the first scheduler to run a job", lambda: active.runs())
        standby = Scheduler(config, env)
        everyone.append(standby)
        wait_for("the second one to stand by", lambda: standby.seen("standby"))
        assert not standby.runs()
        failovers = []
        for _cycle in range(3):
            killed_at = time.monotonic()
            killed_ones.append(active)
            active.proc.send_signal(signal.SIGKILL)
            active.proc.wait(10)
            first = wait_for("the standby's first job", lambda s=standby, k=killed_at: next(
                (t for t, e in s.events if e.get("event") == "job_run" and t > k), None), timeout=45)
            failovers.append(first - killed_at)
            active, standby = standby, Scheduler(config, env)
            everyone.append(standby)
            wait_for("the new standby", lambda s=standby: s.seen("standby"))
        print("failover seconds:", [round(f, 1) for f in failovers])
        assert max(failovers) < 30, failovers
        assert max(failovers) < LEASE_SECONDS + 10, failovers  # the lease's expiry, a poll, a start
    finally:
        stop_all(everyone, 30)
    done = [r for s in everyone for r in s.runs() if r["result"] != "skipped"]
    counts = Counter(r["run_id"] for r in done)
    assert done and all("@" in r["run_id"] for r in done), done[:3]  # claimed: job@scheduled time
    assert [rid for rid, n in counts.items() if n > 1] == [], "a job ran twice"
    es.indices.refresh(index=runs.runs_index(prefix))
    history = runs.history(es, prefix)
    stored = [r for r in history if r["result"] not in ("skipped", "running")]
    assert len({r["run_id"] for r in stored}) == len(stored)
    assert set(counts) <= {r["run_id"] for r in stored}
    # a run stored but never announced: its scheduler was SIGKILLed between recording it and printing it
    killed = {s.proc.pid for s in killed_ones}
    assert all(r.get("pid") in killed for r in stored if r["run_id"] not in counts), [
        (r["run_id"], r["result"], r.get("pid")) for r in stored if r["run_id"] not in counts]
    # a run cut by the SIGKILL was recorded lost by the next holder of the lease, and not run again by anyone
    assert [r["run_id"] for r in history if r["result"] == "running" and r.get("pid") in killed] == []
    lost = {r["run_id"] for r in history if r["result"] == "lost"}
    assert not lost & set(counts), lost
    said = {e["run_id"] for s in everyone for _, e in s.events if e.get("event") == "lost"}
    assert said == lost
