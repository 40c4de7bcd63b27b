"""Simulated time: a fixed start instant keeps generated data reproducible (the tests' default), and time moves only
when told; `groundswell sites` starts at the real current time unless given --start."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "CST")
DEFAULT_START = datetime(2026, 11, 24, 10, 0, tzinfo=CHINA)

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class SimClock:
    """`now()` = start + manual advances (minutes) + real seconds since creation x speed.

    `speed` is simulated seconds per real second, as in GROUNDSWELL_CLOCK (core.clock): 1 is real time, 60 an hour
    a minute, 0 frozen. Tests use speed 0 and `advance()`, so nothing depends on wall time.
    """

    def __init__(self, start: datetime = DEFAULT_START, speed: float = 0.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if speed < 0:
            raise ValueError("the simulated clock only moves forward: speed must be 0 or more")
        self._start = start
        self._speed = speed
        self._monotonic = monotonic
        self._t0 = monotonic()
        self._manual = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            live = (self._monotonic() - self._t0) * self._speed
            return self._start + timedelta(minutes=self._manual, seconds=live)

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self._speed

    def advance(self, minutes: float) -> datetime:
        """Jump ahead; going backwards is refused because counts and posts only ever grow."""
        if minutes < 0:
            raise ValueError("the simulated clock only moves forward")
        with self._lock:
            self._manual += minutes
        return self.now()


def weibo_time(dt: datetime) -> str:
    """Weibo's `created_at`, e.g. `Tue Nov 24 10:00:00 +0800 2026` (English names whatever the locale)."""
    c = dt.astimezone(CHINA)
    return f"{_DAYS[c.weekday()]} {_MONTHS[c.month - 1]} {c:%d %H:%M:%S} +0800 {c.year}"


def china_time(dt: datetime) -> str:
    """JD's `creationTime`: naive China local time, `2026-11-24 10:00:00`."""
    return dt.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def epoch(dt: datetime) -> int:
    return int(dt.timestamp())
