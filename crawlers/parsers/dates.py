"""Dates as pages print them: ISO or epoch, localized ("2024年3月5日", "March 5, 2024") and relative ("3天前",
"2 days ago", "昨天 12:30"), read with dateparser (a maintained library that knows ~200 locales) in the source's
time zone, relative ones counted back from the crawl time."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from crawlers.parsers.common import Skip

LANGUAGES = ("zh", "en")


def printed_date(text: str, now: datetime, tz: tzinfo, languages: tuple[str, ...] = LANGUAGES) -> datetime:
    """An aware datetime from a printed date; times without a zone are `tz`'s; raise Skip when unreadable."""
    value = text.strip()
    if not value:
        raise Skip("time missing")
    if value.isdigit():  # epoch seconds or milliseconds
        return datetime.fromtimestamp(int(value) / (1000 if len(value) > 11 else 1), UTC)
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = _dateparser(value, now.astimezone(tz).replace(tzinfo=None), languages)
    if parsed is None:
        raise Skip(f"bad time {value!r}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def _dateparser(value: str, local_now: datetime, languages: tuple[str, ...]) -> datetime | None:
    import dateparser

    settings: Any = {"RELATIVE_BASE": local_now, "PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False}
    return dateparser.parse(value, languages=list(languages), settings=settings)
