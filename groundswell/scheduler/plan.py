"""Which jobs a configuration wants, and on what triggers: pure, so reconciling the job store and testing it need
no scheduler.

Job functions are named by module path (`JOBS_MODULE:function`) so the SQLAlchemy store can persist them. Under a
simulated clock (GROUNDSWELL_CLOCK) every trigger is computed in simulated time and mapped back to real time, so an
interval of 15 simulated minutes at speed 60 fires every 15 real seconds, and cron lines follow the simulated day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core.clock import SimulatedClock
from core.config import Config, Source
from store import mapping

JOBS_MODULE = "groundswell.scheduler.jobs"
DEFAULT_INTERVAL_MINUTES = 15  # a source with neither interval_minutes nor cron
MAINTENANCE_EVERY_HOURS = 6  # retention and compaction: index housekeeping, not urgent
KINDS = ("crawl", "revisit", "alerts", "digest", "retention", "compaction")


class PlanError(ValueError):
    """A source's schedule cannot be used; the message names the source, the key and the bad value."""


class SimTimeTrigger(BaseTrigger):
    """Wraps a trigger that thinks in simulated time; APScheduler sees real fire times.

    real = anchor + (simulated - start) / speed, the inverse of core.clock.SimulatedClock.now().
    """

    def __init__(self, inner: BaseTrigger, start: datetime, speed: float, anchor: float) -> None:
        self.inner = inner
        self.start = start
        self.speed = speed
        self.anchor = anchor

    def to_sim(self, real: datetime) -> datetime:
        return self.start + timedelta(seconds=(real.timestamp() - self.anchor) * self.speed)

    def to_real(self, sim: datetime) -> datetime:
        return datetime.fromtimestamp(self.anchor + (sim - self.start).total_seconds() / self.speed, UTC)

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        previous = self.to_sim(previous_fire_time) if previous_fire_time else None
        nxt = self.inner.get_next_fire_time(previous, self.to_sim(now))
        return self.to_real(nxt) if nxt is not None else None

    def __getstate__(self) -> dict[str, Any]:
        return {"inner": self.inner, "start": self.start, "speed": self.speed, "anchor": self.anchor}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.inner = state["inner"]
        self.start = state["start"]
        self.speed = state["speed"]
        self.anchor = state["anchor"]

    def __str__(self) -> str:
        return f"{self.inner} (simulated time x{self.speed:g})"

    def __repr__(self) -> str:
        return f"<SimTimeTrigger ({self.inner!r}, start={self.start.isoformat()}, speed={self.speed:g})>"


@dataclass(frozen=True)
class JobSpec:
    """One job as the configuration wants it."""

    id: str
    kind: str
    func: str  # "module:function", so the job store can persist the job
    kwargs: dict[str, Any]
    trigger: BaseTrigger
    name: str
    source: str | None = None
    time_limit_seconds: float | None = None


def trigger_key(trigger: BaseTrigger) -> tuple[Any, ...]:
    """What makes two triggers the same schedule (start dates aside), for deciding whether a stored job changed."""
    if isinstance(trigger, SimTimeTrigger):
        return ("sim", trigger.start.isoformat(), trigger.speed, round(trigger.anchor, 3), *trigger_key(trigger.inner))
    if isinstance(trigger, IntervalTrigger):
        return ("interval", trigger.interval_length, trigger.jitter)
    if isinstance(trigger, CronTrigger):
        return ("cron", str(trigger), str(trigger.timezone), trigger.jitter)
    return (type(trigger).__name__, str(trigger))


def _interval(minutes: float, jitter: float | None, sim: SimulatedClock | None, first: datetime | None) -> BaseTrigger:
    """Every `minutes` (product time), the first time at `first` (or one interval from now)."""
    if sim is None:
        return IntervalTrigger(minutes=minutes, jitter=jitter or None, timezone=UTC, start_date=first)
    now = sim.now()
    inner = IntervalTrigger(
        minutes=minutes, jitter=jitter or None, timezone=UTC,
        start_date=(first or now + timedelta(minutes=minutes)).astimezone(UTC),
    )
    return SimTimeTrigger(inner, sim.start, sim.speed, sim.anchor)


def _cron(source: Source, sim: SimulatedClock | None, local: tzinfo | None) -> BaseTrigger:
    assert source.cron is not None
    tz = sim.start.tzinfo if sim is not None else local
    try:
        inner = CronTrigger.from_crontab(source.cron, timezone=tz)
    except ValueError as exc:
        raise PlanError(f"sources[{source.name}]: cron: {exc} (got {source.cron!r})") from None
    inner.jitter = source.jitter_seconds or None
    return inner if sim is None else SimTimeTrigger(inner, sim.start, sim.speed, sim.anchor)


