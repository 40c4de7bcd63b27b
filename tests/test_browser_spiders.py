"""The browser spider (xiaohongshu, through Debian's Chromium) and the selector-driven reviews spider.

Parsing is tested on saved HTML without a browser; the crawls run end to end against the simulator into the real
node, each in its own `groundswell crawl` process. The browser crawls carry a marker in their environment, which
Chromium inherits, so the test can see the browser processes it started and check that none outlive the crawl.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from pydantic import ValidationError

from crawlers import browser
from crawlers.parsers import reviews as rparser
from crawlers.parsers import xiaohongshu as xparser
from crawlers.parsers.common import LoginWall, ParseError
from groundswell import config as gsconfig
from sites.credentials import demo_storage_state
from sites.server import Simulator
from store import state
from tests.conftest import Gs

pytestmark = [pytest.mark.es, pytest.mark.slow]

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PRODUCT = "100030809700"  # seed 7: 25 reviews of a 小米 phone, 10 a page
needs_chromium = pytest.mark.skipif(
    browser.find_chromium() is None, reason="Chromium missing: " + browser.MISSING_MESSAGE
)

CLASSIC_REVIEWS = """<html><body><h1>小米 14 Pro</h1><div class="reviews">
<div class="review" id="r-1"><p class="text">Battery lasts <em>two</em> days.</p><span class="author">fox</span>
<time datetime="2026-11-24T08:13:21+08:00">2026-11-24</time><span class="rating">5</span>
<span class="helpful">64</span></div>
<div class="review" id="r-2"><p class="text">屏幕一个月就黑屏了</p><span class="author">柚子</span>
<time datetime="2026-11-23">2026-11-23</time><span class="rating">1</span><span class="helpful">--</span></div>
<div class="review" id="r-3"><p class="text"> </p><span class="author">empty</span></div>
</div><nav class="pager"><a class="next" href="/reviews/p?page=2">Next</a></nav></body></html>"""

REDESIGNED_REVIEWS = """<html><body><main><ul class="review-list">
<li class="review-item" data-review-id="7"><div class="review-body">Charger died in a month.</div>
<span class="review-author">quiet_owl</span><span class="review-date" data-timestamp="1764000000">Nov 24, 2025</span>
<span class="stars" data-score="2">★★☆☆☆</span></li></ul>
<a class="pagination-next" rel="next" href="/reviews/p?page=2">Load more</a></main></body></html>"""

REDESIGN_ARGS = {
    "item": "li.review-item", "text": ".review-body", "author": ".review-author",
    "time": ".review-date::attr(data-timestamp)", "rating": ".stars::attr(data-score)",
    "next": "a.pagination-next::attr(href)", "id": "::attr(data-review-id)", "likes": "",
}


# -- parsing, no browser, no network -----------------------------------------------------------------------------


def _xhs(name: str) -> Any:
    return json.loads((Path(__file__).parent / "data" / "responses" / name).read_text(encoding="utf-8"))


def test_xiaohongshu_reads_notes_from_the_pages_own_api_answers() -> None:
    page = xparser.parse_search([_xhs("xiaohongshu_search_notes.json")], NOW, "https://www.xiaohongshu.com")
    [first] = page.mentions  # the hot-query item is not a note; the video card has no title: skipped
    assert len(page.skipped) == 1 and "64f0bb0000000000" in page.skipped[0]
    assert first.url == "https://www.xiaohongshu.com/explore/64f0aa0000000000?xsec_token=ABxyz123%3D&xsec_source=pc_search"
    assert (first.title, first.author, first.author_id, first.likes) == ("小米15 续航", "柚子", "u1", 12_000)
    assert first.published_at == datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # "3天前", counted in China time
    xparser.apply_detail(first, _xhs("xiaohongshu_feed.json"))
    assert first.text.startswith("用了一周") and first.published_at == datetime(2025, 11, 24, 16, 0, tzinfo=UTC)
    assert (first.comments, first.reposts) == (45, 7)
    assert first.extra == {"xsec_token": "ABxyz123=", "ip_location": "上海", "collected": 300, "topics": ["小米15"]}


def test_xiaohongshu_blocks_and_changed_answers() -> None:
    with pytest.raises(LoginWall, match="not logged in"):
        xparser.parse_search([{"code": -101, "success": False, "msg": "无登录信息"}], NOW)
    with pytest.raises(ParseError, match=r"data\.items missing"):
        xparser.parse_search([{"code": 0, "success": True, "data": {}}], NOW)
    assert xparser.api_block(461, "https://edith.xiaohongshu.com/api/sns/web/v1/search/notes?x=1") == (
        "xiaohongshu: HTTP 461 (captcha / risk control) at https://edith.xiaohongshu.com/api/sns/web/v1/search/notes")
    assert xparser.api_block(200, "u") is None


@pytest.mark.parametrize("name", ["reviews_schema_org_jsonld_doc.html", "reviews_schema_org_microdata_doc.html"])
def test_reviews_read_schema_org_markup_before_any_selector(name: str) -> None:
    """schema.org's own Product example, as JSON-LD and as microdata: no selectors needed."""
    html = (Path(__file__).parent / "data" / "responses" / name).read_text(encoding="utf-8")
    page = rparser.parse_page(html, "http://shop.test/p/kenmore", NOW)
    ellie, lucas = page.mentions
    assert (ellie.author, ellie.rating, ellie.title) == ("Ellie", 1.0, "Not a happy camper")
    assert ellie.text == "The lamp burned out and now I have to replace it."
    assert ellie.published_at == datetime(2011, 4, 1, tzinfo=UTC) and lucas.rating == 4.0
    assert ellie.product == 'Kenmore White 17" Microwave' and ellie.source_id and ellie.source_id != lucas.source_id
    assert ellie.extra["aggregate_rating"] == {"ratingValue": 3.5, "reviewCount": 11.0}


