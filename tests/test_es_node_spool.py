"""A second local node of our own, to start, stop mid-ingest and start again: `es start|status|stop`, and
the spool that keeps what was read while Elasticsearch was down, replayed by the next run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import LocalNode
from tests.conftest import Gs, delete_prefix, write_jsonl

pytestmark = [pytest.mark.es, pytest.mark.slow]

def _free_port_pair() -> int:
    """A port free for the node's HTTP and its transport (port + 100): other nodes may hold the usual 92xx."""
    import socket

    for port in range(9251, 9300):
        try:
            for p in (port, port + 100):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair in 9251-9299 (+100) for the second node")


PORT = _free_port_pair()
GS = [sys.executable, "-m", "groundswell.cli.main"]


def row(i: int) -> dict[str, object]:
    return {
        "platform": "weibo",
        "source_id": f"s{i}",
        "author": f"u{i % 50}",
        "text": f"第{i}条：小米手机黑屏",
        "published_at": "2026-11-24T10:00:00+08:00",
        "likes": i % 7,
    }


@pytest.fixture(scope="module")
def node_env() -> Iterator[dict[str, str]]:
    """A node on its own port and folders (outside /tmp/pytest-of-root, which the node user cannot enter)."""
    home = tempfile.mkdtemp(prefix="gs-node-", dir="/tmp")
    os.chmod(home, 0o755)
    env = {
        **os.environ,
        "GROUNDSWELL_HOME": home,
        "GROUNDSWELL_ES_PORT": str(PORT),
        "GROUNDSWELL_INDEX_PREFIX": "gsspool",
        "GROUNDSWELL_ES_VERSION": LocalNode().version,
    }
    env.pop("GROUNDSWELL_ES_URL", None)
    yield env
    subprocess.run([*GS, "es", "stop"], env=env, capture_output=True)
    shutil.rmtree(home, ignore_errors=True)


def gs(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*GS, *args], env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def alias_count(port: int, prefix: str) -> int:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{prefix}-mentions/_count", timeout=5) as resp:
        return int(json.loads(resp.read())["count"])


def test_start_status_stop_lifecycle(node_env: dict[str, str]) -> None:
    first = gs(node_env, "es", "start")
    assert "started" in first.stdout or "already running" in first.stdout
    again = gs(node_env, "es", "start")
    assert "already running" in again.stdout
    status = json.loads(gs(node_env, "es", "status", "--json").stdout)
    assert status["running"] and status["health"] in ("green", "yellow")
    assert status["version"] == LocalNode().version
    assert status["data"].startswith(node_env["GROUNDSWELL_HOME"])
    assert "stopped" in gs(node_env, "es", "stop").stdout
    down = gs(node_env, "es", "status", check=False)
    assert down.returncode == 3 and "unreachable" in down.stdout
    assert "not running" in gs(node_env, "es", "stop").stdout


def test_stop_mid_ingest_spools_then_replays(node_env: dict[str, str]) -> None:
    gs(node_env, "es", "start")
    spool = Path(node_env["GROUNDSWELL_HOME"]) / "spool" / "gsspool.jsonl"
    proc = subprocess.Popen(
        [*GS, "ingest", "--batch-size", "100", "--retries", "1", "--json", "-"],
        env=node_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    for i in range(1000):
        proc.stdin.write(json.dumps(row(i), ensure_ascii=False) + "\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the first batches are in
        try:
            if alias_count(PORT, "gsspool") >= 100:
                break
        except OSError:
            pass
        time.sleep(0.2)
    else:
        pytest.fail("first batches never arrived")
    assert "stopped" in gs(node_env, "es", "stop").stdout  # a clean shutdown while the ingest runs
    for i in range(1000, 2000):
        proc.stdin.write(json.dumps(row(i), ensure_ascii=False) + "\n")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, out + err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["read"] == 2000 and summary["spooled"] > 0
    assert summary["indexed"] + summary["spooled"] >= 2000  # a batch cut off mid-write is spooled whole
    assert "unreachable" in err and str(spool) in err
    assert spool.exists()

    gs(node_env, "es", "start")
    replay = gs(node_env, "ingest", "--json")  # no files: only the spool
    result = json.loads(replay.stdout.strip().splitlines()[-1])
    assert result["replayed"] == summary["spooled"] and result["spooled"] == 0
    assert alias_count(PORT, "gsspool") == 2000
    assert not spool.exists()


def test_unreachable_cluster_spools_and_next_run_replays(es_config: object, tmp_path: Path) -> None:
    """The same path against the shared node: nothing listens on port 9 (discard), so the first run spools."""
    prefix = f"gstest-spool-{os.getpid()}"
    src = write_jsonl(tmp_path / "m.jsonl", [row(i) for i in range(30)])  # type: ignore[misc]
    down = Gs(prefix, {"GROUNDSWELL_ES_URL": "http://127.0.0.1:9"})
    first = down("ingest", "--retries", "1", str(src))
    assert first.exit_code == 3
    assert "Elasticsearch at http://127.0.0.1:9 is unreachable" in first.output
    assert "30 mentions spooled" in first.output
    up = Gs(prefix)
    try:
        second = up("ingest", "--json")
        summary = json.loads(second.output.strip().splitlines()[-1])
        assert summary["replayed"] == 30 and summary["indexed"] == 30
        assert int(up("search", "--count").output) == 30
    finally:
        from store.client import make_client

        es = make_client(es_config)  # type: ignore[arg-type]
        delete_prefix(es, prefix)