def source_trigger(source: Source, sim: SimulatedClock | None, local: tzinfo | None = None) -> BaseTrigger:
    if source.interval_minutes is not None and source.cron:
        raise PlanError(
            f"sources[{source.name}]: give interval_minutes or cron, not both "
            f"(got interval_minutes={source.interval_minutes}, cron={source.cron!r})"
        )
    if source.cron:
        return _cron(source, sim, local)
    return _interval(source.interval_minutes or DEFAULT_INTERVAL_MINUTES, source.jitter_seconds, sim, None)


def plan_jobs(cfg: Config, sim: SimulatedClock | None, local: tzinfo | None = None) -> list[JobSpec]:
    """Every job the configuration asks for; disabled sources have none. Raises PlanError for a bad schedule."""
    s = cfg.scheduler
    jobs: list[JobSpec] = []
    names = [src.name for src in cfg.sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise PlanError(f"sources: names must be unique (got {', '.join(map(repr, dupes))} more than once)")
    for src in cfg.sources:
        if not src.enabled:
            continue
        limit = src.time_limit_minutes * 60
        jobs.append(JobSpec(
            id=f"crawl:{src.name}", kind="crawl", func=f"{JOBS_MODULE}:crawl_source",
            kwargs={"source": src.name, "revisit": False}, trigger=source_trigger(src, sim, local),
            name=f"crawl {src.name} ({src.spider})", source=src.name, time_limit_seconds=limit,
        ))
        jobs.append(JobSpec(
            id=f"revisit:{src.name}", kind="revisit", func=f"{JOBS_MODULE}:crawl_source",
            kwargs={"source": src.name, "revisit": True},
            trigger=_interval(s.revisit_every_minutes, src.jitter_seconds, sim, None),
            name=f"revisit {src.name}: engagement of the last {s.revisit_hours:g} h", source=src.name,
            time_limit_seconds=limit,
        ))
    jobs.append(JobSpec(
        id="alerts", kind="alerts", func=f"{JOBS_MODULE}:evaluate_alerts", kwargs={},
        trigger=_interval(s.alerts_every_minutes, None, sim, None), name="evaluate alert rules",
    ))
    if cfg.alerting.digest_minutes:
        jobs.append(JobSpec(
            id="digest", kind="digest", func=f"{JOBS_MODULE}:send_digest", kwargs={},
            trigger=_interval(cfg.alerting.digest_minutes, None, sim, None), name="send the notice digest",
        ))
    if s.compact_after_days:
        jobs.append(JobSpec(
            id="compaction", kind="compaction", func=f"{JOBS_MODULE}:compact_months", kwargs={},
            trigger=_interval(MAINTENANCE_EVERY_HOURS * 60, None, sim, None),
            name=f"merge mention months ended {s.compact_after_days:g} days ago into one segment",
        ))
    if s.retention_months:
        jobs.append(JobSpec(
            id="retention", kind="retention", func=f"{JOBS_MODULE}:apply_retention", kwargs={},
            trigger=_interval(MAINTENANCE_EVERY_HOURS * 60, None, sim, None),
            name=f"drop mention months older than {s.retention_months}",
        ))
    return jobs


# -- retention -------------------------------------------------------------------------------------------------


def _month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


def expired_indices(names: list[str], prefix: str, now: datetime, months: int) -> list[str]:
    """The monthly mention indices whose whole month ended more than `months` months before `now`.

    A post lives in the index of the month it was first seen (store.mapping), whatever its published time says,
    so this drops the mentions first seen in those months, each post whole (never one copy of it).
    Only exact `<prefix>-mentions-YYYY.MM` names qualify; anything else under the prefix is never touched.
    """
    cutoff_day = _minus_months(now.date(), months)
    expired = []
    for name in names:
        month = mapping.index_month(prefix, name)
        # the month ends where the next begins: expired when that is on or before now - months
        if month is not None and mapping.month_after(month) <= cutoff_day:
            expired.append(name)
    return sorted(expired)


def _minus_months(day: date, months: int) -> date:
    idx = _month_index(day.year, day.month) - months
    year, month0 = divmod(idx, 12)
    # clamp the day for shorter months (31 March - 1 month = 28/29 February)
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month0 + 1, d)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")
