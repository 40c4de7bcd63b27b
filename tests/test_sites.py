"""The simulated sources: every platform shape field for field, paging that ends, time that moves, and each fault,
over real HTTP on loopback so spiders can trust what these tests pin down."""

from __future__ import annotations

import base64
import json
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from click.testing import CliRunner

from crawlers.platforms import bilibili_wbi
from sites import bilibili as sites_bilibili
from sites import reddit as reddit_site
from sites import xiaohongshu as xhs_site
from sites.server import Simulator

KW = "小米"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=7) as s:
        yield s


# a mobile browser session on m.weibo.cn (its visitor cookie): what the simulator's Weibo insists on
SESSION = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1",
           "Referer": "https://m.weibo.cn/", "Cookie": "_T_WM=1"}


def fetch(sim: Simulator, path: str, *, method: str = "GET", body: bytes | None = None,
          headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, dict[str, str], str]:
    """A request with the browser session's headers, which `headers` extend or override."""
    req = urllib.request.Request(sim.url + path, data=body, method=method, headers={**SESSION, **(headers or {})})
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
    kind = 0
    for _ in range(20):
        suffix = "" if max_id is None else f"&max_id={max_id}"
        data = get_json(sim, f"/comments/hotflow?id={mid}&mid={mid}&max_id_type={kind}{suffix}")
        assert data["ok"] == 1
        for c in data["data"]["data"]:
            assert {"id", "text", "created_at", "like_count", "user"} <= c.keys()
            assert isinstance(c["like_count"], int) and c["user"]["screen_name"]
        seen.extend(c["id"] for c in data["data"]["data"])
        max_id, kind = data["data"]["max_id"], data["data"]["max_id_type"]
        assert isinstance(max_id, int)
        if max_id == 0:
            break
    assert max_id == 0 and len(seen) == len(set(seen)) == min(target["comments_count"], 60) > 20
    first = get_json(sim, f"/comments/hotflow?id={mid}&mid={mid}&max_id_type=0")["data"]
    second = get_json(sim, f"/comments/hotflow?id={mid}&mid={mid}&max_id_type=0&max_id={first['max_id']}")["data"]
    assert second["max_id_type"] == 1  # further down, the cursor changes type...
    wrong = get_json(sim, f"/comments/hotflow?id={mid}&mid={mid}&max_id_type=0&max_id={second['max_id']}")
    assert wrong["ok"] == 0  # ...and a client that does not pass it back gets nothing more


def test_weibo_wants_a_browser_session_and_gives_long_posts_whole(sim: Simulator) -> None:
    assert fetch(sim, weibo_path(KW, 1), headers={"Cookie": ""})[0] == 432  # no session cookie
    assert fetch(sim, weibo_path(KW, 1), headers={"User-Agent": "python-requests/2.32"})[0] == 432
    assert fetch(sim, weibo_path(KW, 1), headers={"Referer": ""})[0] == 432
    with urllib.request.urlopen(sim.url + "/", timeout=10) as home:  # the warm-up sets the visitor cookie
        assert any(c.startswith("_T_WM=") for c in home.headers.get_all("Set-Cookie"))
    posts = all_weibo(sim)
    long_post = next(m for m in posts if m["isLongText"])
    assert long_post["text"].endswith("全文</a>")
    full = get_json(sim, f"/statuses/extend?id={long_post['id']}")["data"]["longTextContent"]
    assert "补充一下" in full and "补充一下" not in long_post["text"]
    assert all(m["region_name"].startswith("发布于 ") for m in posts)
    assert any(m["pics"] and m["pics"][0]["large"]["url"].startswith("https://") for m in posts)


BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/136.0", "Referer": "https://www.bilibili.com/"}


def bilibili_get(sim: Simulator, path: str, params: dict[str, Any], *, sign: bool = True,
                 headers: dict[str, str] | None = None, keys: tuple[str, str] | None = None) -> Any:
    """A call as the web page makes it: browser headers, the visitor cookie, WBI-signed with the nav's keys."""
    buvid = get_json(sim, "/x/frontend/finger/spi")["data"]["b_3"]
    keys = keys or bilibili_wbi.keys_from_nav(get_json(sim, "/x/web-interface/nav"))
    query = bilibili_wbi.signed_query(params, *keys, wts=int(time.time())) if sign else urlencode(params)
    sent = {**BROWSER, "Cookie": f"buvid3={buvid}"} if headers is None else headers
    return get_json(sim, f"{path}?{query}", headers=sent)


