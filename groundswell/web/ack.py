"""Acknowledge from the email: the signed link opens a confirmation page; only its button (a POST with a CSRF
token) acknowledges, so a mail scanner following every link changes nothing. Forged, expired and resolved-incident
links get a page saying so. The link is its own proof (alerts.links): no sign-in needed, and the acknowledgement
records the person it was sent to (or the signed-in person, if someone is)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, url_for

from alerts import incidents as book
from alerts.links import AckClaim, LinkError, verify_ack
from core import clock
from core.config import Config
from groundswell.web.auth import current_user

bp = Blueprint("ack", __name__)


def _cfg() -> Config[Any]:
    cfg: Config[Any] = current_app.config["GS_CONFIG"]
    return cfg


def _claim(token: str) -> AckClaim | tuple[str, int]:
    secret = _cfg().secret_key
    assert secret is not None  # the app does not start without it
    try:
        return verify_ack(secret.get_secret_value(), token, clock.now())
    except LinkError as exc:
        if exc.reason == "expired":
            return render_template("ack_refused.html", title="This link has expired",
                                   message="Acknowledge links work for a limited time after the email. Sign in to "
                                           "the console and acknowledge the incident on its page."), 410
        return render_template("ack_refused.html", title="This link is not valid",
                               message="It was not issued by this Groundswell, or it was changed on the way. Nothing "
                                       "was acknowledged."), 400


def _checked(token: str) -> tuple[AckClaim, book.Incident] | tuple[str, int]:
    """The link's claim and its incident, read once; or the page refusing it (bad or expired link, no such
    incident, resolved already). Both the confirmation (GET) and the acknowledgement (POST) start here."""
    claim = _claim(token)
    if not isinstance(claim, AckClaim):
        return claim
    inc = _store().get(claim.incident_id)
    if inc is None:
        return render_template("ack_refused.html", title="No such incident",
                               message="The incident this link names does not exist (any more)."), 404
    if inc.status == "resolved":
        who = f" by {inc.resolved_by}" if inc.resolved_by else f" ({inc.resolve_reason})" if inc.resolve_reason else ""
        return render_template("ack_refused.html", title="This incident is already resolved",
                               message=f"It was resolved{who}; there is nothing left to acknowledge.",
                               inc=inc), 409
    return claim, inc


def _store() -> book.EsIncidentStore:
    return book.EsIncidentStore(current_app.config["GS_ES"], _cfg().elasticsearch.index_prefix)


@bp.get("/ack/<token>")
def confirm(token: str) -> Any:
    checked = _checked(token)
    if not isinstance(checked[0], AckClaim):
        return checked
    claim, inc = checked
    return render_template("ack_confirm.html", inc=inc, claim=claim, token=token,
                           page=url_for("incidents.page", incident_id=claim.incident_id))


@bp.post("/ack/<token>")
def acknowledge(token: str) -> Any:
    checked = _checked(token)
    if not isinstance(checked[0], AckClaim):
        return checked
    claim = checked[0]
    user = current_user()
    by = user.name if user is not None else claim.recipient
    try:
        inc = book.act(_store(), claim.incident_id, "ack", by, clock.now(), via="email link")
    except (LookupError, ValueError) as exc:
        return render_template("ack_refused.html", title="Not acknowledged", message=str(exc)), 409
    return render_template("ack_done.html", inc=inc, page=url_for("incidents.page", incident_id=inc.incident_id))
