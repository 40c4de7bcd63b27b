"""Spiders against the local simulator, end to end through the pipelines into the real node.

Scrapy's reactor cannot restart in one process, so each crawl is its own `groundswell crawl` process; the
simulator runs in this one, so the test can move its clock and switch its faults.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from sites.credentials import demo_env
from sites.server import Simulator
from store import state
from tests.conftest import Gs

pytestmark = [pytest.mark.es, pytest.mark.slow]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=7, port=0) as s:
        yield s


def crawl(
    prefix: str, spider: str, base: str, *args: str, settings: dict[str, Any] | None = None, home: Path | None = None,
    credentials: bool = True,
) -> tuple[int, dict[str, Any]]:
    """One `groundswell crawl` process; `settings` (with `home`, a folder for the module) override the project's;
    `credentials`: hand it the simulator's test credentials (Reddit app, JD login cookie)."""
    env = {**os.environ, **demo_env(), "GROUNDSWELL_INDEX_PREFIX": prefix}
    if not credentials:
        env = {k: v for k, v in env.items() if not k.startswith(("GROUNDSWELL_REDDIT_", "GROUNDSWELL_COOKIES_"))}
    if settings:
        assert home is not None
        module = home / "override_settings.py"
        module.write_text("from crawlers.settings import *  # noqa: F403\n"
                          + "".join(f"{name} = {value!r}\n" for name, value in settings.items()))
        env["SCRAPY_SETTINGS_MODULE"] = module.stem
        env["PYTHONPATH"] = os.pathsep.join(x for x in (str(home), os.environ.get("PYTHONPATH")) if x)
    proc = subprocess.run(
        [sys.executable, "-m", "groundswell.cli.main", "crawl", spider, "--base-url", base, "--json", *args],
        env=env, capture_output=True, text=True, timeout=300,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    assert lines, proc.stdout + proc.stderr
    return proc.returncode, json.loads(lines[-1])


def test_reddit_and_weibo_crawls_land_in_the_index(sim: Simulator, prefix: str, gs: Gs, es: Elasticsearch) -> None:
    rc, stats = crawl(prefix, "reddit", sim.url, "-k", "Xiaomi", "--max-pages", "2", "-a", "comments=0")
    assert rc == 0, stats
    assert stats["item_scraped_count"] > 0 and stats.get("groundswell/indexed", 0) > 0
    assert stats.get("groundswell/dropped/off_brand", 0) > 0  # the search's posts that do not name Xiaomi
    rc, stats = crawl(prefix, "weibo", sim.url, "-k", "小米", "--max-pages", "2")
    assert rc == 0, stats
    weibo = stats["groundswell/indexed"]
    assert weibo > 0
    assert int(gs("search", "--count", "--platform", "weibo").output) == weibo
    hit = json.loads(gs("search", "--json", "--platform", "weibo", "--limit", "1").output.splitlines()[0])
    assert hit["sentiment"]["label"] in ("negative", "neutral", "positive") and hit["cluster_id"]
    assert "<" not in hit["text"]  # the HTML of weibo posts was stripped


@pytest.mark.parametrize("spider", ["weibo", "bilibili", "jd"])
def test_a_crawl_prints_no_warnings(sim: Simulator, prefix: str, spider: str) -> None:
    """Issue 17: no ScrapyDeprecationWarning (or any other warning) block in a crawl's output, even with every
    warning shown (-W always): deprecated settings and APIs are fixed at their source, not filtered."""
    proc = subprocess.run(
        [sys.executable, "-W", "always", "-m", "groundswell.cli.main", "crawl", spider, "-k", "小米", "--base-url",
         sim.url, "--max-pages", "1"],
        env={**os.environ, **demo_env(), "GROUNDSWELL_INDEX_PREFIX": prefix}, capture_output=True, text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Warning" not in proc.stderr, proc.stderr[-3000:]
    assert proc.stdout.startswith(f"{spider} 小米: finished;"), proc.stdout


def test_recrawl_after_time_passes_grows_engagement_history(sim: Simulator, prefix: str, es: Elasticsearch) -> None:
    crawl(prefix, "weibo", sim.url, "-k", "小米", "--max-pages", "1")
    sim.advance(90)
    rc, stats = crawl(prefix, "weibo", sim.url, "-k", "小米", "--max-pages", "1")
    assert rc == 0 and stats.get("groundswell/updated", 0) > 0, stats
    es.indices.refresh(index=f"{prefix}-mentions")
    docs = es.search(index=f"{prefix}-mentions", size=200, source=["engagement_history"])["hits"]["hits"]
    assert any(len(d["_source"]["engagement_history"]) > 1 for d in docs)


def test_login_wall_stops_the_crawl_and_says_so(sim: Simulator, prefix: str) -> None:
    sim.set_faults(login_wall=True)
    rc, stats = crawl(prefix, "weibo", sim.url, "-k", "小米")
    assert rc == 1
    assert stats["finish_reason"] == "blocked" and stats["groundswell/login_wall"] == 1
    assert stats["outcome"] == "blocked" and stats["blocked"].startswith("weibo: login wall")


def test_rate_limit_is_waited_out(sim: Simulator, prefix: str) -> None:
    sim.set_faults(rate_limit_every=2, retry_after=1)  # every second API request answers 429
    rc, stats = crawl(prefix, "weibo", sim.url, "-k", "小米", "--max-pages", "3")
    assert rc == 0, stats
    assert stats.get("groundswell/retry_after", 0) >= 1 and stats["item_scraped_count"] > 0
    assert stats.get("downloader/response_status_count/429", 0) >= 1
    assert not stats.get("groundswell/request_failed")


def test_expired_account_is_retired_and_the_next_one_used(sim: Simulator, prefix: str) -> None:
    sim.set_faults(require_cookie=True, expired_cookie="old")
    os.environ["GROUNDSWELL_COOKIES_WEIBO"] = "SUB=old||SUB=fresh"
    try:
        rc, stats = crawl(prefix, "weibo", sim.url, "-k", "小米", "--max-pages", "2")
    finally:
        del os.environ["GROUNDSWELL_COOKIES_WEIBO"]
    assert rc == 0, stats
    assert stats["groundswell/accounts_expired"] == 1 and stats["item_scraped_count"] > 0
    assert not stats.get("groundswell/login_wall")


def test_all_accounts_expired_is_a_block_not_a_loop(sim: Simulator, prefix: str) -> None:
    sim.set_faults(require_cookie=True, expired_cookie="old")
    os.environ["GROUNDSWELL_COOKIES_WEIBO"] = "SUB=old"
    try:
        rc, stats = crawl(prefix, "weibo", sim.url, "-k", "小米", "--max-pages", "2")
    finally:
        del os.environ["GROUNDSWELL_COOKIES_WEIBO"]
    assert rc == 1 and stats["finish_reason"] == "blocked" and stats["groundswell/login_wall"] == 1
    assert stats["groundswell/accounts_expired"] == 1 and stats.get("downloader/request_count", 0) < 10


def test_without_keyword_every_configured_brand_is_searched(sim: Simulator, prefix: str, tmp_path: Any) -> None:
    cfg = tmp_path / "groundswell.yaml"
    brands = "brands:\n  - {name: 小米, aliases: [Xiaomi]}\n  - {name: 华为, aliases: [Huawei]}\n"
    cfg.write_text(brands, encoding="utf-8")
    env = {**os.environ, "GROUNDSWELL_INDEX_PREFIX": prefix, "GROUNDSWELL_CONFIG": str(cfg)}
    proc = subprocess.run(
        [sys.executable, "-m", "groundswell.cli.main", "crawl", "weibo", "--base-url", sim.url, "--json",
         "--max-pages", "1", "-a", "incremental=0"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    runs = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(r["keyword"] for r in runs) == ["华为", "小米"]
    assert all(r["item_scraped_count"] > 0 for r in runs)


def test_without_brands_the_keyword_is_the_brand(sim: Simulator, prefix: str, gs: Gs) -> None:
    rc, _ = crawl(prefix, "reddit", sim.url, "-k", "Xiaomi", "--max-pages", "1")
    assert rc == 0
    brands = {json.loads(x)["brand"] for x in gs("search", "--json", "--limit", "50").output.splitlines()}
    assert brands == {"Xiaomi"}


def test_robots_txt_is_obeyed_and_a_forbidden_source_reported(sim: Simulator, prefix: str, es: Elasticsearch) -> None:
    """The simulator's robots.txt disallows /private/: the spider never asks for it, and the run says why."""
    rc, stats = crawl(prefix, "reviews", sim.url, "-a", "start_url=/private/reviews/100030809700")
    assert rc == 1, stats
    assert stats["robotstxt/forbidden"] == 1 and stats["groundswell/request_failed"] == 1
    assert stats["downloader/request_count"] == 1  # robots.txt only
    (run,) = state.recent_runs(es, prefix, "reviews:/private/reviews/100030809700@127.0.0.1", 5)
    assert run.broken and run.zero_results and run.request_failures == 1


def test_a_source_that_times_out_is_reported_not_waited_for(
    sim: Simulator, prefix: str, es: Elasticsearch, tmp_path: Path
) -> None:
    sim.set_faults(slow_seconds=5)  # every platform response takes 5 s; the crawl allows 1 s (and one retry)
    rc, stats = crawl(prefix, "reddit", sim.url, "-k", "Xiaomi", "--max-pages", "1",
                      settings={"DOWNLOAD_TIMEOUT": 1, "RETRY_TIMES": 1}, home=tmp_path)
    assert rc == 1, stats
    assert stats["groundswell/request_failed"] == 1 and not stats.get("item_scraped_count")
    timeouts = {k: v for k, v in stats.items() if k.startswith("downloader/exception_type_count/") and "Timeout" in k}
    assert list(timeouts.values()) == [2] and stats["retry/count"] == 1  # the first try and one retry
    assert stats["groundswell/retry_backoffs"] == 1  # the retry waited (RETRY_BACKOFF_BASE) before going out
    (run,) = state.recent_runs(es, prefix, "reddit:Xiaomi@127.0.0.1", 5)
    assert run.broken and run.request_failures == 1 and run.finish_reason == "finished"
    assert state.load_cursor(es, prefix, "reddit:Xiaomi@127.0.0.1") is None  # nothing seen: no cursor moved


def test_blocks_end_the_source_cleanly_and_the_health_rule_calls_them_blocks(
    sim: Simulator, prefix: str, es: Elasticsearch, tmp_path: Path
) -> None:
    """Each platform's block signal: one clear line, no retries, `blocked` with the signal in --json and the run
    record, and a crawler-health alert that says blocked (not broken)."""
    from alerts.rules.kinds.health import diagnose

    # Weibo without a session (no cookies kept): 432
    rc, weibo = crawl(prefix, "weibo", sim.url, "-k", "小米", settings={"COOKIES_ENABLED": False}, home=tmp_path)
    # Reddit without app credentials; JD without a login cookie
    _, reddit = crawl(prefix, "reddit", sim.url, "-k", "Xiaomi", credentials=False)
    _, jd = crawl(prefix, "jd", sim.url, "-k", "小米", credentials=False)
    assert rc == 1 and weibo["outcome"] == "blocked" and weibo["blocked"].startswith("weibo: HTTP 432")
    assert weibo["downloader/request_count"] <= 3 and not weibo.get("retry/count")  # robots, home, one search
    assert reddit["blocked"].startswith("reddit: no Reddit app credentials: set GROUNDSWELL_REDDIT_CLIENT_ID")
    assert not reddit.get("downloader/request_count")  # not even a token request
    assert jd["blocked"].startswith("jd: login required") and "GROUNDSWELL_COOKIES_JD" in jd["blocked"]
    for key, signal in (("weibo:小米", "weibo: HTTP 432"), ("reddit:Xiaomi", "reddit: no Reddit app"),
                        ("jd:小米", "jd: login required")):
        runs = state.recent_runs(es, prefix, f"{key}@127.0.0.1", 5)
        assert runs[0].blocked.startswith(signal) and runs[0].finish_reason == "blocked" and not runs[0].broken
        assert diagnose(runs) == ("blocked", 1)
    secret = "simulator-only-secret"
    _, ok = crawl(prefix, "reddit", sim.url, "-k", "Xiaomi", "--max-pages", "1", "-a", "comments=0")
    assert ok["outcome"] == "finished" and secret not in json.dumps(ok)


COUNTING = """
import atexit, json, sys
import core.config as cc
import store.client as sc
counts = {"config_loads": 0, "clients": 0}
_load, _make = cc.load, sc.make_client
def load(*a, **k):
    counts["config_loads"] += 1
    return _load(*a, **k)
def make_client(*a, **k):
    counts["clients"] += 1
    return _make(*a, **k)
cc.load, sc.make_client = load, make_client
atexit.register(lambda: print("COUNTS " + json.dumps(counts), file=sys.stderr))
from groundswell.cli.main import main
sys.argv = ["groundswell", *sys.argv[1:]]
main()
"""


def test_a_crawl_reads_its_configuration_once_and_opens_one_client(sim: Simulator, prefix: str) -> None:
    """Issue 13: the command, the spider, its middlewares and pipelines share one CrawlContext (crawlers/context.py):
    one reading of the configuration, one Elasticsearch client for the whole crawl (it was 7 and 3)."""
    proc = subprocess.run(
        [sys.executable, "-c", COUNTING, "crawl", "weibo", "-k", "小米", "--base-url", sim.url, "--max-pages", "1"],
        env={**os.environ, **demo_env(), "GROUNDSWELL_INDEX_PREFIX": prefix}, capture_output=True, text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [counted] = [line for line in proc.stderr.splitlines() if line.startswith("COUNTS ")]
    assert json.loads(counted.removeprefix("COUNTS ")) == {"config_loads": 1, "clients": 1}