def test_bilibili_search_and_replies(sim: Simulator) -> None:
    pages, aids, titles, dates = 1, [], [], []
    page = 1
    while page <= pages:
        data = bilibili_get(sim, "/x/web-interface/wbi/search/type",
                            {"search_type": "video", "keyword": KW, "order": "pubdate", "page": page})
        assert data["code"] == 0
        pages = data["data"]["numPages"]
        for v in data["data"]["result"]:
            assert isinstance(v["aid"], int) and v["bvid"].startswith("BV1") and isinstance(v["pubdate"], int)
            assert v["title"] and v["author"] and "like" not in v  # as documented: likes come from view
            aids.append(v["aid"])
            titles.append(v["title"])
            dates.append(v["pubdate"])
        page += 1
    assert pages == 3 and len(aids) == len(set(aids)) == 45 and dates == sorted(dates, reverse=True)
    assert sum('<em class="keyword">小米</em>' in t for t in titles) > 10
    beyond = bilibili_get(sim, "/x/web-interface/wbi/search/type", {"search_type": "video", "keyword": KW, "page": 9})
    assert beyond["data"]["result"] == []
    aid, offset, rpids, times = aids[0], "", [], []
    for _ in range(20):
        data = bilibili_get(sim, "/x/v2/reply/wbi/main", {
            "oid": aid, "type": 1, "mode": 2, "pagination_str": json.dumps({"offset": offset})})
        assert data["code"] == 0
        for r in data["data"]["replies"]:
            assert isinstance(r["rpid"], int) and isinstance(r["ctime"], int) and isinstance(r["like"], int)
            assert r["content"]["message"] and r["member"]["uname"] and "mid" in r["member"]
            rpids.append(r["rpid"])
            times.append(r["ctime"])
        cursor = data["data"]["cursor"]
        if cursor["is_end"]:
            break
        offset = cursor["pagination_reply"]["next_offset"]
    assert cursor["is_end"] and len(rpids) == len(set(rpids)) and times == sorted(times, reverse=True)  # mode=2
    stat = get_json(sim, f"/x/web-interface/view?aid={aid}")["data"]["stat"]
    assert stat["like"] >= 0 and stat["reply"] >= 0
    mid = get_json(sim, f"/x/web-interface/view?aid={aid}")["data"]["owner"]["mid"]
    assert get_json(sim, f"/x/relation/stat?vmid={mid}")["data"]["follower"] >= 0


def test_bilibili_enforces_signature_cookie_and_browser(sim: Simulator) -> None:
    params = {"search_type": "video", "keyword": KW, "order": "pubdate", "page": 1}
    path = "/x/web-interface/wbi/search/type"
    unsigned = bilibili_get(sim, path, params, sign=False)
    assert unsigned["code"] == 0 and unsigned["data"]["v_voucher"].startswith("voucher_")
    wrong = bilibili_get(sim, path, params, keys=("0" * 32, "1" * 32))
    assert "v_voucher" in wrong["data"]
    assert bilibili_get(sim, path, params, headers=BROWSER)["code"] == -412  # no buvid3
    bot = {"User-Agent": "Groundswell brand monitor (+https://groundswell.invalid/bot)", "Referer": BROWSER["Referer"]}
    assert bilibili_get(sim, path, params, headers={**bot, "Cookie": "buvid3=x"})["code"] == -412
    old = bilibili_wbi.keys_from_nav(get_json(sim, "/x/web-interface/nav"))
    sim.set_faults(wbi_key_epoch=1)  # the keys of the day rotate: old signatures are refused
    assert "v_voucher" in bilibili_get(sim, path, params, keys=old)["data"]
    assert bilibili_get(sim, path, params)["data"]["result"]
    replies = bilibili_get(sim, "/x/v2/reply/wbi/main", {"oid": 1, "type": 1, "mode": 2}, sign=False)
    assert replies["code"] == -403  # comments answer a bad signature with -403 (docs/comment/list.md)
    assert not {"/x/web-interface/search/type", "/x/v2/reply/main"} & set(sites_bilibili.ROUTES)  # old paths gone
    with urllib.request.urlopen(sim.url + "/", timeout=10) as home:  # the home page sets the visitor cookies
        assert any(c.startswith("buvid3=") for c in home.headers.get_all("Set-Cookie"))


