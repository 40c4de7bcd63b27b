"""The platforms' real protocols, as pure functions, against the public references' worked examples and documented
sample responses (tests/data/responses/*_doc.*, sources in SOURCES.md there). No network, no reactor."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crawlers.parsers import Blocked, LoginWall, bilibili, reddit
from crawlers.parsers.common import load_json
from crawlers.platforms import bilibili_wbi

RESPONSES = Path(__file__).parent / "data" / "responses"
NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def doc(name: str) -> Any:
    return load_json((RESPONSES / name).read_text(encoding="utf-8"), name)


# -- bilibili ------------------------------------------------------------------------------------------------

IMG_KEY, SUB_KEY = "7cd084941338484aae1ad9425b84077c", "4932caff0ff746eab6f01bf08b70ac45"


def test_wbi_worked_example_of_the_reference() -> None:
    """bilibili-API-collect docs/misc/sign/wbi.md: keys -> mixin_key -> w_rid, and the final query."""
    assert bilibili_wbi.mixin_key(IMG_KEY, SUB_KEY) == "ea1db124af3c7062474693fa704f4ff8"
    params = {"foo": "114", "bar": "514", "zab": 1919810}
    assert bilibili_wbi.w_rid(params, IMG_KEY, SUB_KEY, 1702204169) == "8f6f2b5b3d485fe1886cec6a0be8c5d4"
    assert bilibili_wbi.signed_query(params, IMG_KEY, SUB_KEY, 1702204169) == (
        "foo=114&bar=514&zab=1919810&w_rid=8f6f2b5b3d485fe1886cec6a0be8c5d4&wts=1702204169"
    )


def test_wbi_encoding_follows_the_reference() -> None:
    """Upper-case percent-encoding, space as %20, and !'()* dropped from values before signing."""
    query = bilibili_wbi.signed_query({"keyword": "小米 (手机)!", "page": 1}, IMG_KEY, SUB_KEY, 1)
    assert query.startswith("keyword=%E5%B0%8F%E7%B1%B3%20%28%E6%89%8B%E6%9C%BA%29%21&page=1&w_rid=")
    same = bilibili_wbi.w_rid({"keyword": "小米 手机", "page": 1}, IMG_KEY, SUB_KEY, 1)
    assert bilibili_wbi.w_rid({"keyword": "小米 (手机)!", "page": 1}, IMG_KEY, SUB_KEY, 1) == same
    assert bilibili_wbi.w_rid({"page": 1, "keyword": "小米 手机"}, IMG_KEY, SUB_KEY, 1) == same  # sorted by key


def test_wbi_keys_from_the_documented_nav_answer() -> None:
    assert bilibili_wbi.keys_from_nav(doc("bilibili_nav_doc.json")) == (
        "653657f524a547ac981ded72ea172057", "6e4909c702f846728e64f6007736a338")
    with pytest.raises(bilibili_wbi.WbiKeysMissing):
        bilibili_wbi.keys_from_nav({"code": -101, "data": {"isLogin": False}})


def test_bilibili_documented_search_sample() -> None:
    page = bilibili.parse_search(doc("bilibili_search_doc.json"), NOW, page=1)
    assert len(page.mentions) == 20 and not page.skipped
    first, second = page.mentions[:2]
    assert (first.source_id, first.extra["aid"], first.author, first.author_id) == (
        "BV1De411p77r", "243082173", "大橘爱吃猫", "178932626")
    assert first.title == '梦然-《<em class="keyword">少年</em>》官方版' and first.comments == 1265
    assert first.published_at == datetime.fromtimestamp(1588407050, UTC) and first.likes is None
    assert first.extra["play"] == 1037655 and first.extra["tags"].startswith("华语MV")
    assert second.text == second.title  # an empty description: the title is the text
    assert page.next_page == 2


def test_bilibili_documented_replies_view_relation_and_visitor() -> None:
    replies = bilibili.parse_replies(doc("bilibili_replies_doc.json"), NOW, "BV1xx")
    assert [m.source_id for m in replies.mentions] == ["237740291920", "237689432448"]
    assert replies.mentions[0].author == "天堂いyoulin" and replies.mentions[0].reply_to == "BV1xx"
    assert replies.next_page == '{"type":3,"direction":1,"Data":{"cursor":71859}}'
    assert bilibili.parse_view(doc("bilibili_view_doc.json"))["like"] == 161270
    assert bilibili.parse_followers(doc("bilibili_relation_doc.json")) == 919515
    visitor = bilibili.parse_visitor(doc("bilibili_spi_doc.json"))
    assert visitor["buvid3"] == "D9656DA8-9BEF-F464-5B72-C4849AFD336379044infoc"


