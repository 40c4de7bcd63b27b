"""`groundswell run` and `groundswell status` against the real node and the simulator.

The service runs as its own process (as in production: it installs signal handlers and starts crawl children);
the simulator runs in this one so the test can slow it down and see when a crawl is in flight.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from elasticsearch import Elasticsearch

from groundswell.cli.main import cli
from groundswell.scheduler import runs
from sites.credentials import demo_env
from sites.server import Simulator
from store import mapping

pytestmark = [pytest.mark.es, pytest.mark.slow]

BRANDS = [{"name": "小米", "aliases": ["Xiaomi", "MI"], "exclusions": ["小米粥"]}]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=3, port=0) as s:
        yield s


def write_config(tmp_path: Path, sources: list[dict[str, Any]], **scheduler: Any) -> Path:
    path = tmp_path / "groundswell.yaml"
    path.write_text(yaml.safe_dump({
        "brands": BRANDS,
        "sources": sources,
        "scheduler": {"job_store_url": f"sqlite:///{tmp_path / 'jobs.sqlite'}", "alerts_every_minutes": 100_000,
                      **scheduler},
    }, allow_unicode=True), encoding="utf-8")
    return path


def source(sim: Simulator, name: str = "wb", **over: Any) -> dict[str, Any]:
    return {"name": name, "spider": "weibo", "keywords": ["小米"], "base_url": sim.url, "max_pages": 1,
            "interval_minutes": 1, "jitter_seconds": 0, **over}


def env_for(prefix: str, tmp_path: Path, clock: str | None = None) -> dict[str, str]:
    env = {**os.environ, **demo_env(), "GROUNDSWELL_INDEX_PREFIX": prefix, "GROUNDSWELL_HOME": str(tmp_path / "home")}
    env.pop("GROUNDSWELL_CLOCK", None)
    if clock:
        env["GROUNDSWELL_CLOCK"] = clock
    return env


def run_cli(config: Path, env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "groundswell.cli.main", "--config", str(config), "run", "--json", *args],
        env=env, capture_output=True, text=True, timeout=timeout,
    )


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def frozen_clock(speed: float) -> str:
    return f"2026-11-24T10:00:00+08:00@{speed:g}@{time.time():.3f}"


def t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_jobs_fire_and_a_job_never_overlaps_itself(sim: Simulator, prefix: str, tmp_path: Path,
                                                   es: Elasticsearch) -> None:
    # every simulated minute at 60x is every real second, and a crawl takes longer: runs must queue, not overlap
    sim.set_faults(slow_seconds=0.5)
    config = write_config(tmp_path, [source(sim)])
    proc = run_cli(config, env_for(prefix, tmp_path, frozen_clock(60)), "--for", "20")
    assert proc.returncode == 0, proc.stderr[-3000:]
    done = runs.history(es, prefix, "crawl:wb")
    finished = [r for r in done if r["result"] != "skipped"]
    assert len(finished) >= 2 and all(r["result"] == "ok" for r in finished), done
    assert any(r["result"] == "skipped" and "still going" in r["error"] for r in done), done
    spans = sorted((t(r["started_at"]), t(r["finished_at"])) for r in finished)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, spans
    assert next(e["event"] for e in events(proc.stdout)) == "start"
    assert events(proc.stdout)[-1] == {"event": "end", "signal": None}


def test_state_survives_a_restart_and_config_changes_are_reconciled(sim: Simulator, prefix: str, tmp_path: Path,
                                                                    es: Elasticsearch) -> None:
    clock = frozen_clock(60)
    env = env_for(prefix, tmp_path, clock)
    config = write_config(tmp_path, [source(sim, interval_minutes=600), source(sim, "rd", spider="reddit",
                                                                                keywords=["Xiaomi"])])
    first = events(run_cli(config, env, "--for", "3").stdout)
    assert sorted(first[0]["added"]) == ["alerts", "compaction", "crawl:rd", "crawl:wb", "revisit:rd", "revisit:wb"]
    with sqlite3.connect(tmp_path / "jobs.sqlite") as db:
        before = dict(db.execute("SELECT id, next_run_time FROM apscheduler_jobs").fetchall())

    second = events(run_cli(config, env, "--for", "1").stdout)
    assert second[0]["added"] == [] and second[0]["replaced"] == [] and len(second[0]["kept"]) == 6
    after = {j["id"]: t(j["next_run"]).timestamp() for j in second[0]["jobs"]}
    # not re-planned from now: the stored next run of the crawl ten simulated hours away is the same instant
    assert after["crawl:wb"] == pytest.approx(before["crawl:wb"], abs=0.01)
    assert after["revisit:wb"] == pytest.approx(before["revisit:wb"], abs=0.01)
    assert len([r for r in runs.history(es, prefix, "crawl:wb") if r["result"] == "ok"]) == 1

    config = write_config(tmp_path, [source(sim, interval_minutes=30)])
    third = events(run_cli(config, env, "--for", "1").stdout)[0]
    assert third["replaced"] == ["crawl:wb"] and sorted(third["removed"]) == ["crawl:rd", "revisit:rd"]
    assert sorted(third["kept"]) == ["alerts", "compaction", "revisit:wb"]


def test_a_hung_crawl_is_killed_at_its_time_limit_and_recorded(sim: Simulator, prefix: str, tmp_path: Path,
                                                               es: Elasticsearch) -> None:
    sim.set_faults(slow_seconds=120)  # every response hangs far past the limit
    config = write_config(tmp_path, [source(sim, time_limit_minutes=0.05)])  # 3 s
    proc = run_cli(config, env_for(prefix, tmp_path), "--once", "--kill-grace", "2")
    assert proc.returncode == 1, proc.stderr[-3000:]
    [run] = [r for r in runs.history(es, prefix, "crawl:wb")]
    assert run["result"] == "killed" and "time limit" in run["error"], run
    assert run["exit_code"] in (-signal.SIGTERM, -signal.SIGKILL, 1), run


def test_sigterm_mid_crawl_loses_no_mention(sim: Simulator, prefix: str, tmp_path: Path, es: Elasticsearch) -> None:
    sim.set_faults(slow_seconds=0.3)
    config = write_config(tmp_path, [source(sim, max_pages=5, interval_minutes=600)])
    proc = subprocess.Popen(
        [sys.executable, "-m", "groundswell.cli.main", "--config", str(config), "run", "--json", "--grace", "0",
         "--kill-grace", "60"],
        env=env_for(prefix, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while sim.dice.count < 4 and time.monotonic() < deadline:  # the crawl child is fetching
            time.sleep(0.1)
        assert sim.dice.count >= 4
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    assert events(out)[-1] == {"event": "end", "signal": "SIGTERM"}
    [run] = runs.history(es, prefix, "crawl:wb")
    assert run["result"] == "killed" and "shutdown" in run["error"], run
    stats = run["stats"]
    assert stats["items"] > 0 and stats["finish_reasons"] == ["shutdown"], stats
    # everything that came through the pipelines was written when Scrapy closed the spider
    assert stats["indexed"] + stats["updated"] + stats["duplicates"] + stats["spooled"] == stats["items"], stats
    es.indices.refresh(index=mapping.alias(prefix))
    assert es.count(index=mapping.alias(prefix))["count"] == stats["indexed"]
    assert not list((tmp_path / "home").glob("spool/*"))


def test_status_json_shows_jobs_runs_and_crawler_health(sim: Simulator, prefix: str, tmp_path: Path,
                                                        es: Elasticsearch) -> None:
    config = write_config(tmp_path, [source(sim, interval_minutes=600)])
    env = env_for(prefix, tmp_path)
    events(run_cli(config, env, "--for", "8").stdout)
    result = CliRunner().invoke(cli, ["--config", str(config), "status", "--json"],
                                env={"GROUNDSWELL_INDEX_PREFIX": prefix, "GROUNDSWELL_HOME": env["GROUNDSWELL_HOME"]},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == {"now", "index_prefix", "job_store", "running", "pid", "jobs", "sources", "deployment"}
    assert report["deployment"] is None  # no Redis: one machine
    assert report["running"] is False and report["index_prefix"] == prefix
    jobs = {j["id"]: j for j in report["jobs"]}
    assert set(jobs) == {"alerts", "compaction", "crawl:wb", "revisit:wb"}
    crawl = jobs["crawl:wb"]
    assert set(crawl) == {"id", "kind", "source", "name", "trigger", "next_run", "last_run"}
    assert crawl["kind"] == "crawl" and crawl["source"] == "wb" and crawl["next_run"]
    assert crawl["last_run"]["result"] == "ok" and crawl["last_run"]["items"] > 0
    assert jobs["alerts"]["last_run"] == {}
    [health] = report["sources"]
    assert health["source"] == "wb" and health["source_key"].startswith("weibo:小米@")
    assert health["broken"] is False and health["silent"] is False and health["zero_results"] is False


def test_crawl_accepts_a_configured_source_name(sim: Simulator, prefix: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, [source(sim, name="my-weibo")])
    proc = subprocess.run(
        [sys.executable, "-m", "groundswell.cli.main", "--config", str(config), "crawl", "my-weibo", "--json"],
        env=env_for(prefix, tmp_path), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [stats] = events(proc.stdout)
    assert stats["spider"] == "weibo" and stats["keyword"] == "小米" and stats["item_scraped_count"] > 0
    bad = subprocess.run(
        [sys.executable, "-m", "groundswell.cli.main", "--config", str(config), "crawl", "nope"],
        env=env_for(prefix, tmp_path), capture_output=True, text=True, timeout=300,
    )
    assert bad.returncode == 2 and "configured sources: my-weibo" in bad.stderr


def test_sites_follow_the_shared_clock(tmp_path: Path) -> None:
    spec = f"2026-11-24T10:00:00+08:00@120@{time.time() - 30:.3f}"  # started 30 real s ago: 1 simulated hour in
    proc = subprocess.Popen([sys.executable, "-m", "groundswell.cli.main", "sites", "--port", "0", "--json"],
                            env={**os.environ, "GROUNDSWELL_CLOCK": spec}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert info["shared_clock"] is True and info["speed"] == 120
    started = t(info["now"])
    assert t("2026-11-24T11:00:00+08:00") <= started < t("2026-11-24T12:00:00+08:00")


def _children_of(pid: int) -> list[int]:
    """Live processes whose parent is `pid` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def _descendants(pid: int) -> list[int]:
    """Live processes below `pid`, however deep (a crawl forked by the fork server is the service's grandchild)."""
    out, todo = [], [pid]
    while todo:
        for child in _children_of(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def _crawls_of(pid: int) -> list[int]:
    """The crawl children below a service: the processes below it leading their own session (a crawl child is one;
    the fork server and multiprocessing's resource tracker are not)."""
    out = []
    for p in _descendants(pid):
        with contextlib.suppress(OSError, IndexError):
            if int(Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[3]) == p:
                out.append(p)
    return out


def _alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet is not running)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return bool(predicate())