@pytest.mark.parametrize(("printed", "expected"), [
    ("2024年3月5日", datetime(2024, 3, 4, 16, 0, tzinfo=UTC)),
    ("March 5, 2024", datetime(2024, 3, 4, 16, 0, tzinfo=UTC)),
    ("3天前", datetime(2026, 11, 22, 12, 0, tzinfo=UTC)),
    ("2 days ago", datetime(2026, 11, 23, 12, 0, tzinfo=UTC)),
    ("2026-11-24T08:13:21+08:00", datetime(2026, 11, 24, 0, 13, 21, tzinfo=UTC)),
    ("1764000000", datetime(2025, 11, 24, 16, 0, tzinfo=UTC)),
])
def test_review_dates_as_pages_print_them(printed: str, expected: datetime) -> None:
    assert rparser.parse_time(printed, rparser.parse_timezone("+08:00"), NOW) == expected


def test_reviews_default_selectors_read_the_classic_layout() -> None:
    url = "http://shop.test/reviews/p"
    page = rparser.parse_page(CLASSIC_REVIEWS, url, NOW, tz=rparser.parse_timezone("+08:00"), product="14 Pro")
    assert [m.text for m in page.mentions] == ["Battery lasts two days.", "屏幕一个月就黑屏了"]
    first, second = page.mentions
    assert first.source_id == "shop.test/reviews/p#r-1" and first.url == "http://shop.test/reviews/p#r-1"
    assert (first.author, first.rating, first.likes, first.product) == ("fox", 5.0, 64, "14 Pro")
    assert first.published_at == datetime(2026, 11, 24, 0, 13, 21, tzinfo=UTC)
    assert second.published_at == datetime(2026, 11, 23, tzinfo=UTC) - timedelta(hours=8)  # naive: the given zone
    assert second.likes is None and len(page.skipped) == 1
    assert page.next_page == "http://shop.test/reviews/p?page=2"


def test_reviews_selectors_for_the_redesign_and_layout_change_detection() -> None:
    with pytest.raises(rparser.LayoutChanged, match="matched nothing"):
        rparser.parse_page(REDESIGNED_REVIEWS, "http://shop.test/reviews/p", NOW)
    selectors = rparser.with_overrides(rparser.CLASSIC, REDESIGN_ARGS)
    page = rparser.parse_page(REDESIGNED_REVIEWS, "http://shop.test/reviews/p", NOW, selectors)
    (review,) = page.mentions
    assert (review.source_id, review.rating, review.author) == ("shop.test/reviews/p#7", 2.0, "quiet_owl")
    assert review.published_at == datetime.fromtimestamp(1764000000, UTC)
    assert page.next_page == "http://shop.test/reviews/p?page=2"
    # items found but no text in any of them: the text selector broke, which is a layout change too
    with pytest.raises(rparser.LayoutChanged, match="none readable"):
        gone = rparser.with_overrides(selectors, {"text": ".gone"})
        rparser.parse_page(REDESIGNED_REVIEWS, "http://x.test/r", NOW, gone)


