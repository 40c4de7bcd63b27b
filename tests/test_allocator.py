"""The allocator settings every groundswell process starts with (groundswell.allocator)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from groundswell import allocator


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_takes_the_settings() -> None:
    assert allocator.tune() is True


def test_the_command_line_starts_with_them_and_still_runs() -> None:
    code = "from groundswell.cli import main as m; import sys; sys.argv = ['groundswell', '--version']; m.main()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip(), done.stderr
