"""The simulated sources: every platform shape field for field, paging that ends, time that moves, and each fault,
over real HTTP on loopback so spiders can trust what these tests pin down."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from sites.server import Simulator

KW = "小米"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=7) as s:
        yield s


def fetch(sim: Simulator, path: str, *, method: str = "GET", body: bytes | None = None,
          headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(sim.url + path, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers.items()), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def get_json(sim: Simulator, path: str, **kw: Any) -> Any:
    status, _, text = fetch(sim, path, **kw)
    assert status == 200, text
    return json.loads(text)


def weibo_path(keyword: str, page: int) -> str:
    container = quote(f"100103type=61&q={keyword}", safe="")
    return f"/api/container/getIndex?containerid={container}&page_type=searchall&page={page}"


def weibo_posts(data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for card in data.get("data", {}).get("cards", []):
        if card["card_type"] == 9:
            out.append(card["mblog"])
        out.extend(c["mblog"] for c in card.get("card_group", []) if c["card_type"] == 9)
    return out


def all_weibo(sim: Simulator, keyword: str = KW) -> list[dict[str, Any]]:
    posts: list[dict[str, Any]] = []
    page = 1
    while True:
        data = get_json(sim, weibo_path(keyword, page))
        if data["ok"] != 1 or not weibo_posts(data):
            return posts
        posts.extend(weibo_posts(data))
        page += 1


# --- shapes -----------------------------------------------------------------------------------------------------


def test_weibo_search_shape_cards_and_reposts(sim: Simulator) -> None:
    data = get_json(sim, weibo_path(KW, 1))
    assert data["ok"] == 1
    cards = data["data"]["cards"]
    assert any(c["card_type"] != 9 for c in cards), "non-post cards must be there to skip"
    assert any("card_group" in c and any(g["card_type"] == 9 for g in c["card_group"]) for c in cards)
    posts = weibo_posts(data)
    assert len(posts) == 10
    for m in posts:
        assert isinstance(m["id"], str) and m["id"].isdigit()
        assert re.fullmatch(r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \+0800 \d{4}", m["created_at"])
        for key in ("attitudes_count", "comments_count", "reposts_count"):
            assert isinstance(m[key], int)
        assert isinstance(m["user"]["id"], int) and isinstance(m["user"]["followers_count"], int)
        assert m["user"]["screen_name"]
    everything = all_weibo(sim)
    assert len({m["id"] for m in everything}) == len(everything) > 30
    reposts = [m for m in everything if "retweeted_status" in m]
    assert reposts and all(m["retweeted_status"]["id"].isdigit() for m in reposts)
    html = " ".join(m["text"] for m in everything)
    assert '<span class="url-icon"><img alt="[' in html and "#</span></a>" in html and "<br />" in html
    assert "粥" in html, "unrelated look-alike posts (小米粥) belong in the results"


def test_weibo_pages_end_with_ok_0(sim: Simulator) -> None:
    data = get_json(sim, weibo_path(KW, 99))
    assert data["ok"] == 0 and not weibo_posts(data)


def test_weibo_comments_cursor_runs_to_zero(sim: Simulator) -> None:
    posts = all_weibo(sim)
    target = max(posts, key=lambda m: m["comments_count"])
    mid, max_id = target["id"], None
    seen: list[int] = []
    for _ in range(20):
        suffix = "" if max_id is None else f"&max_id={max_id}"
        data = get_json(sim, f"/comments/hotflow?id={mid}&mid={mid}&max_id_type=0{suffix}")
        assert data["ok"] == 1
        for c in data["data"]["data"]:
            assert {"id", "text", "created_at", "like_count", "user"} <= c.keys()
            assert isinstance(c["like_count"], int) and c["user"]["screen_name"]
        seen.extend(c["id"] for c in data["data"]["data"])
        max_id = data["data"]["max_id"]
        assert isinstance(max_id, int)
        if max_id == 0:
            break
    assert max_id == 0 and len(seen) == len(set(seen)) == min(target["comments_count"], 60) > 20


def test_bilibili_search_and_replies(sim: Simulator) -> None:
    pages, aids, titles = 1, [], []
    page = 1
    while page <= pages:
        data = get_json(sim, f"/x/web-interface/search/type?search_type=video&keyword={quote(KW)}&page={page}")
        assert data["code"] == 0
        pages = data["data"]["numPages"]
        for v in data["data"]["result"]:
            assert isinstance(v["aid"], int) and v["bvid"].startswith("BV1") and isinstance(v["pubdate"], int)
            assert v["title"] and v["author"]
            aids.append(v["aid"])
            titles.append(v["title"])
        page += 1
    assert pages == 3 and len(aids) == len(set(aids)) == 45
    assert sum('<em class="keyword">小米</em>' in t for t in titles) > 10
    beyond = get_json(sim, f"/x/web-interface/search/type?search_type=video&keyword={quote(KW)}&page=9")
    assert beyond["data"]["result"] == []
    aid, nxt, rpids = aids[0], 0, []
    for _ in range(20):
        data = get_json(sim, f"/x/v2/reply/wbi/main?oid={aid}&type=1&mode=3&ps=20&next={nxt}")
        assert data["code"] == 0
        for r in data["data"]["replies"]:
            assert isinstance(r["rpid"], int) and isinstance(r["ctime"], int) and isinstance(r["like"], int)
            assert r["content"]["message"] and r["member"]["uname"] and "mid" in r["member"]
            rpids.append(r["rpid"])
        cursor = data["data"]["cursor"]
        if cursor["is_end"]:
            break
        nxt = cursor["next"]
    assert cursor["is_end"] and len(rpids) == len(set(rpids))


def test_reddit_listing_pages_with_after(sim: Simulator) -> None:
    after, names = "", []
    for _ in range(10):
        data = get_json(sim, f"/search.json?q=xiaomi&sort=new&limit=20{'&after=' + after if after else ''}")
        assert data["kind"] == "Listing"
        for child in data["data"]["children"]:
            assert child["kind"] == "t3"
            d = child["data"]
            assert d["name"] == f"t3_{d['id']}" and d["permalink"].startswith(f"/r/{d['subreddit']}/comments/")
            assert isinstance(d["created_utc"], float) and isinstance(d["score"], int)
            assert isinstance(d["num_comments"], int) and d["title"] and "selftext" in d and d["author"]
            names.append(d["name"])
        after = data["data"]["after"]
        if after is None:
            break
    assert after is None and len(names) == len(set(names)) == 45
    created = [get_json(sim, "/search.json?q=xiaomi&sort=new&limit=100")["data"]["children"]]
    stamps = [c["data"]["created_utc"] for c in created[0]]
    assert stamps == sorted(stamps, reverse=True)


def test_jd_products_and_jsonp_reviews(sim: Simulator) -> None:
    products = get_json(sim, f"/search?keyword={quote(KW)}")["products"]
    assert len(products) == 3 and all(p["productId"].isdigit() and KW in p["name"] for p in products)
    pid, page, ids = products[0]["productId"], 0, []
    while True:
        status, _, text = fetch(
            sim, f"/comment/productPageComments.action?productId={pid}&score=0&sortType=6&page={page}&pageSize=10")
        assert status == 200
        m = re.fullmatch(r"fetchJSON_comment98\((.*)\);", text, re.S)
        assert m, text[:80]
        comments = json.loads(m[1])["comments"]
        if not comments:
            break
        for c in comments:
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", c["creationTime"])
            assert 1 <= c["score"] <= 5 and isinstance(c["usefulVoteCount"], int)
            assert c["content"] and c["nickname"] and c["referenceName"] == products[0]["name"] and c["productColor"]
            ids.append(c["id"])
        page += 1
    assert page == 4 and len(ids) == len(set(ids)) == 33


def test_xiaohongshu_page_has_no_notes_but_api_does(sim: Simulator) -> None:
    status, headers, page = fetch(sim, f"/search_result?keyword={quote(KW)}")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<section" not in page and 'class="note-item"' not in page
    assert "/api/sns/web/v1/search/notes" in page and "scroll" in page and "has_more" in page
    notes, n = [], 1
    while True:
        data = get_json(sim, f"/api/sns/web/v1/search/notes?keyword={quote(KW)}&page={n}")
        notes.extend(data["data"]["items"])
        if not data["data"]["has_more"]:
            break
        n += 1
    assert len(notes) == 40 and n == 2
    card = notes[0]["note_card"]
    assert card["display_title"] and card["desc"] and card["user"]["nickname"] and isinstance(card["time"], int)
    assert set(card["interact_info"]) == {"liked_count", "collected_count", "comment_count", "shared_count"}
    assert get_json(sim, f"/api/sns/web/v1/search/notes?keyword={quote(KW)}&page=5")["data"]["items"] == []


def test_review_pages_follow_next_then_layout_switch(sim: Simulator) -> None:
    path, texts = "/reviews/xiaomi-14?page=1", []
    while path:
        status, _, page = fetch(sim, path)
        assert status == 200
        blocks = re.findall(r'<div class="review".*?</div>', page)
        assert blocks and all('<p class="text">' in b and 'class="author"' in b for b in blocks)
        assert all(re.search(r'<time datetime="[^"]+\+08:00">', b) and 'class="rating"' in b for b in blocks)
        texts.extend(blocks)
        m = re.search(r'<a class="next" href="([^"]+)"', page)
        path = m[1] if m else ""
    assert len(texts) == 25
    status, _, _ = get_control(sim, "faults", {"layout_changed": True})
    assert status == 200
    _, _, page = fetch(sim, "/reviews/xiaomi-14?page=1")
    assert 'class="review"' not in page and 'class="review-item"' in page and 'class="pagination-next"' in page


def test_robots_allows_apis_and_disallows_private(sim: Simulator) -> None:
    status, headers, text = fetch(sim, "/robots.txt")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert "Disallow: /private/" in text and "Allow: /api/" in text
    assert "Disallow: /api" not in text and "Disallow: /x/" not in text


# --- time ---------------------------------------------------------------------------------------------------------


def test_counts_grow_and_new_posts_appear_after_advance(sim: Simulator) -> None:
    before = {m["id"]: m for m in all_weibo(sim)}
    sim.advance(90)
    after = {m["id"]: m for m in all_weibo(sim)}
    new = set(after) - set(before)
    assert len(new) >= 5, "one new weibo post every 15 simulated minutes"
    assert max(int(i) for i in new) > max(int(i) for i in before)
    common = set(before) & set(after)
    assert all(after[i]["attitudes_count"] >= before[i]["attitudes_count"] for i in common)
    assert all(after[i]["attitudes_count"] > before[i]["attitudes_count"] for i in common)
    assert sum(after[i]["comments_count"] for i in common) > sum(before[i]["comments_count"] for i in common)


def test_same_seed_same_answers_and_advance_over_http() -> None:
    with Simulator(seed=3) as a, Simulator(seed=3) as b:
        assert fetch(a, weibo_path(KW, 2))[2] == fetch(b, weibo_path(KW, 2))[2]
        state = get_control(a, "advance", {"minutes": 30})[2]
        assert json.loads(state)["now"].startswith("2026-11-24T10:30")
        assert fetch(a, weibo_path(KW, 1))[2] != fetch(b, weibo_path(KW, 1))[2]


def test_viral_scenario_big_account_reposted_fast(sim: Simulator) -> None:
    mid = sim.inject_viral(KW)
    sim.advance(30)
    posts = all_weibo(sim)
    origin = next(m for m in posts if m["id"] == mid)
    assert origin["user"]["followers_count"] == 2_000_000
    reposts = [m for m in posts if m.get("retweeted_status", {}).get("id") == mid]
    assert len(reposts) >= 25 and len({m["user"]["id"] for m in reposts}) > 20
    first = origin["reposts_count"]
    sim.advance(10)
    again = next(m for m in all_weibo(sim) if m["id"] == mid)
    assert again["reposts_count"] - first >= 300 and again["attitudes_count"] > origin["attitudes_count"] + 500


# --- faults ---------------------------------------------------------------------------------------------------------


def get_control(sim: Simulator, action: str, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
    return fetch(sim, f"/_control/{action}", method="POST", body=json.dumps(body).encode(),
                 headers={"Content-Type": "application/json"})


def test_every_nth_request_is_429_with_retry_after() -> None:
    with Simulator(seed=1, faults={"rate_limit_every": 3, "retry_after": 7}) as sim:
        statuses = [fetch(sim, "/search.json?q=apple&limit=5") for _ in range(6)]
    assert [s for s, _, _ in statuses] == [200, 200, 429, 200, 200, 429]
    assert statuses[2][1]["Retry-After"] == "7"


def test_fraction_faults_are_seeded_and_controllable(sim: Simulator) -> None:
    assert get_control(sim, "faults", {"error_fraction": 1.0, "error_status": 502})[0] == 200
    assert fetch(sim, "/search.json?q=apple")[0] == 502
    assert fetch(sim, "/robots.txt")[0] == 200, "robots.txt and control never fail"
    assert fetch(sim, "/_control/reset", method="POST", body=b"")[0] == 200
    assert fetch(sim, "/search.json?q=apple")[0] == 200
    assert get_control(sim, "faults", {"no_such_fault": 1})[0] == 400


def test_slow_switch_times_out_a_short_client(sim: Simulator) -> None:
    sim.set_faults(slow_seconds=2.0)
    start = time.monotonic()
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        fetch(sim, "/search.json?q=apple", timeout=0.3)
    assert time.monotonic() - start < 1.5


def test_dropped_field_leaves_every_weibo_post_without_it(sim: Simulator) -> None:
    sim.set_faults(drop_field="text")
    _, _, body = fetch(sim, "/api/container/getIndex?containerid=100103type%3D61%26q%3D%E5%B0%8F%E7%B1%B3&page=1")
    cards = json.loads(body)["data"]["cards"]
    posts = [c["mblog"] for c in cards if "mblog" in c] + [
        c["mblog"] for g in cards for c in g.get("card_group", []) if "mblog" in c]
    assert len(posts) == 10 and all("text" not in p and "created_at" in p for p in posts)
    assert all("text" not in p["retweeted_status"] for p in posts if "retweeted_status" in p)


def test_malformed_page_three(sim: Simulator) -> None:
    sim.set_faults(malformed=True)
    assert get_json(sim, weibo_path(KW, 2))["ok"] == 1
    status, _, text = fetch(sim, weibo_path(KW, 3))
    assert status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    sim.set_faults(malformed_keyword="华为")
    assert get_json(sim, weibo_path(KW, 3))["ok"] == 1
    status, _, text = fetch(sim, weibo_path(KW, 1) + "&_fault=malformed")
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_weibo_login_wall_json_redirect_and_cookie(sim: Simulator) -> None:
    sim.set_faults(login_wall=True)
    assert get_json(sim, weibo_path(KW, 1)) == {"ok": -100, "url": "/login", "msg": "请先登录"}
    sim.set_faults(login_style="redirect")
    status, headers, _ = fetch(sim, weibo_path(KW, 1))
    assert status == 302 and headers["Location"].startswith("/login")
    assert fetch(sim, "/login")[0] == 200
    sim.set_faults(login_wall=False, login_style="json", require_cookie=True)
    assert get_json(sim, weibo_path(KW, 1))["ok"] == -100
    assert get_json(sim, weibo_path(KW, 1), headers={"Cookie": "SUB=_2A25abc; SUBP=0033"})["ok"] == 1
    assert get_json(sim, "/search.json?q=apple")["kind"] == "Listing", "the wall is Weibo's alone"


def test_cli_help_and_port_in_use() -> None:
    from groundswell.cli.sites import sites

    result = CliRunner().invoke(sites, ["--help"])
    assert result.exit_code == 0 and "--speed" in result.output and "--rate-limit-every" in result.output
    with Simulator() as busy:
        result = CliRunner().invoke(sites, ["--port", str(busy.port)])
    assert result.exit_code == 2 and "cannot listen" in result.output