def test_a_service_killed_with_sigkill_leaves_no_orphan_and_its_run_is_recorded_lost(
    sim: Simulator, prefix: str, tmp_path: Path, es: Elasticsearch
) -> None:
    sim.set_faults(slow_seconds=60)  # the crawl hangs on its page, silently
    config = write_config(tmp_path, [source(sim, interval_minutes=600)])
    env = env_for(prefix, tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "groundswell.cli.main", "--config", str(config), "run", "--json", "--kill-grace", "3"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "run.log", "w"),  # noqa: SIM115
    )
    try:
        assert _wait(lambda: sim.dice.count >= 1 and _crawls_of(proc.pid), 120)  # the crawl child is fetching
        found = _crawls_of(proc.pid)
        assert len(found) == 1, (found, (tmp_path / "run.log").read_text()[-3000:])
        child, below = found[0], _descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # the crawl does not go on alone: once its service is gone it gets SIGTERM, and SIGKILL after the grace;
        # nor does anything else the service started (the fork server, multiprocessing's resource tracker)
        assert _wait(lambda: not _alive(child), 20), f"crawl child {child} outlived its service"
        assert _wait(lambda: not any(_alive(p) for p in below), 20), [p for p in below if _alive(p)]
    finally:
        if proc.poll() is None:
            proc.kill()
    started = run_cli(config, env, "--for", "2")
    assert started.returncode == 0, started.stderr[-3000:]
    [run] = runs.history(es, prefix, "crawl:wb")
    assert run["result"] == "lost", run
    assert f"pid {proc.pid}" in run["error"] and run["finished_at"], run
    assert any(e.get("event") == "lost" and e["job_id"] == "crawl:wb" for e in events(started.stdout))


