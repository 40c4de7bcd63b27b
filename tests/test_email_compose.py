"""Incident emails: MIME structure, what the body says, hostile crawled text rendered inert, the Kibana link."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any, cast
from urllib.parse import unquote

import pytest

from alerts.email.chart import bar_chart
from alerts.email.compose import (
    compose,
    compose_digest,
    digest_id,
    kibana_discover_url,
    notification_id,
    rison,
    safe_url,
)
from alerts.model import Incident, IncidentReport, Post, Severity

AT = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)


def post(**kw: Any) -> Post:
    base: dict[str, Any] = {
        "mention_id": "weibo-1",
        "platform": "weibo",
        "text": "小米14 充电时屏幕突然黑屏，客服一直推脱",
        "author": "数码老王",
        "author_followers": 1_250_000,
        "url": "https://weibo.example/1234",
        "published_at": AT - timedelta(minutes=40),
        "likes": 900,
        "reposts": 5200,
        "comments": 310,
    }
    return Post(**{**base, **kw})


def incident(**kw: Any) -> Incident:
    base: dict[str, Any] = {
        "incident_id": "inc-202611241150-0123456789abcdef",
        "key": "cluster:c1",
        "status": "open",
        "severity": "crisis",
        "opened_at": AT - timedelta(minutes=10),
        "updated_at": AT,
        "last_match_at": AT,
        "summary": "黑屏 complaint reposted 5,200 times in 40 min",
        "brand": "小米",
        "rules": ["viral_spread"],
        "evidence": {"reposts_per_hour": 7800.0, "authors": 412, "platforms": 3, "reach": 2_400_000, "odd_key": 1.5,
                     "peak_reposts_per_hour": 9100.0, "peak_lonely": 3},
    }
    return Incident(**{**base, **kw})


def report(inc: Incident | None = None, **kw: Any) -> IncidentReport:
    first = kw.pop("first_post", post())
    base: dict[str, Any] = {
        "incident": inc or incident(),
        "kind": "opened",
        "at": AT,
        "first_post": first,
        "top_posts": (first, post(mention_id="reddit-2", platform="reddit", author="u/someone", url="https://r.example/x",
                                  text="Same black screen here", reposts=40)),
        "hourly": tuple((AT - timedelta(hours=23 - i), i % 5 + (300 if i == 23 else 0)) for i in range(24)),
        "mentions": 1534,
        "authors": 412,
        "platforms": ("weibo", "reddit", "bilibili"),
        "kibana_url": "http://kibana.local:5601/app/discover#/?_g=(x)",
    }
    return IncidentReport(**{**base, **kw})


def parts(msg: EmailMessage) -> tuple[EmailMessage, EmailMessage, EmailMessage]:
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1
    return plain, html, cast(EmailMessage, images[0])


class Tags(HTMLParser):
    """Every tag and attribute the HTML produces."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, name, value or "") for name, value in attrs]


ALLOWED_TAGS = {"html", "head", "meta", "title", "body", "p", "h2", "h3", "blockquote", "br", "table", "tr", "td",
                "b", "img", "ol", "li", "a", "span"}
ALLOWED_ATTRS = {("meta", "charset"), ("img", "src"), ("img", "width"), ("img", "height"), ("img", "alt"),
                 ("a", "href")}


