"""Crawl children forked from the warm fork server behave as fresh `groundswell` processes: the same output and exit
status, their own session, the environment and working directory they were given, the fork server as the parent
they watch, and the same time limit (SIGTERM, then SIGKILL to the group). Other commands are started fresh."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from groundswell.scheduler.children import Children
from groundswell.scheduler.forkserver import PARENT_ENV, Forked, ForkServer, forkable

GS = [sys.executable, "-m", "groundswell.cli.main"]


@pytest.fixture(scope="module")
def children() -> Children:
    forks = ForkServer()
    forks.warm_up()
    return Children(kill_grace=3.0, forks=forks)


def test_only_this_interpreters_groundswell_commands_are_forked() -> None:
    assert forkable([*GS, "crawl", "wb", "--json"]) == ["crawl", "wb", "--json"]
    assert forkable(["/another/python", "-m", "groundswell.cli.main", "crawl"]) is None  # another interpreter
    assert forkable([sys.executable, "-c", "print(1)"]) is None
    assert forkable(["groundswell", "crawl"]) is None


def test_a_forked_command_prints_and_exits_as_a_fresh_one(children: Children) -> None:
    ok = children.run([*GS, "--version"], None, 60)
    assert ok.exit_code == 0 and ok.stdout.startswith("groundswell, version")
    bad = children.run([*GS, "config", "nope"], None, 60)
    assert bad.exit_code == 2 and "No such command 'nope'" in bad.stderr and bad.stdout == ""


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def test_a_forked_child_is_the_fresh_child_it_replaces(children: Children, tmp_path: Path) -> None:
    """While it runs (the mail sink runs until SIGTERM, then exits 0): the working directory it was given, its own
    session, its command as its title, and the fork server as its parent; the time limit stops it."""
    assert children.forks is not None
    folder, seen = tmp_path / "children", {}
    watched = Children(kill_grace=3.0, folder=folder, forks=children.forks)

    def look() -> None:
        deadline = time.monotonic() + 10
        # until it runs its command: the first look may come while it is still being forked, and then shows the
        # fork server's title, which starts with "groundswell" too
        while time.monotonic() < deadline and not str(seen.get("cmdline", "")).startswith("groundswell mailsink"):
            for note in folder.glob("*.json") if folder.is_dir() else []:
                pid = int(note.stem)
                with contextlib.suppress(OSError):
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                    seen.update(pid=pid, cwd=os.readlink(f"/proc/{pid}/cwd"), stat=_stat(pid), cmdline=cmdline)
            time.sleep(0.05)

    spy = threading.Thread(target=look)
    spy.start()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = watched.run([*GS, "mailsink", "--port", "0", "--dir", str(tmp_path)], None, 2.0)
    finally:
        os.chdir(cwd)
    spy.join()
    assert result.signalled == "time limit" and result.exit_code == 0, result.stderr
    assert seen, "the child was never seen running"
    ppid, sid = int(seen["stat"][1]), int(seen["stat"][3])
    assert seen["cwd"] == str(tmp_path)
    assert seen["cmdline"].startswith("groundswell mailsink --port 0")  # what ps shows, not the fork server's command
    assert sid == seen["pid"]  # its own session: a Ctrl-C at the scheduler's terminal does not reach it
    assert ppid != os.getpid() and ppid == children.forks.pid()  # the fork server
    assert not list(folder.glob("*.json"))  # unregistered once it ended


def test_a_forked_child_reads_the_environment_and_directory_it_was_given(children: Children, tmp_path: Path) -> None:
    """`config check --json` names the file GROUNDSWELL_CONFIG points at, relative to the working directory, and shows
    GROUNDSWELL_INDEX_PREFIX applied: both come from the run's arguments, not from the fork server's start."""
    (tmp_path / "here.yaml").write_text("brands: []\n", encoding="utf-8")
    env = {**os.environ, "GROUNDSWELL_CONFIG": "here.yaml", "GROUNDSWELL_INDEX_PREFIX": "probe-forked"}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        done = children.run([*GS, "config", "check", "--json"], env, 60)
    finally:
        os.chdir(cwd)
    assert done.exit_code == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["file"] == "here.yaml" and shown["valid"]
    assert shown["configuration"]["elasticsearch"]["index_prefix"] == "probe-forked"


def test_other_commands_are_started_fresh(children: Children) -> None:
    code = "import json, os; print(json.dumps({'ppid': os.getppid(), 'parent': os.environ['" + PARENT_ENV + "']}))"
    done = children.run([sys.executable, "-c", code], None, 60)
    seen = json.loads(done.stdout)
    assert seen["ppid"] == os.getpid() and seen["parent"] == str(os.getpid())


class _Unreachable(ForkServer):
    def start(self, argv: list[str], env: object) -> Forked:
        raise OSError("the fork server is gone")


def test_a_crawl_the_fork_server_cannot_start_is_started_fresh(caplog: pytest.LogCaptureFixture) -> None:
    done = Children(kill_grace=3.0, forks=_Unreachable()).run([*GS, "--version"], None, 60)
    assert done.exit_code == 0 and done.stdout.startswith("groundswell, version")
    assert "starting it fresh" in caplog.text
