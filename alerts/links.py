"""Links from an email into the console: the incident's page, and a signed, expiring acknowledge link.

The acknowledge link carries `{incident, recipient, expiry}` signed with HMAC-SHA256 (itsdangerous) under
GROUNDSWELL_SECRET_KEY, so it cannot be forged or pointed at another incident, and says who it was sent to, so an
acknowledgement through it records that person. Opening it only shows a confirmation page (a mail scanner that
follows every link changes nothing); the page's button, a POST with a CSRF token, acknowledges. The expiry is
checked against `core.clock.now()` so a simulated demo clock and the console agree on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer

from core.config import Config

_SALT = "groundswell.acknowledge-link.v1"


class LinkError(ValueError):
    """A refused acknowledge link; `reason` is forged (bad signature or shape) or expired."""

    def __init__(self, reason: Literal["forged", "expired"], message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class AckClaim:
    """What a valid acknowledge link says: this incident, sent to this address, good until then."""

    incident_id: str
    recipient: str
    expires_at: datetime


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256})


def sign_ack(secret: str, incident_id: str, recipient: str, expires_at: datetime) -> str:
    """The token of an acknowledge link (URL-safe, no padding)."""
    payload = {"i": incident_id, "r": recipient, "e": int(expires_at.timestamp())}
    return str(_serializer(secret).dumps(payload))


def verify_ack(secret: str, token: str, now: datetime) -> AckClaim:
    """The claim of a token signed with `secret`; LinkError when forged (or mangled) or expired at `now`."""
    try:
        payload: Any = _serializer(secret).loads(token)
    except BadSignature:
        raise LinkError("forged", "this link was not issued by Groundswell (its signature does not match)") from None
    if not (isinstance(payload, dict) and isinstance(payload.get("i"), str) and isinstance(payload.get("r"), str)
            and isinstance(payload.get("e"), int)):
        raise LinkError("forged", "this link is not an acknowledge link")
    expires = datetime.fromtimestamp(payload["e"], UTC)
    if now >= expires:
        raise LinkError("expired", "this acknowledge link has expired")
    return AckClaim(incident_id=payload["i"], recipient=payload["r"], expires_at=expires)


@dataclass(frozen=True)
class EmailLinks:
    """The console links one email carries: its incident's page and, with a secret key, the acknowledge link."""

    incident_url: str
    ack_url: str | None
    ack_expires_at: datetime | None


def incident_url(base: str, incident_id: str) -> str:
    return f"{base.rstrip('/')}/incidents/{quote(incident_id, safe='')}"


def ack_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/ack/{token}"


def email_links(cfg: Config[Any], incident_id: str, recipient: str, at: datetime) -> EmailLinks | None:
    """The links for one recipient's email, or None without a console URL (the email then keeps the CLI hint).
    Without GROUNDSWELL_SECRET_KEY the email links to the page only: the console signs in people before it acts."""
    base = cfg.alerting.console_url
    if not base:
        return None
    if cfg.secret_key is None:
        return EmailLinks(incident_url(base, incident_id), None, None)
    expires = at + timedelta(hours=cfg.alerting.ack_link_hours)
    token = sign_ack(cfg.secret_key.get_secret_value(), incident_id, recipient, expires)
    return EmailLinks(incident_url(base, incident_id), ack_url(base, token), expires)