def assert_inert(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    assert set(tags.tags) <= ALLOWED_TAGS, set(tags.tags) - ALLOWED_TAGS
    for tag, name, value in tags.attrs:
        assert name == "style" or (tag, name) in ALLOWED_ATTRS, (tag, name, value)
        if name == "href":
            assert value.startswith(("http://", "https://")), value
        if name == "src":
            assert value.startswith("cid:"), value
    return tags


def test_structure_alternative_with_related_inline_png() -> None:
    msg = compose(report(), sender="groundswell@example.com", recipients=["lead@example.com", "ops@example.com"])
    assert msg.get_content_type() == "multipart/alternative"
    plain_part, related = msg.get_payload()  # type: ignore[misc]
    assert plain_part.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, png_part = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    assert png_part.get_content_type() == "image/png"
    assert png_part.get_content_disposition() == "inline"
    png = png_part.get_content()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    cid = png_part["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html_part.get_content()

    assert msg["To"] == "lead@example.com, ops@example.com"
    assert msg["From"] == "groundswell@example.com"
    assert msg["Message-ID"] == "<inc-202611241150-0123456789abcdef.opened.crisis@example.com>"
    assert msg["X-Groundswell-Incident"] == "inc-202611241150-0123456789abcdef"
    assert msg["X-Groundswell-Kind"] == "opened"
    # the same report renders to the same bytes (boundaries aside), image included
    again = compose(report(), sender="groundswell@example.com", recipients=["lead@example.com", "ops@example.com"])
    assert parts(again)[2].get_content() == png
    assert parts(again)[1].get_content() == html_part.get_content()


def test_subject_severity_brand_summary_and_escalation() -> None:
    msg = compose(report(), sender="g@example.com", recipients=["a@example.com"])
    assert msg["Subject"] == "[Groundswell CRISIS] 小米: 黑屏 complaint reposted 5,200 times in 40 min"
    up = report(incident(severity="urgent"), kind="escalated", previous_severity="notice")
    msg = compose(up, sender="g@example.com", recipients=["a@example.com"])
    assert msg["Subject"].startswith("[Groundswell URGENT] 小米: escalated to URGENT from NOTICE: 黑屏")
    assert msg["X-Groundswell-Kind"] == "escalated"
    assert msg["Message-ID"].startswith("<inc-202611241150-0123456789abcdef.escalated.urgent@")
    same = compose(report(incident(summary="小米: 198 negative mentions")), sender="g@e.x", recipients=["a@e.x"])
    assert same["Subject"] == "[Groundswell CRISIS] 小米: 198 negative mentions"  # the brand is not said twice
    long = compose(report(incident(summary="很长" * 200)), sender="g@example.com", recipients=["a@example.com"])
    assert len(long["Subject"]) <= 150 and long["Subject"].endswith("…")


def test_body_has_complaint_poster_counts_top_posts_chart_and_kibana() -> None:
    msg = compose(report(), sender="g@example.com", recipients=["a@example.com"])
    plain_part, html_part, _ = parts(msg)
    for body in (plain_part.get_content(), html_part.get_content()):
        assert "小米14 充电时屏幕突然黑屏，客服一直推脱" in body
        assert "数码老王 (1,250,000 followers) on weibo" in body
        assert "Mentions in the last 24 h" in body and "1,534" in body
        assert "Distinct authors" in body and "412" in body
        assert "weibo, reddit, bilibili" in body
        assert "Reposts per hour" in body and "7,800 (peak 9,100)" in body
        assert "Peak lonely" in body
        assert "Reach (followers of authors)" in body and "2,400,000" in body
        assert "Odd key" in body and "1.50" in body
        assert "Same black screen here" in body
        assert "peak 303" in body
    plain = plain_part.get_content()
    assert "> 小米14 充电时屏幕突然黑屏" in plain
    assert "Open in Kibana Discover: http://kibana.local:5601/app/discover#/?_g=(x)" in plain
    assert "https://r.example/x" in plain
    tags = assert_inert(html_part.get_content())
    hrefs = [v for t, n, v in tags.attrs if n == "href"]
    assert hrefs == ["https://weibo.example/1234", "https://weibo.example/1234", "https://r.example/x",
                     "http://kibana.local:5601/app/discover#/?_g=(x)"]


def test_no_kibana_link_and_no_chart_when_absent() -> None:
    msg = compose(report(kibana_url=None, hourly=()), sender="g@example.com", recipients=["a@example.com"])
    assert msg.get_content_type() == "multipart/alternative"
    assert not [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert "Kibana" not in msg.as_string()


HOSTILE = "<script>alert(1)</script>\" onmouseover=\"alert(2)\" <img src=x onerror=alert(3)>"


def test_hostile_crawled_text_is_inert_in_html_and_absent_from_headers() -> None:
    evil = post(
        text=HOSTILE + "\x1b[31m",
        author='" onmouseover="alert(4)',
        url="javascript:alert(5)",
        title="Title\r\nBcc: victim@example.com\r\n\r\n<b>x</b>",
    )
    evil_link = post(mention_id="x2", url="  JaVaScRiPt:alert(6)", author="<a href=x>", text="java\nscript")
    data_link = post(mention_id="x3", url="data:text/html,<script>alert(7)</script>")
    inc = incident(
        brand='<b onclick="x">Brand</b>',
        summary="line one\r\nBcc: victim@example.com\nX-Evil: 1 " + HOSTILE,
    )
    msg = compose(report(inc, first_post=evil, top_posts=(evil, evil_link, data_link),
                         kibana_url="javascript:alert(8)"),
                  sender="g@example.com", recipients=["a@example.com"])
    # headers: one line each, no injected header survives a round trip through the wire format
    for name, value in msg.items():
        assert "\r" not in str(value) and "\n" not in str(value), name
    wire = message_from_bytes(msg.as_bytes(policy=policy.SMTP), policy=policy.default)
    assert wire["Bcc"] is None and wire["X-Evil"] is None
    assert "Bcc: victim@example.com" in str(wire["Subject"])  # as plain text inside the subject
    assert wire.get_all("To") == ["a@example.com"]

    _, html_part, _ = parts(msg)
    html = html_part.get_content()
    tags = assert_inert(html)
    assert "<script" not in html.lower() and "javascript:" not in " ".join(v for _, n, v in tags.attrs).lower()
    assert not [v for _, n, v in tags.attrs if n == "href"]  # none of the links was http(s)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:alert(5)" in html  # shown, as text
    assert "\x1b" not in html and "\x1b" not in parts(msg)[0].get_content()


def test_safe_url() -> None:
    assert safe_url("https://a.example/x?y=1") == "https://a.example/x?y=1"
    assert safe_url("HTTP://A.example") == "HTTP://A.example"
    for bad in ("javascript:alert(1)", " javascript:x", "java\tscript:x", "data:text/html,x", "//a.example",
                "http://", "https://a.example/ x", "vbscript:x", None, ""):
        assert safe_url(bad) is None, bad


def test_kibana_discover_url() -> None:
    url = kibana_discover_url("http://kibana:5601/", "gs-demo", 'brand:小米 AND text:"it\'s black!"',
                              datetime(2026, 11, 23, 12, 0, tzinfo=UTC), datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    assert url.startswith("http://kibana:5601/app/discover#/?_g=(time:(from:'2026-11-23T12:00:00.000Z',"
                          "to:'2026-11-24T12:00:00.000Z'))&_a=(")
    assert " " not in url and '"' not in url and url.count("#") == 1 and url.count("&") == 1
    state = unquote(url.split("&_a=", 1)[1])
    assert state == ("(dataSource:(dataViewId:gs-demo-mentions,type:dataView),"
                     "query:(language:lucene,query:'brand:小米 AND text:\"it!'s black!!\"'))")


def test_rison() -> None:
    assert rison({"a": 1, "b": [True, False, None], "c": "x y", "d": "plain", "e": "", "f": "-1"}) == (
        "(a:1,b:!(!t,!f,!n),c:'x y',d:plain,e:'',f:'-1')"
    )


def test_chart_png_is_valid_and_deterministic() -> None:
    counts = [0, 1, 2, 3, 50, 0, 7] * 3 + [0, 0, 120]
    png = bar_chart(counts)
    assert png == bar_chart(list(counts)) and png != bar_chart([*counts[:-1], 1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (480, 120)
    idat_at = png.index(b"IDAT")
    size = struct.unpack(">I", png[idat_at - 4 : idat_at])[0]
    rows = zlib.decompress(png[idat_at + 4 : idat_at + 4 + size])
    assert len(rows) == 120 * 481
    grid = [rows[r * 481 + 1 : (r + 1) * 481] for r in range(120)]
    bar_pixels = sum(row.count(2) + row.count(3) for row in grid)
    assert bar_pixels > 0 and sum(row.count(3) for row in grid) > 0  # the latest hour is highlighted
    assert bar_chart([]) and bar_chart([0] * 24)  # empty and all-zero charts still render


def test_digest_lists_every_notice_escaped() -> None:
    a = report(incident(severity="notice", incident_id="inc-a", brand="<i>A</i>", summary="a\r\nBcc: x@example.com"))
    b = report(incident(severity="urgent", incident_id="inc-b", brand="B", summary="b <script>x</script>"))
    msg = compose_digest([a, b], sender="g@example.com", recipients=["n@example.com"], at=AT)
    assert msg["Subject"] == "[Groundswell URGENT] Digest: 2 notices (<i>A</i>, B)"
    assert msg["X-Groundswell-Kind"] == "digest"
    assert msg["X-Groundswell-Incident"] == "inc-b inc-a"
    assert msg["Message-ID"] == f"<{digest_id(['inc-a', 'inc-b'])}@example.com>"
    html = cast(EmailMessage, msg.get_body(preferencelist=("html",))).get_content()
    assert_inert(html)
    assert "&lt;script&gt;" in html and "&lt;i&gt;A&lt;/i&gt;" in html
    plain = cast(EmailMessage, msg.get_body(preferencelist=("plain",))).get_content()
    assert "[URGENT] B: b <script>x</script>" in plain and "[NOTICE] <i>A</i>" in plain
    with pytest.raises(ValueError):
        compose_digest([], sender="g@example.com", recipients=["n@example.com"], at=AT)


def test_notification_ids_are_stable_and_safe() -> None:
    sev: Severity = "urgent"
    assert notification_id("inc-1", "escalated", sev) == "inc-1.escalated.urgent"
    assert notification_id("inc 1/<x>", "opened", sev) == "inc_1__x_.opened.urgent"
    assert digest_id(["b", "a"]) == digest_id(["a", "b"]) != digest_id(["a"])