def test_reviews_helpers() -> None:
    assert rparser.parse_rating("★★★★☆") == 4.0 and rparser.parse_rating("4,5 / 5") == 4.5
    assert rparser.parse_rating("n/a") is None
    assert rparser.parse_timezone("-0530").utcoffset(None) == -timedelta(hours=5, minutes=30)
    with pytest.raises(ValueError, match="timezone"):
        rparser.parse_timezone("Mars/Olympus")
    with pytest.raises(ValueError, match="unknown selector"):
        rparser.with_overrides(rparser.CLASSIC, {"txet": ".text"})
    with pytest.raises(ValueError, match=r"bad selectors: author: not a valid CSS selector .*got 'span\['"):
        rparser.with_overrides(rparser.CLASSIC, {"author": "span["})


def test_reviews_xpath_selectors_read_the_redesign() -> None:
    xpath = rparser.with_overrides(rparser.CLASSIC, {
        "item": "//li[contains(@class, 'review-item')]", "text": "xpath:.//div[@class='review-body']",
        "author": "./span[@class='review-author']/text()", "time": ".//span[@class='review-date']/@data-timestamp",
        "rating": "xpath:string(.//span[@class='stars']/@data-score)", "next": "//a[@rel='next']/@href",
        "id": "@data-review-id", "likes": "",
    })
    (review,) = rparser.parse_page(REDESIGNED_REVIEWS, "http://shop.test/reviews/p", NOW, xpath).mentions
    assert (review.source_id, review.rating, review.author, review.text) == (
        "shop.test/reviews/p#7", 2.0, "quiet_owl", "Charger died in a month.")
    assert review.published_at == datetime.fromtimestamp(1764000000, UTC)


def test_a_layout_change_that_keeps_items_but_loses_their_time_is_caught() -> None:
    lost_time = rparser.with_overrides(rparser.CLASSIC, {"time": "time::attr(data-when)"})
    with pytest.raises(rparser.LayoutChanged, match=r"none readable.*time missing"):
        rparser.parse_page(CLASSIC_REVIEWS, "http://shop.test/reviews/p", NOW, lost_time)


SOURCE_YAML = """
sources:
  - name: sim-classic
    spider: reviews
    max_pages: 2
    selectors:
      start_url: /reviews/{product}
      item: div.review
      text: xpath:.//p[@class="text"]
      time: time::attr(datetime)
      author: .author
      rating: ./span[@class="rating"]/text()
      next: a.next::attr(href)
      id: "@id"
  - name: sim-redesign
    spider: reviews
    selectors:
      start_url: /reviews/{product}
      item: li.review-item
      text: .review-body
      time: .review-date::attr(data-timestamp)
      rating: .stars::attr(data-score)
      next: //a[@rel="next"]/@href
      id: "@data-review-id"
"""


def test_source_selectors_are_checked_when_the_config_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "groundswell.yaml"
    path.write_text(SOURCE_YAML.format(product=PRODUCT), encoding="utf-8")
    cfg = gsconfig.load(str(path), env={})
    classic = cfg.sources[0].selectors
    assert classic is not None and classic.start_url == f"/reviews/{PRODUCT}" and not classic.browser
    assert cfg.sources[1].selectors is not None and cfg.sources[1].selectors.timezone == "UTC"
    with pytest.raises(ValidationError):
        classic.item = "li"  # type: ignore[misc]
    bad = SOURCE_YAML.format(product=PRODUCT).replace('./span[@class="rating"]/text()', './span[@class="rating"')
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(gsconfig.ConfigError) as err:
        gsconfig.load(str(path), env={})
    assert f"{path}: sources[0].selectors.rating: not a valid XPath expression" in str(err.value)
    assert "./span[@class=\"rating\"" in str(err.value)
    path.write_text(SOURCE_YAML.format(product=PRODUCT).replace("item: div.review", "item: div..review"))
    with pytest.raises(gsconfig.ConfigError, match=r"sources\[0\]\.selectors\.item: not a valid CSS selector"):
        gsconfig.load(str(path), env={})
    path.write_text("sources:\n  - {name: s, spider: reviews, selectors: {item: div, time: t}}\n")
    with pytest.raises(gsconfig.ConfigError, match=r"sources\[0\]\.selectors\.text: Field required"):
        gsconfig.load(str(path), env={})