def reddit_token(sim: Simulator, user: str = reddit_site.DEMO_CLIENT_ID, secret: str = reddit_site.DEMO_CLIENT_SECRET,
                 form: bytes = b"grant_type=client_credentials") -> tuple[int, dict[str, Any]]:
    auth = base64.b64encode(f"{user}:{secret}".encode()).decode()
    status, _, text = fetch(sim, "/api/v1/access_token", method="POST", body=form, headers={
        "Authorization": f"Basic {auth}", "Content-Type": "application/x-www-form-urlencoded"})
    return status, json.loads(text)


REDDIT_UA = "linux:groundswell:v0.1.0 (by /u/groundswell_demo)"


def test_reddit_listing_pages_with_after(sim: Simulator) -> None:
    status, token = reddit_token(sim)
    assert status == 200 and token["token_type"] == "bearer" and token["expires_in"] > 0
    api = {"Authorization": f"bearer {token['access_token']}", "User-Agent": REDDIT_UA}
    after, names = "", []
    for _ in range(10):
        data = get_json(sim, f"/search?q=xiaomi&sort=new&limit=20{'&after=' + after if after else ''}", headers=api)
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
    status, headers, text = fetch(sim, "/search?q=xiaomi&sort=new&limit=100", headers=api)
    stamps = [c["data"]["created_utc"] for c in json.loads(text)["data"]["children"]]
    assert stamps == sorted(stamps, reverse=True)
    assert int(headers["X-Ratelimit-Used"]) == 4 and float(headers["X-Ratelimit-Remaining"]) == 56.0
    assert 0 <= int(headers["X-Ratelimit-Reset"]) <= 60
    post = json.loads(text)["data"]["children"][0]["data"]
    listing, comments = get_json(sim, f"/comments/{post['id']}?sort=new&limit=100", headers=api)
    assert listing["data"]["children"][0]["data"]["id"] == post["id"]
    assert all(c["kind"] == "t1" and c["data"]["parent_id"] == f"t3_{post['id']}" for c in comments["data"]["children"])


def test_reddit_enforces_oauth_user_agent_and_rate_limit(sim: Simulator) -> None:
    assert reddit_token(sim, secret="wrong")[0] == 401
    assert reddit_token(sim, form=b"grant_type=password&username=x&password=y")[0] == 401
    owner = f"grant_type=password&username={reddit_site.DEMO_USERNAME}&password={reddit_site.DEMO_PASSWORD}"
    assert reddit_token(sim, form=owner.encode())[0] == 200  # a script app acting for its owner
    token = reddit_token(sim)[1]["access_token"]
    status, _, text = fetch(sim, "/search?q=xiaomi", headers={"User-Agent": REDDIT_UA})
    assert status == 403 and "blocked" in text.lower()  # no token
    assert fetch(sim, "/search?q=xiaomi", headers={"Authorization": f"bearer {token}"})[0] == 403  # browser UA
    assert fetch(sim, "/search.json?q=xiaomi")[0] == 403  # the old unauthenticated path
    api = {"Authorization": f"bearer {token}", "User-Agent": REDDIT_UA}
    for _ in range(reddit_site.RATE_LIMIT):
        assert fetch(sim, "/search?q=xiaomi&limit=1", headers=api)[0] == 200
    status, headers, _ = fetch(sim, "/search?q=xiaomi&limit=1", headers=api)
    assert status == 429 and float(headers["X-Ratelimit-Remaining"]) == 0.0


