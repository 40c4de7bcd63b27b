"""Secrets never reach a screen, a log or a stored record: URLs lose their passwords, known secrets their text.

A secret comes from the environment or the configuration (an Elasticsearch password or API key, an SMTP password,
a platform's cookies); the configuration loader `remember`s each one, and `scrub` replaces any of them, and the
password of any URL, wherever they appear in a message. `groundswell`'s log handler scrubs every record, so a
library that prints a URL or a header in its error cannot leak them either.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
MIN_SECRET = 4  # shorter "secrets" would mask ordinary words; such a password is a problem of its own
_SECRET_PARAMS = re.compile(r"(?i)^(password|passwd|pwd|pass|secret|token|access_token|api_?key|apikey|key|auth"
                            r"|sig|signature|cookie)$")
# user:password@ in anything that looks like a URL (scheme://user:pass@host)
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@")
_QUERY_SECRET = re.compile(
    r"(?i)(?P<key>[?&;](?:password|passwd|pwd|secret|token|access_token|api_?key|apikey|auth|sig|signature)=)"
    r"(?P<value>[^&#\s'\"]+)"
)
_AUTH_HEADER = re.compile(r"(?i)(?P<key>\b(?:authorization|cookie|x-api-key)['\"]?\s*[:=]\s*['\"]?)"
                          r"(?P<value>(?:basic|bearer|apikey)\s+[^\s'\",}]+|[^\s'\",}]+)")

_lock = threading.Lock()
_secrets: set[str] = set()


def remember(*secrets: str | None) -> None:
    """Secrets to mask from now on in this process (too short ones are ignored: see MIN_SECRET)."""
    with _lock:
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET:
                _secrets.add(secret)


def url(value: str | None) -> str:
    """A URL fit to show: its password (and secret-looking query values) masked, the user name kept."""
    if not value:
        return value or ""
    try:
        parts = urlsplit(value)
    except ValueError:
        return scrub(value)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, sep, _pw = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if sep else f"{userinfo}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if _SECRET_PARAMS.match(k) else v) for k, v in pairs], safe="*")
    return scrub(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


def scrub(text: str | None) -> str:
    """Any text with URL passwords, secret query values, auth headers and every remembered secret masked."""
    if not text:
        return text or ""
    out = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    out = _QUERY_SECRET.sub(lambda m: f"{m['key']}{MASK}", out)
    out = _AUTH_HEADER.sub(lambda m: f"{m['key']}{MASK}", out)
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in out:
            out = out.replace(secret, MASK)
    return out


class ScrubFilter(logging.Filter):
    """A logging filter that formats each record once and masks secrets in the result (args included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a record whose args do not fit its format: show it as it is
            message = str(record.msg)
        clean = scrub(message)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        record.msg, record.args = clean, None
        return True
