"""The email's figures have one source of truth: the subject's "N mentions by M authors" and the body's table say
the same numbers, authors known only by name count as authors, and what the email shows is the index as of the
evaluated instant (nothing crawled later)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from alerts import engine
from core.mention import Mention
from groundswell import config as gsconfig
from sites import replay
from store import mapping
from tests.smtp_sink import running_sink

pytestmark = pytest.mark.es

T = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
TEXT = "北辰空气炸锅冒烟起火，客服说是使用不当"


def mention(n: int, published: datetime, crawls: list[tuple[datetime, int]], *, author: str, followers: int,
            platform: str = "weibo", cluster: str | None = None) -> dict[str, Any]:
    """A mention that names its author but carries no author id (an ingest file, a site without ids)."""
    last = crawls[-1]
    m = Mention(platform=platform, source_id=f"f{n}", text=TEXT if n == 0 else f"转发 {TEXT}", published_at=published,
                author=author, author_followers=followers, brand="北辰", crawled_at=last[0], reposts=last[1],
                sentiment_score=0.1, sentiment_label="negative", url=f"https://{platform}.example/f{n}")
    doc = mapping.to_document(m)
    doc["cluster_id"] = cluster or doc["mention_id"]
    doc["engagement_history"] = [{"crawled_at": mapping._iso(t), "likes": 0, "reposts": r, "comments": 0}
                                 for t, r in crawls]
    doc["first_seen_at"] = mapping._iso(crawls[0][0])
    return doc


def story() -> list[dict[str, Any]]:
    big = mention(0, T, [(T + timedelta(minutes=m), r) for m, r in ((3, 200), (18, 900), (33, 2100))],
                  author="吃货日记本", followers=3_000_000)
    docs = [big]
    for i in range(1, 61):
        published = T + timedelta(minutes=i // 2)
        # the last ten were posted in time but first crawled after 04:40: the 04:40 email must not count them
        seen = published + timedelta(minutes=5 if i <= 50 else 45)
        docs.append(mention(i, published, [(seen, 1)], author=f"网友{i}", followers=200,
                            platform=("weibo", "xiaohongshu", "bilibili")[i % 3], cluster=big["mention_id"]))
    return docs


def spread_rows(text: str) -> dict[str, str]:
    block = text.split("Spread:\n", 1)[1].split("\n\n", 1)[0]
    return dict(line.strip().split(": ", 1) for line in block.splitlines())


def html_rows(html: str) -> dict[str, str]:
    cells = re.findall(r"<tr><td[^>]*>(.*?)</td><td[^>]*><b>(.*?)</b></td></tr>", html)
    return {label: value for label, value in cells}


def test_subject_and_body_give_the_same_numbers(es: Elasticsearch, prefix: str) -> None:
    replay.index(es, prefix, story())
    at = T + timedelta(minutes=40)
    with running_sink() as sink:
        cfg = gsconfig.load(None, env={"GROUNDSWELL_INDEX_PREFIX": prefix, "GROUNDSWELL_SMTP_HOST": "127.0.0.1",
                                       "GROUNDSWELL_SMTP_PORT": str(sink.port),
                                       "GROUNDSWELL_ALERT_TO": "lead@example.com"})
        report = engine.run_once(cfg, es, at)
        assert report.errors == [] and report.emails_sent == 1, report.to_json()
        mail = sink.messages[0]
    subject = re.search(r"(\d[\d,]*) mentions by (\d[\d,]*) authors", mail.subject)
    assert subject is not None, mail.subject
    mentions, authors = subject.groups()
    assert (mentions, authors) == ("51", "51")  # the post and the 50 copies first crawled by 04:40
    text = mail.message.get_body(preferencelist=("plain",))
    html = mail.message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    for rows in (spread_rows(text.get_content()), html_rows(html.get_content())):
        assert rows["Matched mentions"] == mentions
        assert rows["Distinct authors"] == authors
        # the 24 hours before the instant, as the index was then: the same mentions here
        assert rows["Mentions in the last 24 h"] == mentions
        assert rows["Authors in the last 24 h"] == authors