def test_jd_search_page_and_reviews_want_login_and_item_referer(sim: Simulator) -> None:
    status, headers, _ = fetch(sim, f"/Search?keyword={quote(KW)}&enc=utf-8")
    assert status == 302 and headers["Location"].startswith("/new/login.aspx?ReturnUrl=")  # no login cookie
    status, _, page = fetch(sim, f"/Search?keyword={quote(KW)}&enc=utf-8", headers={"Cookie": "thor=demo"})
    assert status == 200
    products = re.findall(r'<li class="gl-item" data-sku="(\d+)"', page)
    assert len(products) == 3 and page.count(f"<em>{KW}") == 3
    pid, page_no, ids = products[0], 1, []
    path = "/discussion/getProductPageImageCommentList.action"
    assert fetch(sim, f"{path}?productId={pid}&page=1")[0] == 403  # no item page as Referer
    item = {"Referer": f"https://item.jd.com/{pid}.html"}
    while True:
        rows = get_json(sim, f"{path}?productId={pid}&isShadowSku=0&sortType=5&page={page_no}&pageSize=10",
                        headers=item)["imgComments"]["imgList"]
        if not rows:
            break
        for row in rows:
            c = row["commentVo"]
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", c["creationTime"])
            assert 1 <= c["score"] <= 5 and isinstance(c["usefulVoteCount"], int)
            assert c["content"] and c["nickname"] and c["referenceName"] and c["productColor"]
            ids.append(c["id"])
        page_no += 1
    assert page_no == 5 and len(ids) == len(set(ids)) == 33
    assert fetch(sim, f"/comment/productPageComments.action?productId={pid}", headers=item)[0] == 404  # gone


def xhs_call(sim: Simulator, path: str, body: dict[str, Any], *, session: bool = True,
             sign: bool = True) -> tuple[int, Any]:
    """A call as the page's script makes it: the login cookie, the X-s/X-t signature headers."""
    headers = {"Content-Type": "application/json;charset=UTF-8",
               "Cookie": f"{xhs_site.SESSION_COOKIE}={xhs_site.DEMO_SESSION}" if session else ""}
    if sign:
        headers |= {"X-s": "XYW_test", "X-t": str(int(time.time() * 1000))}
    status, _, text = fetch(sim, path, method="POST", body=json.dumps(body).encode(), headers=headers)
    return status, json.loads(text)


def test_xiaohongshu_page_has_no_notes_but_its_signed_api_does(sim: Simulator) -> None:
    login = {"Cookie": f"{xhs_site.SESSION_COOKIE}={xhs_site.DEMO_SESSION}"}
    status, headers, page = fetch(sim, f"/search_result?keyword={quote(KW)}", headers=login)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<section" not in page and 'class="note-item"' not in page
    assert "/api/sns/web/v1/search/notes" in page and "scroll" in page and "X-s" in page  # the page signs its calls
    assert "login-container" in fetch(sim, f"/search_result?keyword={quote(KW)}")[2]  # logged out: the modal
    api = "/api/sns/web/v1/search/notes"
    notes, n = [], 1
    while True:
        status, data = xhs_call(sim, api, {"keyword": KW, "page": n, "sort": "time_descending"})
        assert status == 200 and data["code"] == 0
        notes.extend(data["data"]["items"])
        if not data["data"]["has_more"]:
            break
        n += 1
    assert len(notes) == 40 and n == 2
    note = notes[0]
    card = note["note_card"]
    assert card["display_title"] and card["user"]["nickname"] and note["xsec_token"]
    assert card["corner_tag_info"][0]["type"] == "publish_time" and card["interact_info"]["liked_count"].isdigit()
    assert xhs_call(sim, api, {"keyword": KW}, sign=False)[0] == 406  # unsigned
    assert xhs_call(sim, api, {"keyword": KW}, session=False)[1]["code"] == -101  # not logged in
    token = quote(note["xsec_token"], safe="")
    assert fetch(sim, f"/explore/{note['id']}", headers=login)[0] == 404  # no xsec_token: the 404 page
    assert fetch(sim, f"/explore/{note['id']}?xsec_token={token}&xsec_source=pc_search", headers=login)[0] == 200
    _, feed = xhs_call(sim, "/api/sns/web/v1/feed", {"source_note_id": note["id"], "xsec_token": note["xsec_token"]})
    detail = feed["data"]["items"][0]["note_card"]
    assert detail["desc"] and isinstance(detail["time"], int) and detail["ip_location"]
    sim.set_faults(xhs_captcha=True)
    assert xhs_call(sim, api, {"keyword": KW})[0] == 461


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
        assert json.loads(state)["now"].startswith("2026-11-24T02:30")
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
        statuses = [fetch(sim, weibo_path("apple", 1)) for _ in range(6)]
    assert [s for s, _, _ in statuses] == [200, 200, 429, 200, 200, 429]
    assert statuses[2][1]["Retry-After"] == "7"


