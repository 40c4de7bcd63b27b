"""Incident emails: plain text and HTML with an inline chart, and the Kibana Discover link they carry.

Everything that came from a crawl (post text, author, title, URL, brand, the summary built from them) is
untrusted: the HTML comes from Jinja2 templates (alerts/email/templates) with autoescaping on, a link becomes an
<a href> only when it is http(s), and headers lose every control character, so a post can neither inject a
header nor produce a tag, an attribute or a javascript: URL. Rendering is deterministic: the same report gives
the same message.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from alerts.email.chart import bar_chart
from alerts.links import EmailLinks
from alerts.model import RANK, Incident, IncidentReport, Post, Severity
from core import display
from core.timefmt import people_time
from core.times import iso

SUBJECT_MAX = 150  # characters; long subjects are cut with an ellipsis
QUOTE_MAX = 600  # characters of the complaint quoted in full
EXCERPT_MAX = 280  # characters per top post
TOP_POSTS = 5

# readable labels for the evidence numbers rules attach (unknown keys get their name with spaces)
EVIDENCE_LABELS: Mapping[str, str] = {
    "mentions": "Matched mentions",
    "count": "Matched mentions",
    "authors": "Distinct authors",
    "distinct_authors": "Distinct authors",
    "platforms": "Platforms",
    "copies": "Copies of the post",
    "cluster_size": "Copies of the post",
    "reach": "Reach (followers of authors)",
    "followers": "Followers of the first poster",
    "max_followers": "Largest author (followers)",
    "reposts": "Reposts",
    "comments": "Comments",
    "likes": "Likes",
    "engagement": "Engagement (likes + reposts + comments)",
    "reposts_per_hour": "Reposts per hour",
    "comments_per_hour": "Comments per hour",
    "engagement_per_hour": "Engagement per hour",
    "growth": "Growth",
    "growth_per_hour": "Growth per hour",
    "baseline": "Usual count for this hour",
    "expected": "Expected count",
    "zscore": "Standard deviations above usual",
    "z": "Standard deviations above usual",
    "ratio": "Times the usual volume",
    "score": "Spread score",
    "negative_share": "Share negative",
    "silent_runs": "Silent crawl runs",
    "broken_runs": "Broken crawl runs",
    "threshold": "Threshold",
    "total": "Total",
    "age_minutes": "Minutes since the first post",
    "baseline_days": "Days of baseline",
    "baseline_mentions": "Mentions in the baseline",
    "baseline_share": "Usual share of mentions",
    "cluster_share": "Share that are copies of one post",
}

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


# -- plain helpers -------------------------------------------------------------------------------------


def clean_text(value: object) -> str:
    """Crawled text without terminal escapes, control or bidi characters (core.display), newlines kept."""
    return display.lines(value)


def header_text(value: object) -> str:
    """One line fit for a header: CR, LF, controls, bidi overrides and escapes gone (core.display)."""
    return display.line(value)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def safe_url(url: str | None) -> str | None:
    """The URL when it may become a link (http or https with a host, no whitespace or control characters)."""
    if not url:
        return None
    candidate = url.strip()
    if any(c.isspace() or unicodedata.category(c) == "Cc" or c in display.BIDI_CONTROLS for c in candidate):
        return None
    parts = urlsplit(candidate)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    return candidate


def fmt_time(value: datetime, tz: tzinfo | None = None) -> str:
    """A time as people read it: in the configured zone, offset shown (core.timefmt)."""
    return people_time(value, tz)


def fmt_number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def evidence_rows(evidence: Mapping[str, float]) -> list[tuple[str, str]]:
    """(label, value) for every evidence number, known keys first in EVIDENCE_LABELS order, then the rest.

    A `peak_<key>` beside `<key>` joins its row as "now (peak p)" instead of a row of its own."""
    numbers = {k: v for k, v in evidence.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    order = {key: i for i, key in enumerate(EVIDENCE_LABELS)}
    rows = []
    for key in sorted(numbers, key=lambda k: (order.get(k, len(order)), k)):
        if key.startswith("peak_") and key[5:] in numbers:
            continue
        label = EVIDENCE_LABELS.get(key) or key.replace("_", " ").capitalize()
        value = fmt_number(numbers[key])
        peak = numbers.get(f"peak_{key}")
        if peak is not None and peak != numbers[key]:
            value += f" (peak {fmt_number(peak)})"
        rows.append((clean_text(label), value))
    return rows


def notification_id(incident_id: str, kind: str, severity: str, recipient: str | None = None) -> str:
    """The outbox id (and Message-ID local part) of one notification: the same email is queued only once.
    Each recipient gets an email of their own (their reason, their acknowledge link): a hash of the address."""
    base = _ID_UNSAFE.sub("_", f"{incident_id}.{kind}.{severity}")
    if recipient is None:
        return base
    return f"{base}.{hashlib.sha1(recipient.strip().lower().encode()).hexdigest()[:10]}"


def digest_id(item_ids: Iterable[str]) -> str:
    """The id of a digest of these outbox items: recomposing the same digest after a crash gives the same id."""
    digest = hashlib.sha1("\x1f".join(sorted(item_ids)).encode()).hexdigest()[:16]
    return f"digest-{digest}"


def _domain(sender: str) -> str:
    domain = sender.rpartition("@")[2].strip(" >")
    domain = re.sub(r"[^A-Za-z0-9.-]", "", domain)
    return domain or "groundswell.local"


def _subject_label(severity: Severity) -> str:
    return f"[Groundswell {severity.upper()}]"


def _subject(prefix: str, middle: str) -> str:
    text = header_text(f"{prefix} {middle}")
    return shorten(text, SUBJECT_MAX)


def headline(inc: Incident) -> tuple[str, str]:
    """(what it concerns, one-line summary), the summary without a leading "<brand>:" that rules may already add."""
    what = header_text(inc.brand or inc.source_key or "all brands")
    summary = header_text(inc.summary)
    if summary.startswith(f"{what}:"):
        summary = summary[len(what) + 1 :].strip()
    return what, summary or "new incident"


def subject_of(report: IncidentReport) -> str:
    inc = report.incident
    what, summary = headline(inc)
    if report.kind == "escalated":
        was = f" from {report.previous_severity.upper()}" if report.previous_severity else ""
        summary = f"escalated to {inc.severity.upper()}{was}: {summary}"
    return _subject(_subject_label(inc.severity), f"{what}: {summary}")


# -- Kibana ----------------------------------------------------------------------------------------------

_RISON_NOT_ID = set(" '!:(),*@$")


def rison(value: object) -> str:
    """Rison encoding (what Kibana keeps in its URL state) of dicts, lists, strings, numbers, booleans, None."""
    if value is None:
        return "!n"
    if value is True:
        return "!t"
    if value is False:
        return "!f"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        if value and value[0] not in "-0123456789" and not (set(value) & _RISON_NOT_ID):
            return value
        return "'" + value.replace("!", "!!").replace("'", "!'") + "'"
    if isinstance(value, Mapping):
        return "(" + ",".join(f"{rison(str(k))}:{rison(v)}" for k, v in value.items()) + ")"
    if isinstance(value, list | tuple):
        return "!(" + ",".join(rison(v) for v in value) + ")"
    raise TypeError(f"rison cannot encode {type(value).__name__}")


def kibana_discover_url(base_url: str, prefix: str, query: str, time_from: datetime, time_to: datetime) -> str:
    """Kibana 8 Discover on the `<prefix>-mentions` data view with this Lucene query and absolute time range."""
    g = {"time": {"from": iso(time_from), "to": iso(time_to)}}
    a = {
        "dataSource": {"dataViewId": f"{prefix}-mentions", "type": "dataView"},
        "query": {"language": "lucene", "query": query},
    }
    safe = "!'(),:*$@/-_.~"
    return (
        f"{base_url.rstrip('/')}/app/discover#/?_g={quote(rison(g), safe=safe)}&_a={quote(rison(a), safe=safe)}"
    )


# -- rendering -----------------------------------------------------------------------------------------


def _lines(value: object) -> Markup:
    """Crawled text for HTML: control characters dropped, escaped, newlines as <br>."""
    return Markup("<br>").join(escape(line) for line in clean_text(value).split("\n"))


def _link(url: str | None, label: str) -> Markup:
    """An <a> for an http(s) URL; anything else is shown as (escaped) text, never as a link."""
    good = safe_url(url)
    if good:
        return Markup('<a href="{}">{}</a>').format(good, _lines(label))
    return Markup("<span>{}</span>").format(_lines(url)) if url else Markup("")


@cache
def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("alerts.email", "templates"),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
    )
    env.filters["lines"] = _lines
    env.globals["link"] = _link
    return env


def _render(name: str, **context: Any) -> str:
    return _templates().get_template(name).render(**context)


def _poster_line(post: Post, tz: tzinfo | None = None) -> str:
    who = clean_text(post.author or "an unknown author")
    reach = f" ({fmt_number(post.author_followers)} followers)" if post.author_followers is not None else ""
    return f"{who}{reach} on {clean_text(post.platform)}, {fmt_time(post.published_at, tz)}"


def _engagement(post: Post) -> str:
    return f"{fmt_number(post.reposts)} reposts, {fmt_number(post.comments)} comments, {fmt_number(post.likes)} likes"


def _post_text(post: Post, limit: int) -> str:
    text = clean_text(post.text).strip()
    if post.title:
        text = f"{clean_text(post.title).strip()}\n{text}"
    return shorten(text, limit)


def _spread_rows(report: IncidentReport) -> list[tuple[str, str]]:
    """The rule's own figures first (the ones the subject's summary quotes, from the same match), then the last
    24 hours as the index held them at the instant, each labelled with its window: two figures never share a
    label, so the table cannot contradict the subject."""
    rows = evidence_rows(report.incident.evidence)
    rows += [
        ("Mentions in the last 24 h", fmt_number(report.mentions)),
        ("Authors in the last 24 h", fmt_number(report.authors)),
        ("Platforms in the last 24 h", ", ".join(clean_text(p) for p in report.platforms) or "-"),
    ]
    return rows


def _hourly_summary(hourly: Sequence[tuple[datetime, int]], tz: tzinfo | None = None) -> str:
    if not hourly:
        return "no hourly counts"
    peak_at, peak = max(hourly, key=lambda h: (h[1], h[0]))
    return (
        f"{fmt_number(sum(c for _, c in hourly))} mentions over {len(hourly)} h; peak {fmt_number(peak)} in the hour "
        f"from {fmt_time(peak_at, tz)}; latest hour {fmt_number(hourly[-1][1])}"
    )


def _sparkline(counts: Sequence[int]) -> str:
    blocks = " ▁▂▃▄▅▆▇█"
    peak = max(counts, default=0)
    if peak == 0:
        return blocks[0] * len(counts)
    return "".join(blocks[0] if c == 0 else blocks[max(1, round(c * 8 / peak))] for c in counts)


def render_text(report: IncidentReport, subject: str, reason: str | None = None,
                links: EmailLinks | None = None) -> str:
    inc = report.incident
    tz = report.zone
    lines = [subject, ""]
    if report.kind == "escalated":
        was = report.previous_severity.upper() if report.previous_severity else "a lower level"
        lines += [f"Severity rose from {was} to {inc.severity.upper()}.", ""]
    first = report.first_post or (report.top_posts[0] if report.top_posts else None)
    if first is not None:
        lines.append("The complaint:")
        lines += ["> " + line for line in _post_text(first, QUOTE_MAX).splitlines() or [""]]
        lines.append(f"First posted by {_poster_line(first, tz)}")
        if first.url:
            lines.append(f"Link: {clean_text(first.url)}")
        lines.append("")
    lines.append("Spread:")
    lines += [f"  {label}: {value}" for label, value in _spread_rows(report)]
    lines.append("")
    if report.hourly:
        lines.append(f"Last 24 h per hour: {_sparkline([c for _, c in report.hourly])}")
        lines += [f"  {_hourly_summary(report.hourly, tz)}", ""]
    if report.top_posts:
        lines.append("Top posts:")
        for i, post in enumerate(report.top_posts[:TOP_POSTS], 1):
            lines.append(f"{i}. {_poster_line(post, tz)}; {_engagement(post)}")
            lines += ["   " + line for line in _post_text(post, EXCERPT_MAX).splitlines()]
            if post.url:
                lines.append(f"   {clean_text(post.url)}")
        lines.append("")
    if report.kibana_url:
        lines += [f"Open in Kibana Discover: {report.kibana_url}", ""]
    lines += _footer(report, reason, links)
    return "\n".join(lines) + "\n"


def _footer(report: IncidentReport, reason: str | None = None, links: EmailLinks | None = None) -> list[str]:
    inc = report.incident
    out = [
        "--",
        f"Incident {inc.incident_id}, opened {fmt_time(inc.opened_at, report.zone)}; "
        f"rules: {', '.join(inc.rules) or '-'}",
    ]
    if links is None:
        out.append(f"Acknowledge: groundswell alerts ack {inc.incident_id}")
    else:
        out.append(f"Open the incident: {links.incident_url}")
        if links.ack_url and links.ack_expires_at:
            out.append(f"Acknowledge: {links.ack_url} (until {fmt_time(links.ack_expires_at, report.zone)})")
        else:
            out.append("Acknowledge: on the incident's page, once signed in")
    if reason:
        out.append(f"You receive this as: {clean_text(reason)}")
    return out


_SEVERITY_COLOUR = {"notice": "#3a6ea5", "urgent": "#c77700", "crisis": "#b3261e"}


def _shown_post(post: Post, limit: int, tz: tzinfo | None = None) -> dict[str, Any]:
    return {"text": _post_text(post, limit), "poster": _poster_line(post, tz), "url": post.url,
            "engagement": _engagement(post)}


def render_html(report: IncidentReport, subject: str, chart_cid: str | None, reason: str | None = None,
                links: EmailLinks | None = None) -> str:
    inc = report.incident
    what, summary = headline(inc)
    first = report.first_post or (report.top_posts[0] if report.top_posts else None)
    escalated_from = None
    if report.kind == "escalated":
        escalated_from = report.previous_severity.upper() if report.previous_severity else "a lower level"
    return _render(
        "incident.html",
        subject=subject,
        colour=_SEVERITY_COLOUR[inc.severity],
        severity=inc.severity.upper(),
        what=what,
        summary=summary,
        escalated_from=escalated_from,
        first=_shown_post(first, QUOTE_MAX, report.zone) if first is not None else None,
        spread=_spread_rows(report),
        hourly=_hourly_summary(report.hourly, report.zone) if report.hourly else "",
        chart_cid=chart_cid,
        posts=[_shown_post(p, EXCERPT_MAX, report.zone) for p in report.top_posts[:TOP_POSTS]],
        kibana_url=report.kibana_url,
        links=links,
        ack_until=fmt_time(links.ack_expires_at, report.zone) if links and links.ack_expires_at else None,
        footer=[line for line in _footer(report, reason, links)[1:]
                if not (links and line.startswith(("Open the incident:", "Acknowledge: http")))],
    )


def _headers(msg: EmailMessage, *, subject: str, sender: str, recipients: Sequence[str], at: datetime,
             message_id: str, incident_ids: Sequence[str], kind: str) -> None:
    msg["Subject"] = subject
    msg["From"] = header_text(sender)
    msg["To"] = ", ".join(header_text(r) for r in recipients if header_text(r))
    msg["Date"] = format_datetime(at.astimezone(UTC))
    msg["Message-ID"] = f"<{_ID_UNSAFE.sub('_', message_id)}@{_domain(sender)}>"
    msg["X-Groundswell-Incident"] = " ".join(_ID_UNSAFE.sub("_", i) for i in incident_ids)
    msg["X-Groundswell-Kind"] = kind


def compose(
    report: IncidentReport, *, sender: str, recipients: Sequence[str], message_id: str | None = None,
    reason: str | None = None, links: EmailLinks | None = None,
) -> EmailMessage:
    """The email for an incident that opened or escalated: multipart/alternative of plain text and HTML, the
    HTML in multipart/related with the 24 h chart as an inline PNG. `message_id` defaults to notification_id().
    `reason` says why the recipient gets it; `links` (alerts.links.email_links) add the console's incident page
    and acknowledge link in place of the CLI hint."""
    inc = report.incident
    message_id = message_id or notification_id(inc.incident_id, report.kind, inc.severity)
    subject = subject_of(report)
    msg = EmailMessage()
    _headers(msg, subject=subject, sender=sender, recipients=recipients, at=report.at, message_id=message_id,
             incident_ids=[inc.incident_id], kind=report.kind)
    chart_cid = f"chart.{_ID_UNSAFE.sub('_', message_id)}@{_domain(sender)}" if report.hourly else None
    msg.set_content(render_text(report, subject, reason, links))
    msg.add_alternative(render_html(report, subject, chart_cid, reason, links), subtype="html")
    if chart_cid:
        html_part = msg.get_body(preferencelist=("html",))
        assert isinstance(html_part, EmailMessage)
        png = bar_chart([count for _, count in report.hourly])
        html_part.add_related(png, "image", "png", cid=f"<{chart_cid}>", disposition="inline", filename="last-24h.png")
    return msg


# -- digest ----------------------------------------------------------------------------------------------


def compose_digest(
    reports: Sequence[IncidentReport],
    *,
    sender: str,
    recipients: Sequence[str],
    at: datetime,
    message_id: str | None = None,
    reason: str | None = None,
    links: Mapping[str, EmailLinks] | None = None,
) -> EmailMessage:
    """One email listing several notices (the opt-in digest mode): plain text and HTML, no images. `links` by
    incident id (alerts.links.email_links) add each incident's page and acknowledge link; `reason` says why."""
    if not reports:
        raise ValueError("a digest needs at least one report")
    ordered = sorted(reports, key=lambda r: (-RANK[r.incident.severity], r.incident.opened_at, r.incident.incident_id))
    top: Severity = ordered[0].incident.severity
    ids = [r.incident.incident_id for r in ordered]
    brands = sorted({headline(r.incident)[0] for r in ordered})
    noun = "notice" if len(ordered) == 1 else "notices"
    subject = _subject(_subject_label(top), f"Digest: {len(ordered)} {noun} ({', '.join(brands)})")
    message_id = message_id or digest_id(ids)

    text = [subject, ""]
    items: list[dict[str, Any]] = []
    for r in ordered:
        inc = r.incident
        what = f"[{inc.severity.upper()}] " + ": ".join(headline(inc))
        counts = f"{fmt_number(r.mentions)} mentions, {fmt_number(r.authors)} authors in 24 h"
        if r.platforms:
            counts += f", on {', '.join(clean_text(p) for p in r.platforms)}"
        first = r.first_post or (r.top_posts[0] if r.top_posts else None)
        tz = r.zone
        text += [f"* {what}", f"  {counts}; opened {fmt_time(inc.opened_at, tz)} ({inc.incident_id})"]
        if first is not None:
            excerpt = _post_text(first, EXCERPT_MAX)
            text += ["  > " + line for line in excerpt.splitlines()]
            link = f": {clean_text(first.url)}" if first.url else ""
            text.append(f"  First posted by {_poster_line(first, tz)}{link}")
        if r.kibana_url:
            text.append(f"  Kibana: {r.kibana_url}")
        own = (links or {}).get(inc.incident_id)
        if own is not None:
            text.append(f"  Open the incident: {own.incident_url}")
            if own.ack_url:
                text.append(f"  Acknowledge: {own.ack_url}")
        text.append("")
        items.append({
            "what": what, "counts": counts, "opened": fmt_time(inc.opened_at, tz), "incident_id": inc.incident_id,
            "first": _shown_post(first, EXCERPT_MAX, tz) if first is not None else None, "kibana_url": r.kibana_url,
            "links": own,
        })
    if reason:
        text += ["--", f"You receive this as: {clean_text(reason)}"]
    body = _render("digest.html", subject=subject, heading=f"{len(ordered)} {noun} since the last digest",
                   items=items, reason=clean_text(reason) if reason else None)

    msg = EmailMessage()
    _headers(msg, subject=subject, sender=sender, recipients=recipients, at=at, message_id=message_id,
             incident_ids=ids, kind="digest")
    msg.set_content("\n".join(text) + "\n")
    msg.add_alternative(body, subtype="html")
    return msg
