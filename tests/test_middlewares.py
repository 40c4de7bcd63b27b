"""Retry-After parsing (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from crawlers.middlewares import retry_after_seconds

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_seconds_and_http_dates() -> None:
    assert retry_after_seconds(b"7") == 7.0
    assert retry_after_seconds("Wed, 25 Nov 2026 12:00:30 GMT", NOW) == 30.0
    assert retry_after_seconds("Wed, 25 Nov 2026 11:00:00 GMT", NOW) == 0.0  # in the past: go now


def test_absent_or_garbage() -> None:
    assert retry_after_seconds(None) is None
    assert retry_after_seconds(b"soon") is None