def test_missing_chromium_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser, "CHROMIUM_CANDIDATES", ("/nonexistent/chromium",))
    monkeypatch.delenv(browser.CHROMIUM_ENV, raising=False)
    with pytest.raises(browser.BrowserMissing, match="apt-get install -y chromium"):
        browser.chromium_executable()
    options = browser.BROWSER_SETTINGS["PLAYWRIGHT_LAUNCH_OPTIONS"]
    assert options["headless"] is True and "--disable-background-networking" in options["args"]


# -- end to end against the simulator --------------------------------------------------------------------------


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=7, port=0) as s:
        yield s


def marked_chromium(marker: str) -> set[int]:
    """Live Chromium processes whose environment carries the marker (Chromium inherits the crawl's env)."""
    found: set[int] = set()
    needle = f"GS_BROWSER_TEST={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            comm, state = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2]
            if "chrom" not in comm.lower() or state in "ZX":
                continue
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.add(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def crawl(prefix: str, spider: str, base: str, *args: str, config: Path | None = None,
          env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], set[int], float]:
    """One `groundswell crawl`: exit status, stats, the marked Chromium pids seen while it ran, seconds taken."""
    marker = uuid.uuid4().hex
    env = {**{k: v for k, v in os.environ.items() if k != "GROUNDSWELL_XHS_STORAGE_STATE"}, **(env or {}),
           "GROUNDSWELL_INDEX_PREFIX": prefix, "GS_BROWSER_TEST": marker}
    if config is not None:
        env["GROUNDSWELL_CONFIG"] = str(config)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "groundswell.cli.main", "crawl", spider, "--base-url", base, "--json", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    seen: set[int] = set()
    try:
        while proc.poll() is None:
            seen |= marked_chromium(marker)
            if time.monotonic() - started > 300:
                raise AssertionError(f"{spider} crawl still running after 300 s")
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate()
    elapsed = time.monotonic() - started
    deadline = time.monotonic() + 5  # the browser gets a moment to finish exiting after the crawl
    while marked_chromium(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftover = marked_chromium(marker)
    assert not leftover, f"Chromium processes outlived the {spider} crawl: {sorted(leftover)}"
    lines = [x for x in out.splitlines() if x.startswith("{")]
    assert lines, out + err
    return proc.returncode, json.loads(lines[-1]), seen, elapsed


@needs_chromium
def test_xiaohongshu_crawl_through_chromium(sim: Simulator, prefix: str, gs: Gs, es: Elasticsearch,
                                            tmp_path: Path) -> None:
    profile = demo_storage_state(tmp_path, sim.url)
    rc, stats, chromium, seconds = crawl(prefix, "xiaohongshu", sim.url, "-k", "小米", "--max-pages", "3", env=profile)
    assert rc == 0, stats
    assert chromium, "no Chromium process was seen: the crawl did not render through the browser"
    assert stats["playwright/browser_count"] == 1 and stats["playwright/page_count"] == 1
    assert stats["groundswell/scrolls"] >= 1  # 40 notes, 20 per answer: one scroll brings the rest
    assert stats["groundswell/browser_pages_closed"] == 1
    assert stats["item_scraped_count"] == 40 and stats["groundswell/indexed"] == 40
    assert not stats.get("groundswell/parse_errors") and not stats.get("groundswell/details_failed")
    assert int(gs("search", "--count", "--platform", "xiaohongshu").output) == 40
    hit = json.loads(gs("search", "--json", "--platform", "xiaohongshu", "--limit", "1").output.splitlines()[0])
    assert hit["likes"] is not None and hit["comments"] is not None
    assert hit["url"].startswith(sim.url + "/explore/") and "xsec_token=" in hit["url"]  # a link that opens
    print(f"xiaohongshu crawl through Chromium: {seconds:.1f} s")


@needs_chromium
def test_xiaohongshu_without_a_logged_in_profile_is_blocked(sim: Simulator, prefix: str, es: Elasticsearch,
                                                            tmp_path: Path) -> None:
    rc, stats, _, _ = crawl(prefix, "xiaohongshu", sim.url, "-k", "小米")
    assert rc == 1 and stats["outcome"] == "blocked" and "GROUNDSWELL_XHS_STORAGE_STATE" in stats["blocked"]
    stale = tmp_path / "logged-out.json"
    stale.write_text('{"cookies": [], "origins": []}', encoding="utf-8")
    rc, stats, _, _ = crawl(prefix, "xiaohongshu", sim.url, "-k", "小米",
                            env={"GROUNDSWELL_XHS_STORAGE_STATE": str(stale)})
    assert rc == 1 and stats["blocked"].startswith("xiaohongshu: login modal")
    assert stats["groundswell/browser_pages_closed"] == 1
    sim.set_faults(xhs_captcha=True)
    rc, stats, _, _ = crawl(prefix, "xiaohongshu", sim.url, "-k", "小米", env=demo_storage_state(tmp_path, sim.url))
    assert rc == 1 and stats["blocked"].startswith("xiaohongshu: HTTP 461 (captcha")
    run = state.recent_runs(es, prefix, "xiaohongshu:小米@127.0.0.1", 1)[0]
    assert run.blocked.startswith("xiaohongshu: HTTP 461") and not run.broken


@pytest.mark.parametrize("markup", ["", "?markup=microdata"])
def test_a_shop_with_schema_org_reviews_needs_no_selectors(sim: Simulator, prefix: str, gs: Gs, es: Elasticsearch,
                                                         markup: str) -> None:
    """The simulated shop prints dates for people (2026年11月24日, March 5, 2026, 3天前) and marks reviews up."""
    rc, stats, _, _ = crawl(prefix, "reviews", sim.url, "-a", f"start_url=/shop/{PRODUCT}{markup}")
    assert rc == 0 and stats["item_scraped_count"] == 25 and not stats.get("groundswell/skipped_posts"), stats
    hits = [json.loads(x) for x in gs("search", "--json", "--platform", "reviews", "--limit", "30").output.splitlines()]
    by_author = {(h["author"], h["text"]): h for h in hits}
    for post in sim.world.posts("reviews", PRODUCT):
        hit = by_author[(post.author.name, post.text)]
        assert hit["rating"] == post.rating and hit["product"]
        local = post.created.astimezone(sim.now().tzinfo)
        published = datetime.fromisoformat(hit["published_at"].replace("Z", "+00:00")).astimezone(local.tzinfo)
        assert published.date() == local.date() or (sim.now() - post.created).days < 7  # relative: to the day


def test_reviews_crawl_follows_pages_into_the_index(sim: Simulator, prefix: str, gs: Gs, es: Elasticsearch) -> None:
    rc, stats, chromium, _ = crawl(prefix, "reviews", sim.url, "-a", f"start_url=/reviews/{PRODUCT}")
    assert rc == 0, stats
    assert not chromium and "playwright/page_count" not in stats  # plain HTTP unless browser=1
    assert stats["item_scraped_count"] == 25 and stats["groundswell/indexed"] == 25
    assert stats["downloader/response_status_count/200"] >= 3  # three review pages (and robots.txt)
    assert int(gs("search", "--count", "--platform", "reviews").output) == 25


@needs_chromium
def test_reviews_crawl_rendered_in_chromium(sim: Simulator, prefix: str, gs: Gs, es: Elasticsearch) -> None:
    rc, stats, chromium, seconds = crawl(
        prefix, "reviews", sim.url, "-a", f"start_url={sim.url}/reviews/{PRODUCT}", "-a", "browser=1",
        "--max-pages", "3",
    )
    assert rc == 0, stats
    assert chromium and stats["playwright/page_count"] == 3
    # every page and its context closed as soon as read: a new context per page, never two open at once
    assert stats["groundswell/browser_pages_closed"] == 3 and stats["playwright/context_count"] == 3
    assert stats["playwright/context_count/max_concurrent"] == 1 and stats["playwright/page_count/max_concurrent"] == 1
    assert stats["item_scraped_count"] == 25 and stats["groundswell/indexed"] == 25
    assert int(gs("search", "--count", "--platform", "reviews").output) == 25
    print(f"reviews crawl through Chromium: {seconds:.1f} s")


@pytest.mark.parametrize("render", [False, pytest.param(True, marks=needs_chromium)], ids=["http", "browser"])
def test_layout_change_closes_the_crawl_with_a_reason(sim: Simulator, prefix: str, render: bool) -> None:
    sim.set_faults(layout_changed=True)
    extra = ["-a", "browser=1"] if render else []
    rc, stats, _, _ = crawl(prefix, "reviews", sim.url, "-a", f"start_url=/reviews/{PRODUCT}", *extra)
    assert rc == 1
    assert stats["finish_reason"] == "layout_changed"
    if render:  # the redesigned page was closed too, although reading it failed
        assert stats["playwright/page_count"] == stats["groundswell/browser_pages_closed"] == 1
    assert stats["groundswell/parse_errors"] == 1 and stats["groundswell/parse_errors/reviews"] == 1
    assert stats["groundswell/layout_changed"] == 1 and not stats.get("item_scraped_count")


def test_selectors_for_the_redesign_read_it(sim: Simulator, prefix: str) -> None:
    sim.set_faults(layout_changed=True)
    args = [f"{name}={value}" for name, value in REDESIGN_ARGS.items()]
    rc, stats, _, _ = crawl(prefix, "reviews", sim.url, "-a", f"start_url=/reviews/{PRODUCT}",
                            *[x for a in args for x in ("-a", a)])
    assert rc == 0, stats
    assert stats["item_scraped_count"] == 25 and not stats.get("groundswell/parse_errors")


def test_configured_source_drives_the_reviews_spider_and_a_redesign_is_reported_broken(
    sim: Simulator, prefix: str, es: Elasticsearch, tmp_path: Path
) -> None:
    config = tmp_path / "groundswell.yaml"
    config.write_text(SOURCE_YAML.format(product=PRODUCT), encoding="utf-8")
    rc, stats, _, _ = crawl(prefix, "reviews", sim.url, "-a", "source=sim-classic", config=config)
    assert rc == 0, stats
    assert stats["item_scraped_count"] == 20 and stats["downloader/response_status_count/200"] >= 2  # max_pages: 2
    key = "reviews:sim-classic@127.0.0.1"
    (run,) = state.recent_runs(es, prefix, key, 5)
    assert run.items == 20 and not run.broken

    sim.set_faults(layout_changed=True)  # the site is redesigned: the configured selectors find nothing
    rc, stats, _, _ = crawl(prefix, "reviews", sim.url, "-a", "source=sim-classic", config=config)
    assert rc == 1 and stats["finish_reason"] == "layout_changed", stats
    assert stats["groundswell/layout_changed"] == 1 and not stats.get("item_scraped_count")
    last = state.recent_runs(es, prefix, key, 1)[0]
    assert last.broken and last.finish_reason == "layout_changed" and last.parse_errors == 1

    # the new layout's selectors, configured as another source, read all 25 reviews; -a still wins over the file
    rc, stats, _, _ = crawl(prefix, "reviews", sim.url, "-a", "source=sim-redesign", "-a", "max_pages=1",
                            config=config)
    assert rc == 0 and stats["item_scraped_count"] == 10, stats
    assert state.recent_runs(es, prefix, "reviews:sim-redesign@127.0.0.1", 1)[0].items == 10


@needs_chromium
def test_browser_pages_of_failed_requests_are_closed_too(sim: Simulator, prefix: str) -> None:
    """5xx answers are retried (in the same page, which the retry carries along), then given up: the errback closes
    the page and its context all the same."""
    sim.set_faults(error_every=1, error_status=500)
    rc, stats, chromium, _ = crawl(prefix, "reviews", sim.url, "-a", f"start_url=/reviews/{PRODUCT}",
                                   "-a", "browser=1")
    assert rc == 1 and chromium, stats
    assert stats["groundswell/request_failed"] == 1 and not stats.get("item_scraped_count")
    assert stats["downloader/response_status_count/500"] == 4  # the first try and three retries
    assert stats["groundswell/retry_backoffs"] == 3  # 1, 2 and 4 s between them
    assert stats["playwright/page_count"] == stats["groundswell/browser_pages_closed"] == 1
