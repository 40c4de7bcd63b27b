"""The one way Groundswell writes and reads the dates it stores: fixed width, UTC, milliseconds.

String order is time order, so every index (mentions, crawl state, job runs, incidents, the outbox) sorts and
compares its dates as text too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def iso(value: datetime) -> str:
    """`2026-11-24T02:05:00.000Z` for any aware datetime."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    """A stored date back as an aware datetime; None for a missing one."""
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
