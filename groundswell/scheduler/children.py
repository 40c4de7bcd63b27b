"""Crawls run in child processes, so a crashed or hung spider cannot take the scheduler down.

A child past its time limit gets SIGTERM (Scrapy then stops, closes the spider and the Elasticsearch pipeline
flushes or spools what it holds), then SIGKILL for its whole process group if it is still there after a grace.
At shutdown the scheduler lets children finish for a while, then does the same. Each child runs in its own
session, so a Ctrl-C in the terminal reaches the scheduler only, which decides.
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
from typing import Any

log = logging.getLogger(__name__)

STDERR_TAIL = 4000


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


class Children:
    """The child processes in flight, so that a time limit or the shutdown can reach each one."""

    def __init__(self, kill_grace: float = 10.0) -> None:
        self.kill_grace = kill_grace
        self._lock = threading.Lock()
        self._procs: dict[int, subprocess.Popen[str]] = {}
        self._why: dict[int, str] = {}
        self._term_at: dict[int, float] = {}

    def running(self) -> int:
        with self._lock:
            return len(self._procs)

    def run(self, cmd: Sequence[str], env: Mapping[str, str] | None, limit: float | None) -> ChildResult:
        """Run `cmd` to its end, or stop it at `limit` real seconds; never raises for what the child does."""
        t0 = time.monotonic()
        proc = subprocess.Popen(
            list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
            errors="replace", env=dict(env) if env is not None else None, start_new_session=True,
        )
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
        stdout = "".join(out)
        return ChildResult(
            exit_code=proc.returncode, seconds=time.monotonic() - t0, signalled=why, stdout=stdout,
            stderr="".join(err),
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
