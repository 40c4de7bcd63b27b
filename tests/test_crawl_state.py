"""Incremental crawls and crawler health: cursors and run records in the real node, crawls against the simulator.

Each crawl is its own `groundswell crawl` process (Scrapy's reactor cannot restart); the simulator runs here so
the test can move its clock and switch its faults between runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from scrapy.utils.test import get_crawler

from crawlers.items import Mention
from crawlers.spiders.base import page_is_stale, revisit_cutoff, source_key
from crawlers.spiders.weibo import WeiboSpider
from groundswell.store import state
from sites.server import Simulator

pytestmark = [pytest.mark.es, pytest.mark.slow]

KEY = "weibo:小米@127.0.0.1"  # the simulator is not the real host, so its host is part of the key
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=7, port=0) as s:
        yield s


def crawl(prefix: str, base: str, *args: str, spider: str = "weibo") -> tuple[int, dict[str, Any]]:
    env = {**os.environ, "GROUNDSWELL_INDEX_PREFIX": prefix, "GROUNDSWELL_REVISIT_HOURS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "groundswell.cli.main", "crawl", spider, "--base-url", base, "--json", *args],
        env=env, capture_output=True, text=True, timeout=300,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    assert lines, proc.stdout + proc.stderr
    return proc.returncode, json.loads(lines[-1])


def indexed_ids(es: Elasticsearch, prefix: str) -> set[str]:
    es.indices.refresh(index=f"{prefix}-mentions")
    hits = es.search(index=f"{prefix}-mentions", size=1000, source_includes=["source_id"])["hits"]["hits"]
    return {h["_source"]["source_id"] for h in hits}


# -- pure: the stop decision -------------------------------------------------------------------------------


def test_page_is_stale_only_when_every_dated_post_is_older_than_the_cutoff() -> None:
    cutoff = T0
    old, new = T0 - timedelta(minutes=1), T0 + timedelta(minutes=1)
    assert page_is_stale([old, old - timedelta(days=3)], cutoff)
    assert not page_is_stale([old, new], cutoff)  # one post inside the window keeps the crawl going
    assert not page_is_stale([T0], cutoff)  # exactly at the cutoff is still revisited
    assert not page_is_stale([], cutoff)  # an empty page proves nothing
    assert not page_is_stale([None, "2020-01-01"], cutoff)  # nor do undated ones
    assert not page_is_stale([old], None)  # no cursor yet: a full crawl
    assert page_is_stale([old.replace(tzinfo=None)], cutoff)  # naive times are read as UTC


def test_revisit_cutoff_and_source_key() -> None:
    cursor = state.Cursor("weibo:小米", T0, "42")
    assert revisit_cutoff(cursor, timedelta(hours=48)) == T0 - timedelta(hours=48)
    assert revisit_cutoff(None, timedelta(hours=48)) is None
    assert cursor.newer(T0, "43") and not cursor.newer(T0, "42") and not cursor.newer(T0 - timedelta(seconds=1), "9")
    assert source_key("weibo", "小米", "https://m.weibo.cn/", "https://m.weibo.cn") == "weibo:小米"
    assert source_key("weibo", "小米", "http://127.0.0.1:8123", "https://m.weibo.cn") == KEY


def _page(*minutes: int) -> list[Mention]:
    return [
        Mention(platform="weibo", source_id=str(m), text="x", published_at=T0 + timedelta(minutes=m)) for m in minutes
    ]


def test_spider_keeps_paging_inside_the_window_and_tracks_the_newest() -> None:
    crawler = get_crawler(WeiboSpider, {"ROBOTSTXT_OBEY": False})
    spider = WeiboSpider.from_crawler(crawler, keyword="小米", base_url="http://sim", revisit_hours="2")
    assert spider.source_key == "weibo:小米@sim" and spider.revisit == timedelta(hours=2)
    spider.cursor = state.Cursor(spider.source_key, T0, "0")
    assert spider.keep_paging(_page(30, -30, -90))
    assert not spider.keep_paging(_page(-121, -300))
    assert spider.newest == (T0 + timedelta(minutes=30), "30")
    off = WeiboSpider.from_crawler(get_crawler(WeiboSpider), keyword="小米", base_url="http://sim", incremental="0")
    off.cursor = spider.cursor
    assert off.keep_paging(_page(-121, -300))  # -a incremental=0: page as far as max_pages


def test_crawl_run_flags() -> None:
    def run(items: int, **kw: Any) -> state.CrawlRun:
        return state.CrawlRun("r", "weibo", "k", "weibo:k", T0, T0, kw.pop("reason", "finished"), items=items, **kw)

    ok = [run(5), run(3), run(1)]
    for r in ok:
        r.judge([])
    silent = run(0)
    silent.judge(ok)
    assert silent.zero_results and silent.silent and not silent.broken
    young = run(0)
    young.judge(ok[:2])  # only two earlier runs: not enough history to call it silence
    assert young.zero_results and not young.silent
    empty = run(0)
    empty.judge(ok)
    failed = run(0, request_failures=2)
    failed.judge([empty, *ok])  # the last run already found nothing: that one was the silent one
    assert failed.broken and not failed.silent
    assert all(not r.broken and not r.zero_results for r in ok)
    wall = run(4, reason="login_wall", login_wall=True)
    wall.judge(ok)
    assert wall.broken and not wall.zero_results
    layout = run(2, reason="layout_changed")
    layout.judge([])
    assert layout.broken
    assert run(1, parse_errors=1).to_document()["duration_seconds"] == 0.0


# -- end to end --------------------------------------------------------------------------------------------


def test_resumed_crawls_fetch_only_what_is_new_and_record_each_run(
    sim: Simulator, prefix: str, es: Elasticsearch
) -> None:
    rc, first = crawl(prefix, sim.url, "-k", "小米", "--max-pages", "3")
    assert rc == 0 and first["groundswell/indexed"] > 0 and first["groundswell/cursor_saved"] == 1, first
    cursor = state.load_cursor(es, prefix, KEY)
    newest = sim.world.posts("weibo", "小米")[0]
    assert cursor is not None and cursor.published_at == newest.created and cursor.source_id == str(newest.id)
    assert es.indices.exists(index=f"{prefix}-crawl-state")
    stored = es.search(index=f"{prefix}-crawl-state")["hits"]["hits"]
    assert [h["_source"]["source_key"] for h in stored] == [KEY]

    # same clock: page 1 is inside the revisit window, page 2 is all older, so paging stops there
    rc, second = crawl(prefix, sim.url, "-k", "小米", "--max-pages", "3")
    assert rc == 0, second
    assert second["downloader/response_count"] < first["downloader/response_count"]
    assert second.get("groundswell/stopped_at_cursor") == 1
    assert not second.get("groundswell/indexed") and second["item_scraped_count"] > 0  # revisits only

    # opting out pages as far as max_pages again
    rc, full = crawl(prefix, sim.url, "-k", "小米", "--max-pages", "3", "-a", "incremental=0")
    assert rc == 0 and full["downloader/response_count"] == first["downloader/response_count"], full
    assert not full.get("groundswell/cursor_saved")

    sim.advance(180)
    fresh = {str(p.id) for p in sim.world.posts("weibo", "小米") if p.created > cursor.published_at}
    assert fresh
    rc, third = crawl(prefix, sim.url, "-k", "小米", "--max-pages", "3")
    assert rc == 0 and third["groundswell/indexed"] >= len(fresh), third
    assert fresh <= indexed_ids(es, prefix)
    moved = state.load_cursor(es, prefix, KEY)
    assert moved is not None and moved.published_at == sim.world.posts("weibo", "小米")[0].created

    runs = state.recent_runs(es, prefix, KEY, 10)
    assert len(runs) == 4
    assert [r.items for r in runs] == [s["item_scraped_count"] for s in (third, full, second, first)]
    for run, stats in zip(runs, (third, full, second, first), strict=True):
        assert run.spider == "weibo" and run.keyword == "小米" and run.finish_reason == "finished"
        assert run.pages == stats["downloader/response_count"]
        assert run.indexed == stats.get("groundswell/indexed", 0)
        assert run.parse_errors == 0 and run.request_failures == 0 and not run.login_wall
        assert not (run.zero_results or run.broken or run.silent)
        assert run.started_at is not None and run.started_at <= run.finished_at
    assert [r.incremental for r in runs] == [True, False, True, True]
    assert state.recent_runs(es, prefix, KEY, 2) == runs[:2]
    assert state.recent_runs(es, prefix, "weibo:nothing", 3) == []

    # the site stops answering anything useful: nothing found after three good runs is silence
    sim.set_faults(error_every=1, error_status=404)
    rc, dead = crawl(prefix, sim.url, "-k", "小米", "--max-pages", "3")
    assert rc == 1 and not dead.get("item_scraped_count"), dead
    last = state.recent_runs(es, prefix, KEY, 1)[0]
    assert last.zero_results and last.silent and last.broken and last.request_failures >= 1
    still = state.load_cursor(es, prefix, KEY)
    assert still is not None and still.published_at == moved.published_at


def test_login_wall_is_broken_and_keeps_the_cursor(sim: Simulator, prefix: str, es: Elasticsearch) -> None:
    rc, _ = crawl(prefix, sim.url, "-k", "小米", "--max-pages", "1")
    assert rc == 0
    before = state.load_cursor(es, prefix, KEY)
    assert before is not None
    sim.advance(120)
    sim.set_faults(login_wall=True)
    rc, stats = crawl(prefix, sim.url, "-k", "小米", "--max-pages", "2")
    assert rc == 1 and stats["finish_reason"] == "login_wall"
    after = state.load_cursor(es, prefix, KEY)
    assert after is not None and (after.published_at, after.source_id) == (before.published_at, before.source_id)
    run = state.recent_runs(es, prefix, KEY, 1)[0]
    assert run.broken and run.login_wall and run.finish_reason == "login_wall" and run.zero_results
    assert not run.silent  # one good run before it is not enough history to call it silence
    assert [r.finish_reason for r in state.recent_runs(es, prefix, KEY, 5)] == ["login_wall", "finished"]


def test_unreachable_store_never_stops_the_crawl(sim: Simulator, prefix: str, tmp_path: Path) -> None:
    """Cursor and run records fail (logged), the crawl runs in full and its items are spooled, not lost."""
    env_url = "http://127.0.0.1:9"  # nothing listens on the discard port
    env = {**os.environ, "GROUNDSWELL_INDEX_PREFIX": prefix, "GROUNDSWELL_ES_URL": env_url,
           "GROUNDSWELL_HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "groundswell.cli.main", "crawl", "weibo", "--base-url", sim.url, "--json",
         "-k", "小米", "--max-pages", "1", "-a", "revisit_hours=1"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    stats = json.loads([x for x in proc.stdout.splitlines() if x.startswith("{")][-1])
    assert stats["finish_reason"] == "finished" and stats["item_scraped_count"] > 0
    assert stats["groundswell/spooled"] == stats["item_scraped_count"]
    assert "cannot load the crawl cursor" in proc.stderr and "not recorded" in proc.stderr
    assert list((tmp_path / "spool").iterdir())
