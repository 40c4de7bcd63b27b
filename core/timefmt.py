"""The one way a person reads a time: in the configured zone (`timezone:`), minutes, with the offset shown.

Stored times stay UTC (core.times) and `--json` stays RFC 3339 UTC; everything a person reads (email, console, CLI
tables, `run` lines) goes through `people_time`, so a team on Beijing time never converts in its head, and the
offset printed beside every time says which zone it is even when a message is forwarded to another team."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone of this name (`Asia/Shanghai`, `UTC`); ValueError that says what a valid name looks like."""
    text = (name or "").strip()
    if not text or text.startswith(("/", ".")) or ".." in text:
        raise ValueError(f"expected an IANA time zone name like Asia/Shanghai or UTC, got {name!r}")
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: expected an IANA name like Asia/Shanghai or UTC") from None


def offset_text(value: datetime) -> str:
    """`+08:00`, `-05:00`, `+00:00`: the value's UTC offset."""
    off = value.utcoffset() or timedelta(0)
    sign = "-" if off < timedelta(0) else "+"
    minutes = abs(int(off.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def people_time(value: datetime | None, tz: tzinfo | None = None, *, seconds: bool = False, missing: str = "-") -> str:
    """`2026-11-24 10:05 +08:00`: an aware instant in zone `tz` (default UTC); `seconds` adds `:SS`."""
    if value is None:
        return missing
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # our stored times are UTC; a naive one here is one of them
    local = value.astimezone(tz or UTC)
    return f"{local:%Y-%m-%d %H:%M{':%S' if seconds else ''}} {offset_text(local)}"


def people_clock(value: datetime, tz: tzinfo | None = None) -> str:
    """`10:05:31`: a time of day in zone `tz`, for lines printed as things happen (the zone is in their header)."""
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(tz or UTC)
    return f"{local:%H:%M:%S}"


def people_duration(value: timedelta | None, missing: str = "-") -> str:
    """`45 min`, `3 h 05 min`, `2 d 4 h`: how long something took, as a person says it."""
    if value is None:
        return missing
    minutes = max(0, int(value.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min" if minutes else "<1 min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def local_input(value: datetime, tz: tzinfo | None) -> datetime:
    """A time a person typed: without an offset it is in their zone (the configured one), not UTC."""
    return value if value.tzinfo else value.replace(tzinfo=tz or UTC)
