"""A `groundswell run --json` started as its own process, with the events it prints: the failover test and
bench/failover_bench.py kill and restart these."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any


class Scheduler:
    """One `groundswell run --json` process and the JSON events it printed, each with the time it was read."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "groundswell.cli.main", "--config", str(config), "run", "--json"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.stderr: list[str] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr or []), daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                with self._lock:
                    self.events.append((time.monotonic(), json.loads(line)))

    def seen(self, event: str, after: float = 0.0) -> float | None:
        with self._lock:
            return next((t for t, e in self.events if e.get("event") == event and t >= after), None)

    def runs(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e for _, e in self.events if e.get("event") == "job_run"]


def stop_all(schedulers: list[Scheduler], timeout: float) -> None:
    """SIGTERM every one still running, then wait for each up to `timeout` seconds and SIGKILL what is left."""
    for s in schedulers:
        if s.proc.poll() is None:
            s.proc.send_signal(signal.SIGTERM)
    for s in schedulers:
        try:
            s.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            s.proc.kill()