def test_fraction_faults_are_seeded_and_controllable(sim: Simulator) -> None:
    assert get_control(sim, "faults", {"error_fraction": 1.0, "error_status": 502})[0] == 200
    assert fetch(sim, weibo_path("apple", 1))[0] == 502
    assert fetch(sim, "/robots.txt")[0] == 200, "robots.txt and control never fail"
    assert fetch(sim, "/_control/reset", method="POST", body=b"")[0] == 200
    assert fetch(sim, weibo_path("apple", 1))[0] == 200
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
    assert fetch(sim, "/search.json?q=apple")[0] == 403, "the wall is Weibo's alone; Reddit's old path is Blocked"


def test_cli_help_and_port_in_use() -> None:
    from groundswell.cli.sites import sites

    result = CliRunner().invoke(sites, ["--help"])
    assert result.exit_code == 0 and "--speed" in result.output and "--rate-limit-every" in result.output
    with Simulator() as busy:
        result = CliRunner().invoke(sites, ["--port", str(busy.port)])
    assert result.exit_code == 2 and "cannot listen" in result.output


def _run_sites(*args: str, env: dict[str, str] | None = None) -> tuple[dict[str, Any], dict[str, Any], str]:
    """`groundswell sites ARGS --json` as its own process: (its JSON line, /_control/state, its stderr)."""
    import os
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "groundswell.cli.main", "sites", "--port", "0", "--quiet",
                             "--json", *args], env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        info = json.loads(line)
        with urllib.request.urlopen(f"{info['url']}/_control/state", timeout=10) as resp:
            state = json.loads(resp.read())
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    return info, state, err


def _t(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_command_starts_now_in_real_time() -> None:
    """Issue 17: not a fixed 2026-11-24, so `search --since 24h` after a crawl finds what it brought."""
    from datetime import UTC, datetime, timedelta

    before = datetime.now(UTC)
    info, state, err = _run_sites()
    assert before - timedelta(seconds=1) <= _t(info["now"]) <= datetime.now(UTC) + timedelta(seconds=1)
    assert info["now"].endswith("Z") and state["now"].endswith("Z")  # RFC 3339 UTC for programs
    assert info["speed"] == 1 and state["speed"] == 1 and info["shared_clock"] is False
    assert re.search(r"simulated time \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+00:00", err), err  # for people: zone shown


def test_start_speed_and_faults_by_their_control_api_names() -> None:
    info, state, err = _run_sites("--start", "2026-11-24T10:00+08:00", "--speed", "60", "--fault", "xhs_captcha=1",
                                  "--fault", "slow_seconds=0.5", "--rate-limit-every", "7", "--slow", "0.25")
    assert _t(info["now"]) >= _t("2026-11-24T02:00:00Z") and _t(info["now"]) < _t("2026-11-24T02:10:00Z")
    assert state["speed"] == 60
    faults = state["faults"]
    assert faults["xhs_captcha"] is True and faults["rate_limit_every"] == 7
    assert faults["slow_seconds"] == 0.5  # --fault comes after the flags and the deprecated --slow
    assert err.count("--slow is deprecated; use --slow-seconds") == 1


@pytest.mark.parametrize(("args", "said"), [
    (["--fault", "nope=1"], "unknown fault 'nope'"),
    (["--fault", "slow_seconds=soon"], "fault slow_seconds: expected a number"),
    (["--fault", "slow_seconds"], "--fault: expected NAME=VALUE"),
    (["--start", "yesterday-ish"], "--start: expected an ISO time"),
    (["--speed", "-1"], "--speed"),
])
def test_bad_sites_options_are_one_line(args: list[str], said: str) -> None:
    from groundswell.cli.main import cli

    result = CliRunner().invoke(cli, ["sites", "--port", "0", *args])
    assert result.exit_code == 2 and said in result.output and "Traceback" not in result.output, result.output


def test_with_a_shared_clock_start_and_speed_are_refused() -> None:
    from groundswell.cli.main import cli

    result = CliRunner().invoke(cli, ["sites", "--port", "0", "--start", "now"],
                                env={"GROUNDSWELL_CLOCK": "2026-11-24T10:00:00+08:00@60"})
    assert result.exit_code == 2 and "--start conflicts with GROUNDSWELL_CLOCK" in result.output
