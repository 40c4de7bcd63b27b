"""The allocator settings every groundswell process starts with (groundswell.allocator)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from groundswell import allocator, collector


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_takes_the_settings() -> None:
    assert allocator.tune() is True


def test_the_command_line_starts_with_them_and_still_runs() -> None:
    code = "from groundswell.cli import main as m; import sys; sys.argv = ['groundswell', '--version']; m.main()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip(), done.stderr


def test_every_command_runs_with_the_collectors_thresholds() -> None:
    """groundswell.collector: the command line sets them before any command runs; forked children inherit them."""
    code = ("import gc, os, sys; from groundswell.cli import main as m; sys.argv = ['groundswell', '--version']\n"
            "try:\n    m.main()\nexcept SystemExit:\n    pass\n"
            "pid = os.fork()\nif pid == 0:\n    print(gc.get_threshold(), flush=True); os._exit(0)\nos.waitpid(pid, 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(collector.THRESHOLDS)


def test_ingest_collects_its_young_generation_less_often(tmp_path: Path) -> None:
    """groundswell.collector.INGEST_THRESHOLDS: `groundswell ingest` sets them before its analysis workers fork (an
    unreachable store here: the thresholds are set before it is asked)."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code = ("import gc, sys; from groundswell.cli import main as m\n"
            f"sys.argv = ['groundswell', 'ingest', {str(empty)!r}, '--workers', '0']\n"
            "try:\n    m.main()\nexcept SystemExit:\n    pass\nprint(gc.get_threshold(), flush=True)")
    env = {**os.environ, "GROUNDSWELL_ES_URL": "http://127.0.0.1:9", "GROUNDSWELL_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.stdout.strip().splitlines()[-1] == str(collector.INGEST_THRESHOLDS), done.stderr
    assert collector.INGEST_THRESHOLDS[0] > collector.THRESHOLDS[0]
