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

from core.mention import Mention
from crawlers.paging import KEEP_CURSOR, Paging, page_is_stale, resume_by_page_number, revisit_cutoff
from crawlers.parsers.common import SearchPage
from crawlers.spiders.base import source_key
from crawlers.spiders.weibo import WeiboSpider
from sites.credentials import demo_env
from sites.server import Simulator
from store import state

pytestmark = [pytest.mark.es, pytest.mark.slow]

KEY = "weibo:小米@127.0.0.1"  # the simulator is not the real host, so its host is part of the key
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=7, port=0) as s:
        yield s


def crawl(
    prefix: str, base: str, *args: str, spider: str = "weibo", feed: Path | None = None
) -> tuple[int, dict[str, Any]]:
    """One `groundswell crawl` process; `feed`: also write the items it collected there (JSON lines)."""
    env = {**os.environ, **demo_env(), "GROUNDSWELL_INDEX_PREFIX": prefix, "GROUNDSWELL_REVISIT_HOURS": "1"}
    if feed is not None:
        module = feed.parent / f"feed_{feed.stem}.py"
        module.write_text(
            "from crawlers.settings import *  # noqa: F403\n"
            f"FEEDS = {{{str(feed)!r}: {{'format': 'jsonlines', 'fields': ['source_id', 'repost_of']}}}}\n"
        )
        env["SCRAPY_SETTINGS_MODULE"] = module.stem
        env["PYTHONPATH"] = os.pathsep.join(x for x in (str(feed.parent), os.environ.get("PYTHONPATH")) if x)
    proc = subprocess.run(
        [sys.executable, "-m", "groundswell.cli.main", "crawl", spider, "--base-url", base, "--json", *args],
        env=env, capture_output=True, text=True, timeout=300,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    assert lines, proc.stdout + proc.stderr
    return proc.returncode, json.loads(lines[-1])


def collected(feed: Path) -> tuple[list[str], set[str]]:
    """The ids a crawl collected (in order), and those of them that came as the original of a repost."""
    rows = [json.loads(line) for line in feed.read_text(encoding="utf-8").splitlines()]
    return [r["source_id"] for r in rows], {r["repost_of"] for r in rows if r.get("repost_of")}


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
    paging = spider.paging  # the spider's paging is configured from its arguments
    assert (paging.source_key, paging.revisit, paging.resume) == (spider.source_key, spider.revisit,
                                                                  resume_by_page_number)
    paging.cursor = state.Cursor(spider.source_key, T0, "0")
    assert paging.keep_paging(_page(30, -30, -90))
    assert not paging.keep_paging(_page(-121, -300))
    assert paging.newest == (T0 + timedelta(minutes=30), "30")
    off = WeiboSpider.from_crawler(get_crawler(WeiboSpider), keyword="小米", base_url="http://sim", incremental="0")
    off.paging.cursor = paging.cursor
    assert off.paging.keep_paging(_page(-121, -300))  # -a incremental=0: page as far as max_pages


def test_page_numbered_streams_resume_one_page_early_but_never_before_the_next_page() -> None:
    assert resume_by_page_number("7", 2) == 6  # new posts pushed the gap down: resume a page early
    assert resume_by_page_number("3", 5) == 5  # never behind the page the new phase reached
    assert resume_by_page_number("t3_x", 4) == 4  # not a page number: the next page


def _reddit(max_pages: int, cursor: state.Cursor | None) -> Paging:
    """The paging of a Reddit-like stream (`after` tokens), tested alone."""
    return Paging("reddit:k@sim", max_pages, revisit=timedelta(0), cursor=cursor)


def _at(minutes: int) -> tuple[datetime, str]:
    return T0 + timedelta(minutes=minutes), str(minutes)


def test_follow_keeps_the_gap_a_cut_run_leaves_and_fills_it_after_the_new_posts() -> None:
    old = state.Cursor("reddit:k@sim", T0, "0")
    cut = _reddit(2, old)
    assert cut.follow(_page(300, 290), "t3_290") == "t3_290"
    assert cut.follow(_page(280, 270), "t3_270") is None  # max_pages, still above the old cursor
    assert cut.next_gap() == state.Gap(T0, "0", *_at(270), "t3_270")
    first = _reddit(1, None)  # a first crawl has no floor: it reads max_pages deep, no gap
    assert first.follow(_page(300, 290), "t3_290") is None and first.next_gap() is None

    gap = cut.next_gap()
    assert isinstance(gap, state.Gap)
    resumed = _reddit(4, state.Cursor("reddit:k@sim", *_at(300), gap=gap))
    assert resumed.follow(_page(330, 310), "t3_310") == "t3_310"
    assert resumed.follow(_page(300, 290), "t3_290") == "t3_290"
    assert resumed.follow(_page(280, 270), "t3_270") == "t3_270"  # all older than the cursor: on to the gap
    assert resumed.phase == "gap"
    shown = resumed.unseen(SearchPage(_page(275, 260, 250)))  # 275 was fetched by the cut run
    assert [m.source_id for m in shown.mentions] == ["260", "250"]
    assert resumed.follow(_page(260, 250), "t3_250") is None  # max_pages again: the gap shrinks
    assert resumed.next_gap() == state.Gap(T0, "0", *_at(250), "t3_250")

    done = _reddit(5, state.Cursor("reddit:k@sim", *_at(330), gap=state.Gap(T0, "0", *_at(250), "t3_250")))
    assert done.follow(_page(320), "t3_320") == "t3_250"  # nothing new: straight to the gap
    assert [m.source_id for m in done.unseen(SearchPage(_page(240, 10, 0, -10))).mentions] == ["240", "10"]
    assert done.follow(_page(240, 10, 0, -10), "t3_-10") == "t3_-10"  # not all below the floor yet
    assert done.follow(_page(-20, -30), "t3_-30") is None and done.next_gap() is None  # floor reached: filled

    late = _reddit(1, state.Cursor("reddit:k@sim", *_at(330), gap=gap))
    assert late.follow(_page(300), "t3_300") is None  # no page left for the gap: it waits, unchanged
    assert late.next_gap() == gap


def test_a_spider_that_cannot_resume_keeps_the_old_cursor_when_cut() -> None:
    spider = _reddit(1, state.Cursor("reddit:k@sim", T0, "0"))
    assert spider.keep_paging(_page(300, 290), last_allowed=True)
    assert spider.next_gap() == KEEP_CURSOR
    fine = _reddit(1, state.Cursor("reddit:k@sim", T0, "0"))
    assert not fine.keep_paging(_page(-10, -20), last_allowed=True) and fine.next_gap() is None


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
    wall = run(4, reason="blocked", login_wall=True, blocked="weibo: login wall")
    wall.judge(ok)
    assert wall.blocked and not wall.broken and not wall.zero_results  # refused, not a changed page
    refused = run(0, reason="blocked", request_failures=1, blocked="weibo: HTTP 432")
    refused.judge(ok)
    assert not refused.broken and refused.to_document()["blocked"] == "weibo: HTTP 432"
    layout = run(2, reason="layout_changed")
    layout.judge([])
    assert layout.broken
    lost = run(0, skipped_posts=10)  # every post lost a required field: the response changed
    lost.judge(ok)
    assert lost.missing_fields and lost.broken and lost.zero_results
    some = run(2, items_found=2, skipped_posts=3)
    some.judge([])
    assert some.missing_fields and some.broken  # more posts lost fields than were read
    stray = run(40, items_found=40, skipped_posts=1)  # one malformed post among many is not a changed source
    stray.judge([])
    assert not stray.missing_fields and not stray.broken
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


def names_keyword(post: Any) -> bool:
    """With no brands configured the keyword is the brand: posts that do not name it (English ones say Xiaomi) are
    dropped as off-brand, unless they repost one that does."""
    return "小米" in post.text or (post.repost_of is not None and "小米" in post.repost_of.text)


def test_a_crawl_cut_short_by_max_pages_leaves_a_gap_that_the_next_run_fills(
    sim: Simulator, prefix: str, es: Elasticsearch, tmp_path: Path
) -> None:
    """Weibo pages by number, 10 posts a page, a new post every 15 simulated minutes; the revisit window is 1 h."""
    rc, _ = crawl(prefix, sim.url, "-k", "小米", "--max-pages", "2", feed=tmp_path / "run1.jsonl")
    first = state.load_cursor(es, prefix, KEY)
    assert rc == 0 and first is not None and first.gap is None  # a first crawl reads max_pages deep, no gap

    sim.advance(300)  # 20 new posts: one page (max_pages 1) cannot reach the old cursor
    rc, cut = crawl(prefix, sim.url, "-k", "小米", "--max-pages", "1", feed=tmp_path / "run2.jsonl")
    assert rc == 0 and cut["groundswell/gap_left"] == 1, cut
    second = state.load_cursor(es, prefix, KEY)
    assert second is not None and second.gap is not None and second.gap.resume == "2"
    assert (second.gap.floor_at, second.gap.floor_id) == (first.published_at, first.source_id)
    assert second.published_at == sim.world.posts("weibo", "小米")[0].created  # the cursor moved to the newest
    gap = {str(p.id) for p in sim.world.posts("weibo", "小米")
           if second.gap.holds(p.created, str(p.id)) and names_keyword(p)}
    unfetched = gap - indexed_ids(es, prefix)  # some came along as originals of reposts on page 1
    assert len(gap) >= 9 and len(unfetched) >= 5  # what moving the cursor alone would lose for good

    sim.advance(30)
    rc, resumed = crawl(prefix, sim.url, "-k", "小米", "--max-pages", "5", feed=tmp_path / "run3.jsonl")
    assert rc == 0 and resumed["groundswell/gap_pages"] >= 1 and not resumed.get("groundswell/gap_left"), resumed
    third = state.load_cursor(es, prefix, KEY)
    assert third is not None and third.gap is None
    assert third.published_at == sim.world.posts("weibo", "小米")[0].created

    # misses nothing: every post newer than the first cursor is stored
    newer = {str(p.id) for p in sim.world.posts("weibo", "小米") if p.created > first.published_at and names_keyword(p)}
    assert gap <= newer <= indexed_ids(es, prefix)
    # fetches nothing twice: what the resumed run collected again was inside its revisit window (or is the original
    # of a repost, which comes with the repost)
    created = {str(p.id): p.created for p in sim.world.posts("weibo", "小米")}
    before: set[str] = set()
    for run in ("run1", "run2"):
        earlier, shown = collected(tmp_path / f"{run}.jsonl")
        before |= set(earlier) - shown  # a post that came only as a repost's original still counts as unfetched
    ids, originals = collected(tmp_path / "run3.jsonl")
    window = second.published_at - timedelta(hours=1)
    again = [i for i in ids if i in before and i not in originals and created[i] < window]
    assert again == [] and len(ids) == len(set(ids))
    assert unfetched <= set(ids)


def test_login_wall_is_a_block_and_keeps_the_cursor(sim: Simulator, prefix: str, es: Elasticsearch) -> None:
    rc, _ = crawl(prefix, sim.url, "-k", "小米", "--max-pages", "1")
    assert rc == 0
    before = state.load_cursor(es, prefix, KEY)
    assert before is not None
    sim.advance(120)
    sim.set_faults(login_wall=True)
    rc, stats = crawl(prefix, sim.url, "-k", "小米", "--max-pages", "2")
    assert rc == 1 and stats["finish_reason"] == "blocked" and stats["outcome"] == "blocked"
    after = state.load_cursor(es, prefix, KEY)
    assert after is not None and (after.published_at, after.source_id) == (before.published_at, before.source_id)
    run = state.recent_runs(es, prefix, KEY, 1)[0]
    assert run.blocked.startswith("weibo: login") and run.login_wall and run.zero_results and not run.broken
    assert not run.silent  # one good run before it is not enough history to call it silence
    assert [r.finish_reason for r in state.recent_runs(es, prefix, KEY, 5)] == ["blocked", "finished"]


def test_responses_that_lose_a_required_field_are_flagged(sim: Simulator, prefix: str, es: Elasticsearch) -> None:
    rc, _ = crawl(prefix, sim.url, "-k", "小米", "--max-pages", "1")
    assert rc == 0
    before = state.load_cursor(es, prefix, KEY)
    sim.advance(60)
    sim.set_faults(drop_field="text")  # the site changed: posts come without their text
    rc, stats = crawl(prefix, sim.url, "-k", "小米", "--max-pages", "1")
    assert stats["groundswell/skipped_posts"] >= 10 and not stats.get("item_scraped_count"), stats
    run = state.recent_runs(es, prefix, KEY, 1)[0]
    assert run.missing_fields and run.broken and run.zero_results
    assert run.skipped_posts == stats["groundswell/skipped_posts"]
    after = state.load_cursor(es, prefix, KEY)
    assert before is not None and after is not None and after.published_at == before.published_at


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
