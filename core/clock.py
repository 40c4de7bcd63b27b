"""What time it is for Groundswell: the wall clock, or a simulated clock shared by every process of a demo.

`GROUNDSWELL_CLOCK="<start ISO time>@<speed>[@<real epoch>]"` makes `now()` return `start + (real seconds since
the epoch anchor) x speed`, in every process that inherits the variable: the simulated sites, the spiders (whose
crawl times become observation times), the scheduler and the alert rules then agree on the time, so a demo can
live through hours of spread in minutes. Unset, `now()` is the wall clock. The anchor is filled in by `freeze()`
when the demo starts, so children started later share the same origin.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

CLOCK_ENV = "GROUNDSWELL_CLOCK"


class ClockError(ValueError):
    """GROUNDSWELL_CLOCK is not `<ISO time>@<speed>[@<epoch>]`."""


@dataclass(frozen=True)
class SimulatedClock:
    start: datetime
    speed: float
    anchor: float  # real epoch seconds at which simulated time was `start`

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.anchor) * self.speed)

    def real_seconds(self, simulated: timedelta) -> float:
        """How long, in real seconds, a simulated duration lasts (schedulers wait in real time)."""
        return simulated.total_seconds() / self.speed

    def spec(self) -> str:
        return f"{self.start.isoformat()}@{self.speed:g}@{self.anchor:.3f}"


def parse(spec: str) -> SimulatedClock:
    parts = spec.split("@")
    if len(parts) not in (2, 3):
        raise ClockError(f"{CLOCK_ENV}: expected '<ISO time>@<speed>[@<epoch>]' (got {spec!r})")
    try:
        start = datetime.fromisoformat(parts[0])
    except ValueError:
        raise ClockError(f"{CLOCK_ENV}: start is not an ISO time (got {parts[0]!r})") from None
    if start.tzinfo is None:
        raise ClockError(f"{CLOCK_ENV}: start needs a time zone, e.g. +08:00 (got {parts[0]!r})")
    try:
        speed = float(parts[1])
        anchor = float(parts[2]) if len(parts) == 3 else time.time()
    except ValueError:
        raise ClockError(f"{CLOCK_ENV}: speed and epoch must be numbers (got {spec!r})") from None
    if speed <= 0:
        raise ClockError(f"{CLOCK_ENV}: speed must be positive (got {parts[1]!r})")
    return SimulatedClock(start=start, speed=speed, anchor=anchor)


def current() -> SimulatedClock | None:
    """The simulated clock named by the environment, or None for the wall clock."""
    spec = os.environ.get(CLOCK_ENV)
    return parse(spec) if spec else None


def freeze() -> SimulatedClock | None:
    """Pin the clock's real-time anchor in the environment so child processes share one origin."""
    clock = current()
    if clock is not None:
        os.environ[CLOCK_ENV] = clock.spec()
    return clock


def now() -> datetime:
    """The current instant, timezone-aware (UTC for the wall clock)."""
    clock = current()
    return clock.now() if clock is not None else datetime.now(UTC)
