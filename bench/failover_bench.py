"""Scheduler failover: time from SIGKILL of the active `groundswell run` to the standby's first job, over many
kill/restart cycles, and whether any job ran twice; writes the "## Scheduler failover" section of bench/RESULTS.md.

Two `groundswell run --json` processes share one Redis (the lease) and one SQLite job store; the schedule is alert
evaluation every 3 seconds. Each cycle kills the active process, times until the standby prints its first job run,
and starts a new standby. At the end every job run printed by any process is checked against the others (the run
id is the job and the time it was scheduled for, claimed once): none may appear twice.

Usage: nice -n 10 .venv/bin/python bench/failover_bench.py [--cycles 100] [--lease 10] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import results  # noqa: E402
from groundswell import config as gsconfig  # noqa: E402
from groundswell.scheduler import runs as job_runs  # noqa: E402
from store.client import make_client  # noqa: E402
from tests.conftest import delete_prefix  # noqa: E402
from tests.redis_server import redis_server  # noqa: E402
from tests.scheduler_process import Scheduler, stop_all  # noqa: E402

SECTION = "## Scheduler failover"
EVERY_MINUTES = 0.05  # alert evaluation every 3 s


def wait(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=100)
    ap.add_argument("--lease", type=float, default=10.0, help="redis.lease_seconds (the default is 10)")
    ap.add_argument("--no-write", action="store_true")
    opts = ap.parse_args()
    load = os.getloadavg()
    started = datetime.now(UTC)
    prefix = f"gsbenchf-{uuid.uuid4().hex[:8]}"
    failovers: list[float] = []
    missed: list[int] = []
    everyone: list[Scheduler] = []
    with tempfile.TemporaryDirectory() as tmp, redis_server() as url:
        config = Path(tmp) / "groundswell.yaml"
        config.write_text(yaml.safe_dump({
            "scheduler": {"job_store_url": f"sqlite:///{Path(tmp) / 'jobs.sqlite'}",
                          "alerts_every_minutes": EVERY_MINUTES},
            "redis": {"url": url, "key_prefix": f"gsbench:{prefix}", "lease_seconds": opts.lease},
        }), encoding="utf-8")
        env = {**os.environ, "GROUNDSWELL_INDEX_PREFIX": prefix, "GROUNDSWELL_HOME": str(Path(tmp) / "home")}
        env.pop("GROUNDSWELL_CLOCK", None)
        try:
            active = Scheduler(config, env)
            everyone.append(active)
            if not wait(lambda: active.runs(), 120):
                raise SystemExit("the first scheduler ran no job within 120 s")
            standby = Scheduler(config, env)
            everyone.append(standby)
            wait(lambda: standby.seen("standby"), 120)
            for cycle in range(opts.cycles):
                killed = time.monotonic()
                active.proc.send_signal(signal.SIGKILL)
                active.proc.wait(30)
                got = wait(lambda s=standby, k=killed: next(
                    (t for t, e in s.events if e.get("event") == "job_run" and t > k), None), 120)
                if got is None:
                    missed.append(cycle)
                else:
                    failovers.append(got - killed)
                active, standby = standby, Scheduler(config, env)
                everyone.append(standby)
                wait(lambda s=standby: s.seen("standby"), 120)
                print(f"cycle {cycle + 1}: {failovers[-1] if got else float('nan'):.2f}s", flush=True)
        finally:
            stop_all(everyone, 60)
        done = [r for s in everyone for r in s.runs() if r.get("result") != "skipped"]
        counts = Counter(r["run_id"] for r in done)
        twice = [rid for rid, n in counts.items() if n > 1]
        cfg = gsconfig.load(str(config), env=env)
        es = make_client(cfg.elasticsearch)
        es.indices.refresh(index=job_runs.runs_index(prefix))
        history = job_runs.history(es, prefix, size=10_000)
        stored = [r for r in history if r["result"] not in ("skipped", "running", "lost")]
        lost = sum(r["result"] == "lost" for r in history)
        delete_prefix(es, prefix)
        es.close()
    report = render(opts, load, started, failovers, missed, len(done), twice, len(stored), lost, len(everyone))
    print(report)
    if not opts.no_write:
        results.write_section(SECTION, report)


def render(opts: argparse.Namespace, load: tuple[float, float, float], started: datetime, failovers: list[float],
           missed: list[int], runs: int, twice: list[str], stored: int, lost: int, processes: int) -> str:
    q = statistics.quantiles(failovers, n=20) if len(failovers) >= 2 else failovers * 19
    return "\n".join([
        SECTION, "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC by `nice -n 10 .venv/bin/python bench/failover_bench.py --cycles "
        f"{opts.cycles} --lease {opts.lease:g}`.", "",
        f"- Machine: nproc {os.cpu_count()}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start; Redis: "
        "Debian's redis-server on loopback; Elasticsearch: the local node; job store: one SQLite file.",
        f"- Schedule: alert evaluation every {EVERY_MINUTES * 60:g} s; `redis.lease_seconds: {opts.lease:g}` (renewed "
        "every third of it; standbys try every second). Each cycle SIGKILLs the active `groundswell run` and starts "
        f"a new standby: {opts.cycles} cycles, {processes} processes in all.",
        "- Failover time: from the SIGKILL to the first job run the standby prints (its lease's expiry, its next "
        "try, the scheduler's start on the shared job store and the first, coalesced, run).", "",
        "| cycles | failed over | median s | p95 s | max s | target |",
        "|---:|---:|---:|---:|---:|---|",
        f"| {opts.cycles} | {len(failovers)} | {statistics.median(failovers):.2f} | {q[18]:.2f} | "
        f"{max(failovers):.2f} | within 30 s |",
        "",
        f"Job runs printed by all processes: {runs}; run ids printed twice (a job run twice): **{len(twice)}**"
        + (f" ({', '.join(twice[:5])})" if twice else "")
        + f"; job-run records of finished runs (not skipped): {stored}; runs a kill cut short, recorded lost by "
        f"the next holder of the lease: {lost}."
        + (" More records than printed lines: a process killed after recording a run (which waits for the index "
           "refresh) and before printing it; each record's id is its job and scheduled time, claimed once, so a run "
           "recorded by a killed process was not run again by its successor." if stored > runs else "")
        + (f" Cycles with no failover within 120 s: {missed}." if missed else ""),
        "",
    ])


if __name__ == "__main__":
    main()
