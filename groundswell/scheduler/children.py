"""Crawls run in child processes, so a crashed or hung spider cannot take the scheduler down.

A child past its time limit gets SIGTERM (Scrapy then stops, closes the spider and the Elasticsearch pipeline
flushes or spools what it holds), then SIGKILL for its whole process group if it is still there after a grace.
At shutdown the scheduler lets children finish for a while, then does the same. Each child runs in its own
session, so a Ctrl-C in the terminal reaches the scheduler only, which decides.

A child never outlives its service by much. It watches its parent (`watch_parent`, started by `groundswell crawl`
when GROUNDSWELL_PARENT_PID is set): once the service is gone (SIGKILL, a crash), the child stops the same way,
SIGTERM to itself, then SIGKILL to its process group after the kill grace. And the service keeps one file per
child in its children folder (`register`), so the next start stops any child still there (`stop_orphans`),
should one have been unable to stop itself.

With a fork server (groundswell.scheduler.forkserver), a `groundswell` child is forked from one warm process
instead of started as a fresh interpreter, so that parallel crawls share what they all load; it is stopped, timed and
read the same way. Should the fork server fail to start one, the child is started fresh.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from groundswell.scheduler.forkserver import PARENT_ENV, Forked, ForkServer, forkable

log = logging.getLogger(__name__)

STDERR_TAIL = 4000
GRACE_ENV = "GROUNDSWELL_KILL_GRACE"  # and the seconds between SIGTERM and SIGKILL


@dataclass
class ChildResult:
    exit_code: int
    seconds: float
    signalled: str | None = None  # why we stopped it: "time limit" or "shutdown"; None if it ended by itself
    stdout: str = ""
    stderr: str = ""

    @property
    def reports(self) -> list[dict[str, Any]]:
        """The JSON objects it printed, one per line (a crawl prints its stats so)."""
        return json_lines(self.stdout)

    @property
    def stderr_tail(self) -> str:
        return self.stderr[-STDERR_TAIL:]


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON objects among the lines of a child's stdout (anything else is ignored: it is the child's log)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


def proc_start(pid: int) -> int | None:
    """When a process started (clock ticks since boot, from /proc), to tell it from a later one reusing its pid;
    None when no such process runs (a zombie does not run)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else int(fields[19])


