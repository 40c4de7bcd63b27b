"""The allocator settings every groundswell process starts with (groundswell.allocator)."""

from __future__ import annotations

import platform
import subprocess
import sys

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
