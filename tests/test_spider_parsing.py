"""Spider parsing on saved responses (tests/data/responses): no network, no reactor.

The parsers are pure functions, so these pin down field mapping, time zones, cursors and the failure modes
(lost fields, truncated JSON, login walls) that the crawler-health feature counts.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import scrapy
from scrapy.exceptions import CloseSpider
from scrapy.http import HtmlResponse, Request, TextResponse
from scrapy.utils.test import get_crawler

from core.mention import Mention
from crawlers.parsers import Blocked, LoginWall, ParseError, bilibili, jd, reddit, weibo
from crawlers.parsers.common import load_json, parse_count
from crawlers.spiders.base import STAT_BLOCKED, STAT_LOGIN_WALL, STAT_PARSE_ERRORS, STAT_SKIPPED
from crawlers.spiders.bilibili import BilibiliSpider
from crawlers.spiders.jd import JdSpider
from crawlers.spiders.reddit import RedditSpider
from crawlers.spiders.weibo import WeiboSpider
from pipelines.normalize import normalize

RESPONSES = Path(__file__).parent / "data" / "responses"
NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # 14:00 in China
SETTINGS = {"GROUNDSWELL_CONFIG_PATH": None, "ROBOTSTXT_OBEY": False}


def raw(name: str) -> str:
    return (RESPONSES / name).read_text(encoding="utf-8")


def by_id(mentions: list[Mention]) -> dict[str, Mention]:
    return {m.source_id or "": m for m in mentions}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def assert_normalizes(mentions: list[Mention]) -> None:
    """Whatever a parser emits must pass the first pipeline stage."""
    for m in mentions:
        normalize(m, NOW)


# -- weibo -------------------------------------------------------------------------------------------------


def test_weibo_search_posts_reposts_and_card_groups() -> None:
    page = weibo.parse_search(load_json(raw("weibo_search.json"), "t"), NOW, page=1, site="http://sim")
    posts = by_id(page.mentions)
    assert list(posts) == ["5001", "4999", "5002", "5003"]  # original before its repost; non-9 cards ignored
    first = posts["5001"]
    assert first.platform == "weibo" and first.url == "http://sim/detail/5001"
    assert first.published_at == utc(2026, 11, 24, 2, 0)
    assert isinstance(first.published_at, datetime) and first.published_at.utcoffset() is not None
    assert (first.likes, first.comments, first.reposts) == (12, 3, 12000)
    assert (first.author, first.author_id, first.author_followers) == ("数码小王", "1001", 35000)
    assert "掉电太快了" in first.text and first.brand is None and first.crawled_at == NOW
    assert first.extra == {"truncated": True, "topics": ["小米"]}
    repost, original = posts["5002"], posts["4999"]
    assert repost.repost_of == "4999" and original.repost_of is None
    assert original.likes == 530 and original.author == "维权的我"
    assert original.published_at == utc(2026, 11, 23, 12, 0)
    assert posts["5003"].published_at == utc(2026, 11, 24, 5, 55)  # "5分钟前"
    assert len(page.skipped) == 1 and "mblog.id missing" in page.skipped[0]
    assert page.next_page == 2
    assert_normalizes(page.mentions)
    assert "<" not in normalize(first, NOW).text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Tue Nov 24 10:00:00 +0800 2026", utc(2026, 11, 24, 2, 0)),
        ("刚刚", NOW),
        ("2小时前", utc(2026, 11, 24, 4, 0)),
        ("今天 09:15", utc(2026, 11, 24, 1, 15)),
        ("昨天 23:00", utc(2026, 11, 23, 15, 0)),
        ("11-20", utc(2026, 11, 19, 16, 0)),
        ("2025-01-02", utc(2025, 1, 1, 16, 0)),
    ],
)
def test_weibo_time_formats(value: str, expected: datetime) -> None:
    assert weibo.parse_time(value, NOW) == expected


def test_weibo_end_lost_field_truncated_and_login_wall() -> None:
    end = weibo.parse_search(load_json(raw("weibo_search_end.json"), "t"), NOW)
    assert end.mentions == [] and end.next_page is None
    with pytest.raises(ParseError, match=r"weibo search: data.cards missing"):
        weibo.parse_search(load_json(raw("weibo_search_no_cards.json"), "t"), NOW)
    with pytest.raises(ParseError, match="weibo search: malformed JSON"):
        load_json(raw("weibo_search_truncated.json"), "weibo search")
    with pytest.raises(LoginWall, match="ok=-100"):
        weibo.parse_search(load_json(raw("weibo_login_wall.json"), "t"), NOW)
    with pytest.raises(LoginWall):
        weibo.parse_comments(load_json(raw("weibo_login_wall.json"), "t"), NOW, "5001")
    assert weibo.is_login_url("https://passport.weibo.cn/signin/login?entry=mweibo")
    assert weibo.is_login_url("http://127.0.0.1:8000/login?next=/")
    assert not weibo.is_login_url("https://m.weibo.cn/api/container/getIndex")


def test_weibo_comments() -> None:
    page = weibo.parse_comments(load_json(raw("weibo_comments.json"), "t"), NOW, "5001", brand="小米")
    [comment] = page.mentions
    assert comment.source_id == "6001" and comment.reply_to == "5001" and comment.platform == "weibo"
    assert comment.published_at == utc(2026, 11, 24, 4, 0)
    assert (comment.likes, comment.comments, comment.author_followers) == (4, 1, 15)
    assert comment.brand == "小米"
    assert page.next_page == 139000000 and len(page.skipped) == 1
    assert weibo.parse_comments({"ok": 0, "msg": "快来发表你的评论吧"}, NOW, "5001").next_page is None
    assert weibo.parse_comments({"ok": 1, "data": {"data": [], "max_id": 0}}, NOW, "5001").next_page is None
    assert_normalizes(page.mentions)


# -- bilibili ----------------------------------------------------------------------------------------------


def test_bilibili_search_and_replies() -> None:
    page = bilibili.parse_search(load_json(raw("bilibili_search.json"), "t"), NOW, page=1)
    [video] = page.mentions
    assert video.source_id == "BV1xx411c7mD" and video.extra["aid"] == "113000001"
    assert video.url == "https://www.bilibili.com/video/BV1xx411c7mD"
    assert video.title is not None and "小米" in video.title and video.text == "真实体验，不吹不黑"
    assert video.published_at == utc(2026, 11, 29, 14, 0)
    assert (video.likes, video.comments, video.author, video.author_id) == (5321, 456, "科技老张", "3001")
    assert len(page.skipped) == 1 and page.next_page == 2
    last = bilibili.parse_search(load_json(raw("bilibili_search.json"), "t"), NOW, page=3)
    assert last.next_page is None

    replies = bilibili.parse_replies(load_json(raw("bilibili_replies.json"), "t"), NOW, "BV1xx411c7mD")
    top, nested = by_id(replies.mentions)["700001"], by_id(replies.mentions)["700002"]
    assert top.reply_to == "BV1xx411c7mD" and nested.reply_to == "700001"
    assert top.published_at == utc(2026, 11, 29, 15, 0)
    assert (top.likes, top.comments, top.author, top.author_id) == (88, 2, "吃瓜群众", "4001")
    assert replies.next_page == '{"type":3,"direction":1,"Data":{"cursor":2}}' and len(replies.skipped) == 1
    end = bilibili.parse_replies(load_json(raw("bilibili_replies_end.json"), "t"), NOW, "BV1")
    assert end.mentions == [] and end.next_page is None
    assert_normalizes(page.mentions + replies.mentions)


def test_bilibili_failures() -> None:
    with pytest.raises(LoginWall):
        bilibili.parse_search(load_json(raw("bilibili_login.json"), "t"), NOW)
    with pytest.raises(Blocked, match="code -412"):
        bilibili.parse_search({"code": -412, "message": "请求被拦截"}, NOW)
    with pytest.raises(ParseError, match=r"bilibili search: data.result missing"):
        bilibili.parse_search({"code": 0, "data": {"page": 1}}, NOW)
    with pytest.raises(ParseError, match=r"bilibili replies: data.cursor missing"):
        bilibili.parse_replies({"code": 0, "data": {"replies": []}}, NOW, "BV1")
    assert bilibili.parse_replies({"code": 12002, "message": "评论区已关闭"}, NOW, "BV1").mentions == []


# -- reddit ------------------------------------------------------------------------------------------------


def test_reddit_search() -> None:
    page = reddit.parse_search(load_json(raw("reddit_search.json"), "t"), NOW, site="http://sim")
    posts = by_id(page.mentions)
    first, link = posts["1abc01"], posts["1abc02"]
    assert first.url == "http://sim/r/Xiaomi/comments/1abc01/xiaomi_14_battery_drain_after_update/"
    assert first.title == "Xiaomi 14 battery drain after update?" and first.text.startswith("Since HyperOS")
    assert first.published_at == utc(2026, 11, 29, 14, 0)
    assert (first.likes, first.comments, first.author, first.author_id) == (42, 17, "phone_guy", "t2_abc")
    assert first.extra == {"subreddit": "Xiaomi"}
    assert link.text == link.title and link.author is None and link.likes == 0 and link.repost_of == "1zzz99"
    assert len(page.skipped) == 1 and "bad timestamp" in page.skipped[0]
    assert page.next_page == "t3_1abc02"
    assert reddit.parse_search(load_json(raw("reddit_search_last.json"), "t"), NOW).next_page is None
    with pytest.raises(ParseError, match=r"reddit search: data.children missing"):
        reddit.parse_search({"kind": "Listing", "data": {}}, NOW)
    assert_normalizes(page.mentions)


# -- jd ----------------------------------------------------------------------------------------------------


def test_jd_products_and_reviews() -> None:
    products, skipped = jd.parse_products(raw("jd_search.html"))
    assert products == [jd.Product("100012345678", "小米 14 徕卡光学镜头 16GB+512GB")] and len(skipped) == 1
    page = jd.parse_reviews(load_json(raw("jd_reviews.json"), "t"), NOW, products[0], page=1, brand="小米")
    reviews = by_id(page.mentions)
    first, second = reviews["20001"], reviews["20002"]
    assert first.published_at == utc(2026, 11, 24, 2, 0)
    assert (first.rating, first.likes, first.comments, first.author) == (2.0, 15, 1, "j***x")
    assert first.product == "小米14 徕卡光学镜头 16GB+512GB 黑色" and first.brand == "小米"
    assert first.url == "https://item.jd.com/100012345678.html#comment-20001"
    assert first.text.endswith("\n追评：一周后还是烫") and first.extra["follow_up"] == "一周后还是烫"
    assert first.extra["images"] == ["https://img30.360buyimg.com/shaidan/jfs/t1/abc.jpg"]
    assert second.product == "小米 14 徕卡光学镜头 16GB+512GB"  # no referenceName: the searched product's name
    assert second.rating == 5.0 and second.extra["color"] == "白色"
    assert len(page.skipped) == 1 and page.next_page == 2
    empty = jd.parse_reviews(load_json(raw("jd_reviews_empty.json"), "t"), NOW, products[0], page=4)
    assert empty.mentions == [] and empty.next_page is None
    with pytest.raises(ParseError, match="jd reviews: malformed JSON"):
        load_json(raw("jd_reviews_blocked.html"), "jd reviews")
    with pytest.raises(ParseError, match="jd reviews: imgComments missing"):
        jd.parse_reviews({"maxPage": 1}, NOW, products[0])
    with pytest.raises(ParseError, match=r"neither li\.gl-item"):
        jd.parse_products("<html><body>验证一下，购物无忧</body></html>")
    assert_normalizes(page.mentions)


def test_parse_count() -> None:
    assert [parse_count(v) for v in (3, "12", "1.2万", "100万+", "2亿", "--", None, -1, True)] == [
        3, 12, 12000, 1000000, 200000000, None, None, None, None,
    ]  # fmt: skip


# -- spiders: first requests and callbacks -------------------------------------------------------------------


async def _collect(gen: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in gen]


def first_requests(spider_cls: type[scrapy.Spider], settings: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    crawler = get_crawler(spider_cls, {**SETTINGS, **(settings or {})})
    spider = spider_cls.from_crawler(crawler, **kwargs)
    return spider, asyncio.run(_collect(spider.start()))


@pytest.mark.parametrize(
    ("cls", "kwargs", "url"),
    [
        (WeiboSpider, {"keyword": "小米"}, "http://sim:8000/"),  # the session's warm-up first
        (BilibiliSpider, {"keyword": "小米"}, "http://sim:8000/x/frontend/finger/spi"),  # the visitor cookie first
        (RedditSpider, {"keyword": "xiaomi phone"}, "http://sim:8000/api/v1/access_token"),  # the OAuth token first
        (JdSpider, {"keyword": "小米"}, "http://sim:8000/Search?keyword=%E5%B0%8F%E7%B1%B3&enc=utf-8"),
    ],
)
def test_spider_first_request(cls: type[scrapy.Spider], kwargs: dict[str, str], url: str, reddit_app: None) -> None:
    spider, requests = first_requests(cls, base_url="http://sim:8000/", max_pages="3", **kwargs)
    assert [r.url for r in requests] == [url]
    assert spider.max_pages == 3 and spider.site == "http://sim:8000"


@pytest.fixture
def reddit_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROUNDSWELL_REDDIT_CLIENT_ID", "app-id")
    monkeypatch.setenv("GROUNDSWELL_REDDIT_CLIENT_SECRET", "app-secret")


def test_spider_base_url_setting_and_default(reddit_app: None) -> None:
    spider, [request] = first_requests(WeiboSpider, {"WEIBO_BASE_URL": "http://setting"}, keyword="k")
    assert request.url == "http://setting/" and spider.max_pages == 5
    spider, [request] = first_requests(RedditSpider, keyword="k")
    assert request.url == "https://www.reddit.com/api/v1/access_token" and spider.site == "https://www.reddit.com"
    assert spider.base == "https://oauth.reddit.com"  # the API host; the token comes from www
    spider, requests = first_requests(JdSpider, base_url="http://sim", product_ids="1, 2")
    assert [r.url.split("productId=")[1].split("&")[0] for r in requests] == ["1", "2"]
    spider, [request] = first_requests(JdSpider, keyword="小米")
    assert request.url.startswith("https://search.jd.com/Search?keyword=") and spider.base == "https://club.jd.com"
    with pytest.raises(ValueError, match="keyword"):
        first_requests(WeiboSpider, base_url="http://sim")
    with pytest.raises(ValueError, match="max_pages"):
        first_requests(WeiboSpider, keyword="k", max_pages="0")


def test_spider_brand_from_config(tmp_path: Path) -> None:
    config = tmp_path / "gs.yaml"
    config.write_text("brands:\n  - name: 小米\n    aliases: [Xiaomi]\n", encoding="utf-8")
    spider, _ = first_requests(JdSpider, {"GROUNDSWELL_CONFIG_PATH": str(config)}, keyword="xiaomi")
    assert spider.context_brand == "小米" and spider.explicit_brand is None
    spider, _ = first_requests(JdSpider, {"GROUNDSWELL_CONFIG_PATH": str(config)}, keyword="手机")
    assert spider.context_brand is None


def _response(url: str, name: str | None = None, status: int = 200, **kw: Any) -> TextResponse:
    body = raw(name).encode("utf-8") if name else b""
    return TextResponse(url, body=body, status=status, encoding="utf-8", request=Request(url), **kw)


def test_weibo_spider_pages_counts_and_stops() -> None:
    spider, [home] = first_requests(WeiboSpider, base_url="http://sim", keyword="小米", max_pages="2", comments="1")
    assert spider.custom_settings["USER_AGENT"].startswith("Mozilla/5.0 (iPhone")
    [search] = list(spider.warmed_up(_response(home.url)))
    assert search.headers["Referer"] == b"https://m.weibo.cn/"
    assert search.url == weibo.search_url("http://sim", "小米", 1)
    out = list(spider.parse_search(_response("http://sim/p1", "weibo_search.json"), page=1))
    mentions = [o for o in out if isinstance(o, Mention)]
    requests = [o for o in out if isinstance(o, Request)]
    assert [m.source_id for m in mentions] == ["4999", "5002", "5003"]  # 5001 is long: read whole first
    assert [r.url for r in requests] == [
        "http://sim/statuses/extend?id=5001",
        "http://sim/comments/hotflow?id=4999&mid=4999&max_id_type=0",
        weibo.search_url("http://sim", "小米", 2),
    ]
    assert requests[1].headers["Referer"] == b"https://m.weibo.cn/detail/4999"
    body = '{"ok":1,"data":{"longTextContent":"小米14的电池掉电太快了，全文在此"}}'.encode()
    long_text = TextResponse(requests[0].url, body=body, encoding="utf-8", request=requests[0])
    [full, comments_of_it] = list(spider.parse_long_text(long_text, **requests[0].cb_kwargs))
    assert isinstance(full, Mention) and full.text.endswith("全文在此") and "truncated" not in full.extra
    assert full.extra["topics"] == ["小米"] and comments_of_it.url.startswith("http://sim/comments/hotflow?id=5001")
    stats = spider.crawler.stats
    assert stats is not None and stats.get_value(STAT_SKIPPED) == 1
    again = list(spider.parse_search(_response("http://sim/p2", "weibo_search.json"), page=2))
    assert again == []  # already emitted, and page 2 of max_pages=2 asks for no page 3
    assert list(spider.parse_search(_response("http://sim/p", "weibo_search_no_cards.json"), page=1)) == []
    assert list(spider.parse_search(_response("http://sim/p", "weibo_search_truncated.json"), page=1)) == []
    assert stats.get_value(STAT_PARSE_ERRORS) == 2
    comments = list(spider.parse_comments(_response("http://sim/c", "weibo_comments.json"), mid="5001", page=1))
    assert comments[0].reply_to == "5001"
    # the cursor goes back whole: max_id with the max_id_type it came with
    assert comments[-1].url == "http://sim/comments/hotflow?id=5001&mid=5001&max_id_type=1&max_id=139000000"


@pytest.mark.parametrize(
    "response",
    [
        _response("http://sim/api", "weibo_login_wall.json"),
        _response("http://sim/api", status=302, headers={"Location": "/login?next=%2F"}),
        HtmlResponse("http://sim/login", body=b"<html>login</html>", request=Request("http://sim/login")),
    ],
)
def test_weibo_spider_login_wall_closes(response: TextResponse) -> None:
    spider, _ = first_requests(WeiboSpider, base_url="http://sim", keyword="小米")
    with pytest.raises(CloseSpider) as closed:
        list(spider.parse_search(response, page=1))
    assert closed.value.reason == "blocked"  # a login wall is a block: its own outcome, never retried
    assert spider.crawler.stats is not None and spider.crawler.stats.get_value(STAT_LOGIN_WALL) == 1
    assert str(spider.crawler.stats.get_value(STAT_BLOCKED)).startswith("weibo: login")


def test_weibo_spider_follows_ordinary_redirect() -> None:
    spider, _ = first_requests(WeiboSpider, base_url="http://sim", keyword="小米")
    response = _response("http://sim/api", status=301, headers={"Location": "https://sim/api"})
    [follow] = list(spider.parse_search(response, page=1))
    assert follow.url == "https://sim/api" and follow.meta["gs_redirects"] == 1


def test_reddit_spider_token_then_bearer_search_and_comments(reddit_app: None) -> None:
    spider, [token] = first_requests(RedditSpider, base_url="http://sim", keyword="xiaomi")
    assert token.method == "POST" and token.body == b"grant_type=client_credentials"
    assert token.headers["Authorization"] == b"Basic YXBwLWlkOmFwcC1zZWNyZXQ="  # app-id:app-secret
    assert re.fullmatch(rb"\S+:groundswell:v\S+ \(by /u/\S+\)", token.headers["User-Agent"] or b"")
    body = b'{"access_token": "tok-123", "token_type": "bearer", "expires_in": 86400, "scope": "*"}'
    [search] = list(spider.parse_token(TextResponse(token.url, body=body, encoding="utf-8", request=token)))
    assert search.url == "http://sim/search?q=xiaomi&sort=new&limit=100&type=link&raw_json=1"
    assert search.headers["Authorization"] == b"bearer tok-123"
    out = list(spider.parse_search(_response("http://sim/s", "reddit_search.json"), page=1))
    urls = [o.url for o in out if isinstance(o, Request)]
    assert urls[0] == "http://sim/comments/1abc01?sort=new&limit=100&depth=3&raw_json=1"
    assert urls[-1].endswith("&after=t3_1abc02")
    assert spider.blocked_signal(_response("http://sim/search", status=403)) == (
        "reddit: HTTP 403 Blocked at http://sim/search (OAuth token and User-Agent required)")
    bare = RedditSpider.from_crawler(get_crawler(RedditSpider, SETTINGS), keyword="k")
    bare.app = None  # no credentials: blocked at once, saying what to set
    with pytest.raises(CloseSpider):
        asyncio.run(_collect(bare.start()))
    assert "GROUNDSWELL_REDDIT_CLIENT_ID" in str(bare.crawler.stats.get_value(STAT_BLOCKED))


def test_other_spiders_callbacks() -> None:

    spider, _ = first_requests(JdSpider, base_url="http://sim", keyword="小米", max_pages="2")
    [req] = list(spider.parse_products(_response("http://sim/Search", "jd_search.html")))
    assert req.headers["Referer"] == b"https://item.jd.com/100012345678.html"  # the item page, as JD wants
    out = list(spider.parse_reviews(_response(req.url, "jd_reviews.json"), **req.cb_kwargs))
    assert out[-1].url == jd.reviews_url("http://sim", "100012345678", 2)
    assert list(spider.parse_reviews(_response(req.url, "jd_reviews_blocked.html"), **req.cb_kwargs)) == []
    assert spider.crawler.stats is not None and spider.crawler.stats.get_value(STAT_PARSE_ERRORS) == 1
    login = _response("http://sim/Search?keyword=x", status=302,
                      headers={"Location": "https://passport.jd.com/new/login.aspx?ReturnUrl=x"})
    assert "GROUNDSWELL_COOKIES_JD" in (spider.blocked_signal(login) or "")


def test_bilibili_spider_session_signing_details_and_comments() -> None:
    spider, [spi] = first_requests(BilibiliSpider, base_url="http://sim", keyword="小米", max_pages="2")
    assert spi.headers["Referer"] == b"https://www.bilibili.com/"  # the User-Agent comes from the setting:
    assert spider.custom_settings["USER_AGENT"].startswith("Mozilla/5.0")
    [nav] = list(spider.parse_spi(_response(spi.url, "bilibili_spi_doc.json")))
    assert nav.url == "http://sim/x/web-interface/nav" and spider.visitor["buvid3"].endswith("infoc")
    [search] = list(spider.parse_nav(_response(nav.url, "bilibili_nav_doc.json"), **nav.cb_kwargs))
    assert search.url.startswith("http://sim/x/web-interface/wbi/search/type?search_type=video&keyword=%E5%B0%8F")
    assert "&order=pubdate&page=1&w_rid=" in search.url and "&wts=" in search.url
    assert search.cookies == spider.visitor
    out = list(spider.parse_search(_response(search.url, "bilibili_search.json"), **search.cb_kwargs))
    urls = [o.url for o in out if isinstance(o, Request)]
    assert urls[0].startswith("http://sim/x/v2/reply/wbi/main?oid=113000001&type=1&mode=2&pagination_str=")
    assert urls[1] == "http://sim/x/web-interface/view?aid=113000001"
    assert urls[2].startswith("http://sim/x/web-interface/wbi/search/type?") and "&page=2&" in urls[2]
    view = out[1]
    [followers] = list(spider.parse_view(_response(view.url, "bilibili_view_doc.json"), **view.cb_kwargs))
    assert followers.url == "http://sim/x/relation/stat?vmid=3001"
    [video] = list(spider.parse_followers(_response(followers.url, "bilibili_relation_doc.json"),
                                          **followers.cb_kwargs))
    assert isinstance(video, Mention) and (video.likes, video.reposts, video.author_followers) == (161270, 9620, 919515)
    replies = out[0]
    more = list(spider.parse_replies(_response(replies.url, "bilibili_replies.json"), **replies.cb_kwargs))
    assert "pagination_str=%7B%22offset%22%3A%22%7B%5C%22type%5C%22%3A3" in more[-1].url


def test_bilibili_refused_signature_fetches_new_keys_once_then_is_a_block() -> None:
    spider, _ = first_requests(BilibiliSpider, base_url="http://sim", keyword="小米")
    spider.keys = ("a" * 32, "b" * 32)
    refused = TextResponse("http://sim/s", body=b'{"code":0,"message":"0","ttl":1,"data":{"v_voucher":"voucher_1"}}',
                           encoding="utf-8", request=Request("http://sim/s"))
    [nav] = list(spider.parse_search(refused, page=1))
    assert nav.url == "http://sim/x/web-interface/nav"
    [retry] = list(spider.parse_nav(_response(nav.url, "bilibili_nav_doc.json"), **nav.cb_kwargs))
    assert retry.cb_kwargs == {"page": 1, "refreshed": True} and spider.keys[0] == "653657f524a547ac981ded72ea172057"
    with pytest.raises(CloseSpider) as closed:
        list(spider.parse_search(refused, **retry.cb_kwargs))
    assert closed.value.reason == "blocked"
    stats = spider.crawler.stats
    assert stats is not None and "signature refused (v_voucher)" in stats.get_value(STAT_BLOCKED)
    assert stats.get_value("groundswell/bilibili/wbi_key_refreshes") == 1