def register(folder: Path, pid: int, cmd: Sequence[str]) -> None:
    """Note a child in the service's children folder (removed when it ends): what the next start checks."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{pid}.json").write_text(json.dumps({"pid": pid, "start": proc_start(pid), "cmd": list(cmd)}),
                                        encoding="utf-8")


def unregister(folder: Path, pid: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        (folder / f"{pid}.json").unlink()


def stop_orphans(folder: Path, grace: float) -> list[dict[str, Any]]:
    """Children a previous service left running: SIGTERM to each one's process group, SIGKILL after `grace`.
    Only the very process noted (same pid and start time) is touched. Returns the ones stopped."""
    stopped = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            note = json.loads(path.read_text(encoding="utf-8"))
            pid, start = int(note["pid"]), note.get("start")
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("%s: unreadable child note, removed", path)
            path.unlink(missing_ok=True)
            continue
        if proc_start(pid) is not None and proc_start(pid) == start:
            log.warning("child %d of a previous service is still running (%s): stopping it", pid,
                        " ".join(map(str, note.get("cmd") or [])))
            _stop_group(pid, grace)
            stopped.append(note)
        path.unlink(missing_ok=True)
    return stopped


def _stop_group(pid: int, grace: float) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)  # a child leads its own session: its group is its pid
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and proc_start(pid) is not None:
        time.sleep(0.1)
    if proc_start(pid) is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and proc_start(pid) is not None:
            time.sleep(0.1)


def watch_parent(parent: int, grace: float, poll: float = 0.5) -> threading.Thread:
    """In a child: when `parent` (the service) is gone, stop as it would have stopped us (SIGTERM: Scrapy closes the
    spider and the pipelines write or spool what they hold), and SIGKILL the whole process group `grace` seconds
    later. A child the fork server forked is the service's grandchild: the service is watched by its pid and start
    time then (a later process reusing the pid is not it)."""
    started = proc_start(parent)

    def alive() -> bool:
        return os.getppid() == parent or (started is not None and proc_start(parent) == started)

    def watch() -> None:
        while alive():
            time.sleep(poll)
        log.warning("the service (pid %d) that started this crawl is gone: stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os.killpg(os.getpgid(0), signal.SIGKILL)

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread


class Children:
    """The child processes in flight, so that a time limit or the shutdown can reach each one. With a `folder`,
    each one is noted there while it runs (see stop_orphans)."""

    def __init__(self, kill_grace: float = 10.0, folder: Path | None = None, forks: ForkServer | None = None) -> None:
        self.kill_grace = kill_grace
        self.folder = folder
        self.forks = forks
        self._lock = threading.Lock()
        self._procs: dict[int, subprocess.Popen[str] | Forked] = {}
        self._why: dict[int, str] = {}
        self._term_at: dict[int, float] = {}

    def running(self) -> int:
        with self._lock:
            return len(self._procs)

    def run(self, cmd: Sequence[str], env: Mapping[str, str] | None, limit: float | None) -> ChildResult:
        """Run `cmd` to its end, or stop it at `limit` real seconds; never raises for what the child does."""
        t0 = time.monotonic()
        child_env = {**(dict(env) if env is not None else os.environ), PARENT_ENV: str(os.getpid()),
                     GRACE_ENV: f"{self.kill_grace:g}"}
        proc = self._start(cmd, child_env)
        if self.folder is not None:
            register(self.folder, proc.pid, cmd)
        with self._lock:
            self._procs[proc.pid] = proc
        out: list[str] = []
        err: list[str] = []
        try:
            while True:
                try:
                    o, e = proc.communicate(timeout=0.25)
                except subprocess.TimeoutExpired:
                    if limit is not None and time.monotonic() - t0 >= limit:
                        self.terminate(proc.pid, "time limit")
                    self._escalate(proc.pid)
                    continue
                out.append(o or "")
                err.append(e or "")
                break
        finally:
            with self._lock:
                self._procs.pop(proc.pid, None)
                why = self._why.pop(proc.pid, None)
                self._term_at.pop(proc.pid, None)
            if self.folder is not None:
                unregister(self.folder, proc.pid)
        stdout = "".join(out)
        return ChildResult(
            exit_code=proc.returncode if proc.returncode is not None else -1, seconds=time.monotonic() - t0,
            signalled=why, stdout=stdout,
            stderr="".join(err),
        )

    def _start(self, cmd: Sequence[str], env: dict[str, str]) -> subprocess.Popen[str] | Forked:
        argv = forkable(cmd) if self.forks is not None else None
        if self.forks is not None and argv is not None:
            try:
                return self.forks.start(argv, env)
            except (OSError, ValueError, EOFError, RuntimeError) as exc:  # the fork server failed to start it
                log.warning("cannot fork the crawl from the fork server (%s): starting it fresh", exc)
        return subprocess.Popen(
            list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
            errors="replace", env=env, start_new_session=True,
        )

    def terminate(self, pid: int, why: str) -> None:
        """SIGTERM once (to the child only: Scrapy closes its own browser and pipelines); SIGKILL follows."""
        with self._lock:
            if pid not in self._procs or pid in self._term_at:
                return
            self._why[pid] = why
            self._term_at[pid] = time.monotonic()
        log.warning("stopping child %d (%s): SIGTERM", pid, why)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)

    def _escalate(self, pid: int) -> None:
        with self._lock:
            since = self._term_at.get(pid)
            if since is None or time.monotonic() - since < self.kill_grace:
                return
            self._term_at[pid] = float("inf")  # killed once is enough
        log.warning("child %d still running %.0f s after SIGTERM: SIGKILL to its process group", pid, self.kill_grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)

    def terminate_all(self, why: str) -> None:
        with self._lock:
            pids = list(self._procs)
        for pid in pids:
            self.terminate(pid, why)

    def stop_all(self, grace: float) -> None:
        """Shutdown: give the children `grace` seconds to finish, then SIGTERM them (SIGKILL after kill_grace).

        Returns when none is left; the threads running them record how each ended.
        """
        deadline = time.monotonic() + grace
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.terminate_all("shutdown")
        while self.running():
            time.sleep(0.2)  # the run() loops escalate to SIGKILL; no child outlives kill_grace
