"""Issue 11, a broken query answers "nothing": a query that does not parse exits 2 (ExitStatus.USAGE) saying so, over
one index or several monthly ones, when all shards fail or only the ones a time range keeps; shard failures that
are not the query's fault are reported as a partial answer (exit 1), never dropped."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.exits import ExitStatus
from store import search as searching
from tests.conftest import Gs, write_jsonl

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.fixture
def months(gs: Gs, tmp_path: Path) -> Gs:
    rows: list[dict[str, object] | str] = [
        {"platform": "weibo", "source_id": f"m{m}", "text": "小米 手机 a", "published_at": f"2026-{m:02d}-10T10:00:00Z"}
        for m in (9, 10, 11)
    ]
    assert gs("ingest", str(write_jsonl(tmp_path / "m.jsonl", rows))).exit_code == 0
    return gs


@pytest.mark.es
@pytest.mark.parametrize("extra", [(), ("--since", "2026-11-01"), ("--since", "2026-10-01", "--until", "2026-10-31"),
                                   ("--count",), ("--count", "--since", "2026-11-01"), ("--json",)])
def test_unparsable_query_exits_2_over_monthly_indices(months: Gs, extra: tuple[str, ...]) -> None:
    result = months("search", "a AND (", *extra)
    assert result.exit_code == ExitStatus.USAGE, result.output
    assert "the query is broken: Cannot parse" in result.output
    assert "0 of 0" not in result.output and "Traceback" not in result.output


@pytest.mark.es
def test_a_value_the_field_cannot_take_is_a_query_error(months: Gs) -> None:
    result = months("search", "--count", "likes:abc")
    assert result.exit_code == ExitStatus.USAGE and "the query is broken" in result.output


@pytest.mark.es
def test_a_good_query_still_answers(months: Gs) -> None:
    assert months("search", "--count", "platform:weibo AND 小米").output.strip() == "3"
    assert months("search", "--count", "小米", "--since", "2026-11-01").output.strip() == "1"


@pytest.mark.parametrize(("option", "value"), [("--since", "999999d"), ("--since", "99999999999999999999d"),
                                               ("--until", "9999-12-31T23:59:59-05:00"),
                                               ("--since", "0001-01-01T00:00:00+05:00")])
def test_times_out_of_the_calendar_are_usage_errors(option: str, value: str) -> None:
    with pytest.raises(searching.QueryError, match=option):
        searching.parse_time(value, option, NOW)


@pytest.mark.es
def test_times_out_of_the_calendar_exit_2(gs: Gs) -> None:
    result = gs("search", "x", "--since", "999999d")
    assert result.exit_code == ExitStatus.USAGE and "Traceback" not in result.output


def _response(*failures: dict[str, object]) -> dict[str, object]:
    return {"_shards": {"total": 3, "successful": 3 - len(failures), "failed": len(failures),
                        "failures": list(failures)}, "hits": {"total": {"value": 1}, "hits": []}}


def test_shard_failures_that_are_not_the_query_are_kept_as_partial() -> None:
    failed = {"index": "gs-mentions-2026.10", "shard": 0,
              "reason": {"type": "node_not_connected_exception", "reason": "[n1] Node not connected"}}
    assert searching._failures(_response(failed)) == ("gs-mentions-2026.10[0]: [n1] Node not connected",)
    assert searching._failures(_response()) == ()


def test_shard_failures_that_blame_the_query_are_a_query_error() -> None:
    failed = {"index": "gs-mentions-2026.11", "shard": 0,
              "reason": {"type": "query_shard_exception", "reason": "Failed to parse query [a AND (]",
                         "caused_by": {"type": "parse_exception", "reason": "Cannot parse 'a AND (': Encountered "
                                       "\"<EOF>\" at line 1, column 7.\nWas expecting one of:\n    <NOT> ...",
                                       "caused_by": {"type": "parse_exception", "reason": "Encountered \"<EOF>\""}}}}
    with pytest.raises(searching.QueryError) as err:
        searching._failures(_response(failed))
    assert str(err.value) == "the query is broken: Cannot parse 'a AND (': Encountered \"<EOF>\" at line 1, column 7."
