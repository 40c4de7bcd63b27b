"""The one way Groundswell writes and reads the dates it stores: fixed width, UTC, milliseconds.

String order is time order, so every index (mentions, crawl state, job runs, incidents, the outbox) sorts and
compares its dates as text too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# The times a mention, a search or an evaluation can be about. Checked before any arithmetic: a year-9999 time at
# -05:00 or 1e20 epoch seconds overflows Python's datetime, and the years before 1970 hold no posts.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
RANGE_TEXT = "1970 to 2999"


def in_range(value: datetime) -> bool:
    """Whether an aware datetime lies in [EARLIEST, LATEST), decided without converting it (which may overflow)."""
    offset = value.utcoffset()
    if offset is None:
        return False
    if EARLIEST.year < value.year < LATEST.year - 1:  # a UTC offset is less than a day: inside, whatever it is
        return True  # (the common case, a mention's time, without the arithmetic below: 4 us of every mention)
    naive = value.replace(tzinfo=None)
    try:
        return EARLIEST.replace(tzinfo=None) + offset <= naive < LATEST.replace(tzinfo=None) + offset
    except OverflowError:
        return False


def iso(value: datetime) -> str:
    """`2026-11-24T02:05:00.000Z` for any aware datetime."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    """A stored date back as an aware datetime; None for a missing one."""
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
