"""The console in a real Chromium (Debian's, through Playwright) against a real node, a real SMTP server and the
real waitress server: sign in, search and export, open an incident from its email's link, acknowledge through the
signed link, see the timeline; hostile crawled text stays inert; forged, expired and replayed links are refused."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from alerts.incidents import EsIncidentStore
from alerts.links import sign_ack
from crawlers import browser
from tests.smtp_sink import Sink, running_sink
from tests.web_helpers import CHROMIUM_ARGS, PASSWORD, SECRET, Setup, links_in, running_console

pytestmark = [
    pytest.mark.es,
    pytest.mark.slow,
    pytest.mark.skipif(browser.find_chromium() is None, reason="Chromium missing: " + browser.MISSING_MESSAGE),
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=browser.find_chromium(), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    with running_sink() as s:
        yield s


@pytest.fixture
def setup(es: Elasticsearch, prefix: str, tmp_path: Path, sink: Sink) -> Iterator[Setup]:
    with running_console(es, prefix, tmp_path, sink) as s:
        yield s


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) whose page fails the test if any script ever runs a dialog."""
    context = chromium.new_context()
    pg = context.new_page()
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    yield pg
    context.close()
    assert dialogs == [], f"crawled script ran in the console: {dialogs}"


def sign_in(page: Any, base: str, name: str = "lin", password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_nothing_is_readable_without_signing_in(setup: Setup, page: Any) -> None:
    for path in ("/incidents", f"/incidents/{setup.incident_id}", "/search?q=黑屏", "/search.csv?q=黑屏",
                 f"/incidents/{setup.incident_id}/chart.png"):
        response = page.goto(setup.url + path)
        assert "/login" in page.url, path
        assert response.status == 200 and "黑屏" not in page.content(), path
    sign_in(page, setup.url, password="wrong password")
    assert "Wrong name or password" in page.content() and "/login" in page.url
    # a state change without the form's CSRF token is refused even for a signed-in person
    sign_in(page, setup.url)
    refused = page.request.post(f"{setup.url}/incidents/{setup.incident_id}/acknowledge")
    assert refused.status == 400
    assert EsIncidentStore(setup.console.app.config["GS_ES"], setup.prefix).get(setup.incident_id).status == "open"
    cookie = next(c for c in page.context.cookies() if c["name"] == "groundswell_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_sign_in_search_export_and_hostile_text_stays_inert(setup: Setup, page: Any) -> None:
    sign_in(page, setup.url)
    assert page.url.endswith("/incidents")
    assert "黑屏 complaint spreading" in page.inner_text("table.list")
    assert "+08:00" in page.inner_text("table.list")  # timezone: Asia/Shanghai
    page.click("text=Search mentions")
    page.fill("input[name=q]", "黑屏")
    page.click("form.search button[type=submit]")
    results = page.locator("li.result")
    assert results.count() == 4
    body = page.inner_text("ol.results")
    assert "<script>alert('pwned')</script>" in body  # shown as text, not run
    assert "<img src=x onerror=alert(1)>" in body
    assert "gpj.exe" in body and "\u202e" not in page.content()  # a bidi override never reaches the page
    assert page.locator("ol.results script").count() == 0 and page.locator("ol.results img").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    assert "javascript:alert(1)" in page.inner_text("span.unsafe-url")
    assert "product_quality" in body and "cluster" in body and "negative" in body
    # the same query language as `groundswell search`, and a broken query is one clear line, not an error page
    page.goto(f"{setup.url}/search?q=platform:weibo AND (黑屏")
    assert "the query is broken" in page.inner_text("p.error")
    page.goto(f"{setup.url}/search?q=黑屏&sort=engagement")
    with page.expect_download() as download:
        page.click("text=Export CSV")
    data = Path(download.value.path()).read_text(encoding="utf-8")
    assert data.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(data.removeprefix("\ufeff"))))
    assert len(rows) == 4 and rows[0]["author"] == "大V数码"
    formula = next(r for r in rows if "calc" in r["text"])
    assert formula["text"].startswith("'=") and formula["author"].startswith("'=")