def test_an_orphaned_crawl_child_is_stopped_at_the_next_start(prefix: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A child that outlived a killed service (one that shrugs off SIGTERM, say) is recorded by pid in the
    service's children folder; the next start stops its whole process group."""
    from groundswell.scheduler import children, service

    config = write_config(tmp_path, [])
    env = env_for(prefix, tmp_path)
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"],
        start_new_session=True,
    )
    try:
        from groundswell import config as gsconfig

        monkeypatch.setenv("GROUNDSWELL_HOME", env["GROUNDSWELL_HOME"])
        folder = service.children_dir(gsconfig.load(str(config), env=env))
        children.register(folder, stubborn.pid, ["groundswell", "crawl", "wb"])
        assert list(folder.iterdir())
        started = run_cli(config, env, "--for", "1", "--kill-grace", "1")
        assert started.returncode == 0, started.stderr[-3000:]
        assert stubborn.wait(timeout=30) == -signal.SIGKILL
        assert [e["pid"] for e in events(started.stdout) if e.get("event") == "orphan_stopped"] == [stubborn.pid]
        assert not list(folder.iterdir())
    finally:
        if stubborn.poll() is None:
            stubborn.kill()


def test_a_run_of_a_dead_process_on_this_host_is_recorded_lost(prefix: str, tmp_path: Path,
                                                                es: Elasticsearch) -> None:
    """A killed `run --once` holds no job store; its runs are found by their dead process, on the same host only."""
    import socket
    from datetime import UTC

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    at = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    mine = runs.JobRun("crawl:wb", "crawl", at, None, "running", source="wb", host=socket.gethostname(), pid=dead.pid)
    elsewhere = runs.JobRun("crawl:rd", "crawl", at, None, "running", source="rd", host="another-host", pid=dead.pid)
    alive = runs.JobRun("alerts", "alerts", at, None, "running", host=socket.gethostname(), pid=os.getpid())
    for r in (mine, elsewhere, alive):
        runs.record(es, prefix, r)
    config = write_config(tmp_path, [])
    proc = run_cli(config, env_for(prefix, tmp_path), "--once")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [e["job_id"] for e in events(proc.stdout) if e.get("event") == "lost"] == ["crawl:wb"]
    results = {r["job_id"]: r["result"] for r in runs.history(es, prefix) if r["job_id"] != "alerts"}
    assert results["crawl:wb"] == "lost" and results["crawl:rd"] == "running"
    assert runs.history(es, prefix, "alerts")[0]["result"] == "running"  # this process still runs