def test_bilibili_request_parameters_follow_the_reference() -> None:
    wanted = {"search_type": "video", "keyword": "小米", "order": "pubdate", "page": 2}
    assert bilibili.search_params("小米", 2) == wanted
    params = bilibili.replies_params(243082173)
    assert params["mode"] == 2 and json.loads(params["pagination_str"]) == {"offset": ""}
    later = bilibili.replies_params(1, '{"type":3,"direction":1,"Data":{"cursor":71859}}')
    assert json.loads(json.loads(later["pagination_str"])["offset"])["Data"]["cursor"] == 71859


@pytest.mark.parametrize(
    ("payload", "kind", "signal"),
    [
        ({"code": 0, "message": "0", "ttl": 1, "data": {"v_voucher": "voucher_x"}}, bilibili.SignatureRefused,
         "bilibili: signature refused (v_voucher)"),
        (doc("bilibili_risk_control_doc.json"), Blocked, "bilibili: code -352 (risk control, v_voucher)"),
        ({"code": -412, "message": "请求被拦截"}, Blocked, "bilibili: code -412 (request intercepted)"),
        ({"code": -101, "message": "账号未登录"}, LoginWall, "bilibili: login required"),
    ],
)
def test_bilibili_block_signals(payload: Any, kind: type[Exception], signal: str) -> None:
    with pytest.raises(kind) as raised:
        bilibili.parse_search(payload, NOW)
    assert str(raised.value).startswith(signal)
    with pytest.raises(bilibili.SignatureRefused, match="code -403"):
        bilibili.parse_replies({"code": -403, "message": "访问权限不足"}, NOW, "BV1")


# -- reddit, rate limits, blocks, brands ----------------------------------------------------------------------


def test_reddit_oauth_requests_follow_the_wiki() -> None:
    from crawlers.platforms import reddit_oauth

    app = reddit_oauth.App("id", "secret")
    assert reddit_oauth.basic_auth(app) == "Basic aWQ6c2VjcmV0"
    assert reddit_oauth.token_form(app) == {"grant_type": "client_credentials"}
    script = reddit_oauth.App("id", "secret", "owner", "pw")
    assert reddit_oauth.token_form(script) == {"grant_type": "password", "username": "owner", "password": "pw"}
    assert reddit_oauth.user_agent(script).endswith(":groundswell:v0.1.0 (by /u/owner)")
    assert "secret" not in repr(script) and "pw" not in repr(script)
    assert reddit_oauth.parse_token({"access_token": "t", "token_type": "bearer", "expires_in": 86400}) == ("t", 86400)
    with pytest.raises(reddit_oauth.TokenRefused, match="invalid_grant"):
        reddit_oauth.parse_token({"error": "invalid_grant"})


def test_rate_limit_headers_spread_the_rest_of_the_window() -> None:
    from crawlers.ratelimit import pause_before_next

    assert pause_before_next(None, 30, 600) == 0 and pause_before_next(55, 30, 600) == 0
    assert pause_before_next(5, 30, 600) == 6.0  # five left for 30 s: one every 6 s
    assert pause_before_next(0, 42, 600) == 42 and pause_before_next(0, 4000, 600) == 600  # capped


def test_no_brands_configured_the_keyword_is_the_brand(tmp_path: Path) -> None:
    """Platform search also returns posts that do not name the brand: dropped in the spider, so `scrapy crawl`
    does it too; a post reposting a kept one stays."""
    from scrapy.http import Request, TextResponse
    from scrapy.utils.test import get_crawler

    from crawlers.spiders.reddit import RedditSpider

    empty = tmp_path / "empty.yaml"
    empty.write_text("{}\n", encoding="utf-8")
    spider = RedditSpider.from_crawler(get_crawler(RedditSpider, {"GROUNDSWELL_CONFIG_PATH": str(empty)}),
                                       keyword="battery", base_url="http://sim")
    page = reddit.parse_search(doc("reddit_search.json"), NOW)
    kept = spider.emit(page, TextResponse("http://sim/s", body=b"{}", request=Request("http://sim/s")))
    assert [m.source_id for m in kept] == ["1abc01"] and kept[0].brand == "battery"
    assert spider.crawler.stats.get_value("groundswell/dropped/off_brand") == 1


def test_jd_login_redirect_retires_an_account() -> None:
    from scrapy.http import Response

    from crawlers.accounts import LOGIN_WALLS

    wall = Response("https://search.jd.com/Search?keyword=x", status=302,
                    headers={"Location": "https://passport.jd.com/new/login.aspx?ReturnUrl=x"})
    assert LOGIN_WALLS["jd"](wall) and not LOGIN_WALLS["jd"](Response("https://search.jd.com/", status=200))
