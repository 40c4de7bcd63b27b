"""core.times.in_range: its shortcut for the years well inside the range decides as the offset arithmetic does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from core import times

offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda m: timezone(timedelta(minutes=m)))


def by_arithmetic(value: datetime) -> bool:
    offset = value.utcoffset()
    assert offset is not None
    naive = value.replace(tzinfo=None)
    try:
        return datetime(1970, 1, 1) + offset <= naive < datetime(3000, 1, 1) + offset
    except OverflowError:
        return False


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)), offsets)
def test_in_range_is_the_offset_arithmetic(naive: datetime, tz: timezone) -> None:
    value = naive.replace(tzinfo=tz)
    assert times.in_range(value) == by_arithmetic(value)


def test_the_edges_of_the_range() -> None:
    plus8 = timezone(timedelta(hours=8))
    assert times.in_range(datetime(1970, 1, 1, tzinfo=UTC))
    assert not times.in_range(datetime(1970, 1, 1, 7, 59, tzinfo=plus8))  # 1969 in UTC
    assert times.in_range(datetime(1971, 1, 1, tzinfo=plus8))
    assert times.in_range(datetime(2999, 12, 31, 23, 59, tzinfo=UTC))
    assert not times.in_range(datetime(2999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-8))))  # 3000 in UTC
    assert not times.in_range(datetime(2026, 1, 1))  # naive
