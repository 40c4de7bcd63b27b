"""Issue 11, tracebacks instead of a line: hostile options and settings on every command give one clear line and a
documented exit status (core.exits), never a traceback."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from core.exits import ExitStatus
from groundswell import config as gsconfig
from groundswell.cli.main import cli

GS = [sys.executable, "-m", "groundswell.cli.main"]


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.mark.parametrize("command", ["sites", "mailsink"])
@pytest.mark.parametrize("port", ["99999", "-1", "65536"])
def test_ports_out_of_range_are_usage_errors(command: str, port: str) -> None:
    result = run(command, "--port", port)
    assert result.exit_code == ExitStatus.USAGE, result.output
    assert "--port" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("command", ["sites", "mailsink"])
def test_port_in_use_is_one_line(command: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        args = [command, "--port", port] + (["--dir", str(tmp_path)] if command == "mailsink" else [])
        result = run(*args)
    assert result.exit_code == ExitStatus.USAGE, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://x/y", "postgresql+nosuchdriver://u@h/db", "sqlite:///"])
def test_invalid_job_store_url_is_refused_at_load(tmp_path: Path, url: str) -> None:
    cfg = tmp_path / "g.yaml"
    cfg.write_text(f"scheduler: {{job_store_url: '{url}'}}\n")
    if url == "sqlite:///":
        gsconfig.load(str(cfg), env={})  # an in-memory SQLite store is a valid, if forgetful, choice
        return
    with pytest.raises(gsconfig.ConfigError, match=r"scheduler\.job_store_url"):
        gsconfig.load(str(cfg), env={})
    result = run("--config", str(cfg), "status")
    assert result.exit_code == ExitStatus.USAGE and "scheduler.job_store_url" in result.output


def test_unreachable_store_prints_no_transport_traceback() -> None:
    """In a real process, where the transport's retry warnings (with tracebacks) would reach stderr."""
    proc = subprocess.run([*GS, "search", "x"], env={"GROUNDSWELL_ES_URL": "http://127.0.0.1:9", "PATH": "/usr/bin"},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == ExitStatus.STORE_UNAVAILABLE
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("groundswell: Elasticsearch at http://127.0.0.1:9 is unreachable: ")
    assert line.endswith("Connection refused")


def test_scheduler_shutdown_after_a_pause_submits_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """What SIGTERM does to `groundswell run`: pause, let crawls finish, shut down; jobs that came due meanwhile
    must not be handed to the closed executor ("cannot schedule new futures after shutdown")."""
    from groundswell.scheduler.service import make_scheduler

    cfg = gsconfig.load(None, env={"GROUNDSWELL_HOME": str(tmp_path)})
    cfg = cfg.model_copy(update={"scheduler": cfg.scheduler.model_copy(
        update={"job_store_url": f"sqlite:///{tmp_path / 'jobs.sqlite'}"})})
    scheduler = make_scheduler(cfg)
    scheduler.start(paused=True)
    scheduler.add_job("time:sleep", "interval", args=[0], seconds=0.2, id="tick")
    time.sleep(1.0)  # paused: the job comes due and waits
    with caplog.at_level(logging.ERROR, logger="apscheduler"):
        scheduler.shutdown(wait=True)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