def test_open_from_the_email_acknowledge_through_the_signed_link_and_see_the_timeline(
    setup: Setup, page: Any, sink: Sink, chromium: Any
) -> None:
    mails = {m.message["To"]: m.message for m in sink.messages}
    assert set(mails) == {"lead@example.com"}  # routed: quality lead for 小米, not the urgent tier
    lead = mails["lead@example.com"]
    text = lead.get_body(preferencelist=("plain",)).get_content()
    assert "You receive this as: quality lead for 小米, product_quality" in text
    assert "+08:00" in text and "groundswell alerts ack" not in text
    html = lead.get_body(preferencelist=("html",)).get_content()
    assert ">Acknowledge</a>" in html
    links = links_in(lead)
    assert links["incident"] == f"{setup.url}/incidents/{setup.incident_id}"
    store = EsIncidentStore(setup.console.app.config["GS_ES"], setup.prefix)

    # the incident link asks for a sign-in first, then opens the incident
    page.goto(links["incident"])
    assert "/login" in page.url
    page.fill("input[name=name]", "lin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    assert page.url == links["incident"]
    assert "小米14 用了三天就黑屏" in page.inner_text("blockquote.post")
    assert "大V数码 (880,000 followers)" in page.content()
    # the chart is a separate request: wait until the browser has it before measuring it
    page.wait_for_function("() => document.querySelector('img.chart').complete")
    assert page.locator("img.chart").evaluate("img => img.naturalWidth") > 0

    # the acknowledge link, opened by the recipient in another browser: a GET only asks
    other = chromium.new_context()
    try:
        mail_page = other.new_page()
        mail_page.goto(links["ack"])
        assert "Acknowledge this incident?" in mail_page.inner_text("h1")
        assert store.get(setup.incident_id).status == "open"  # mail scanners cannot acknowledge
        mail_page.click("button:has-text('Acknowledge')")
        assert "Acknowledged" in mail_page.inner_text("h1")
        inc = store.get(setup.incident_id)
        assert inc.status == "acknowledged" and inc.acknowledged_by == "lead@example.com"
        mail_page.goto(links["ack"])
        assert "Already acknowledged by lead@example.com" in mail_page.inner_text("main")
    finally:
        other.close()

    # the timeline shows the match, the email, the acknowledgement; a note and a resolution join it
    page.goto(links["incident"])
    timeline = page.inner_text("table.timeline")
    for expected in ("viral-spread", "email (urgent) to lead@example.com", "acknowledged (email link)",
                     "lead@example.com"):
        assert expected in timeline, (expected, timeline)
    page.fill("textarea[name=note]", "Called the customer <b>back</b>")
    page.click("text=Add note")
    assert "Called the customer <b>back</b>" in page.inner_text("table.timeline")
    page.click("button:has-text('Resolve')")
    assert "Resolved by lin" in page.inner_text("section.people")
    page.goto(f"{setup.url}/incidents?status=resolved")
    assert "Closed ≤ 12 h" in page.content() and "yes" in page.inner_text("table.list")

    # replayed on a resolved incident: refused, and nothing changes
    response = page.goto(links["ack"])
    assert response.status == 409 and "already resolved" in page.inner_text("h1")


def test_forged_and_expired_links_are_refused(setup: Setup, page: Any) -> None:
    store = EsIncidentStore(setup.console.app.config["GS_ES"], setup.prefix)
    good = sign_ack(SECRET, setup.incident_id, "lead@example.com", datetime.now(UTC) + timedelta(hours=1))
    forged = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    other_key = sign_ack("another-secret-" + "x" * 40, setup.incident_id, "x@example.com",
                         datetime.now(UTC) + timedelta(hours=1))
    expired = sign_ack(SECRET, setup.incident_id, "lead@example.com", datetime.now(UTC) - timedelta(minutes=1))
    for token, status, title in ((forged, 400, "not valid"), (other_key, 400, "not valid"),
                                 (expired, 410, "expired"), ("nonsense", 400, "not valid")):
        response = page.goto(f"{setup.url}/ack/{token}")
        assert response.status == status and title in page.inner_text("h1"), token
        assert page.locator("button:has-text('Acknowledge')").count() == 0
    # a POST with a forged token and a valid CSRF token (from a real page) is refused too
    page.goto(f"{setup.url}/ack/{good}")
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    response = page.request.post(f"{setup.url}/ack/{forged}", form={"csrf_token": csrf})
    assert response.status == 400
    assert store.get(setup.incident_id).status == "open"


def test_a_viewer_reads_but_cannot_act(setup: Setup, page: Any) -> None:
    sign_in(page, setup.url, name="viewer")
    page.goto(f"{setup.url}/incidents/{setup.incident_id}")
    assert page.locator("button:has-text('Resolve')").count() == 0
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    response = page.request.post(f"{setup.url}/incidents/{setup.incident_id}/resolve", form={"csrf_token": csrf})
    assert response.status == 403
