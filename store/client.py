"""The Elasticsearch client, built one way for every command from the typed configuration, and the one reading of
what went wrong talking to it.

A failure is one of a few kinds, each with its own message and exit status: the cluster did not answer (an
outage: retried, then spooled), it refused the credentials (401) or a privilege (403, named), the TLS handshake
failed (the certificate), or the URL answers but is not Elasticsearch. Only the outage is worth a retry; the
others need a person, so they are said once and nothing is spooled.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from elasticsearch import ApiError, Elasticsearch, SSLError, TransportError, UnsupportedProductError

from core import redact
from core.config import Elasticsearch as EsConfig
from core.exits import ExitStatus
from store import mapping, upgrade
from store.fields import index_settings, settings_of
from store.serializers import serializers

log = logging.getLogger(__name__)
_BUSY = frozenset({429, 502, 503, 504})  # statuses a retry may cure
_warned_unverified: set[str] = set()


class StoreClient(Elasticsearch):
    """The client, carrying the configured index layout (shards, replicas) to whatever creates an index with it.

    Groundswell's indices are created lazily by whichever component writes first (the crawl-state, job-run,
    incident and outbox stores, the mention template); they take `settings_of(es)` so that one configuration
    decides the layout for all of them without threading it through every call."""

    index_settings: dict[str, Any]

    def options(self, *args: Any, **kwargs: Any) -> Any:
        client = super().options(*args, **kwargs)
        client.index_settings = self.index_settings
        return client


class StoreError(Exception):
    """Talking to Elasticsearch failed; the message (secrets masked) says how, `status` is the exit status."""

    status: ExitStatus = ExitStatus.STORE_UNAVAILABLE


class StoreUnavailable(StoreError):
    """Elasticsearch could not be reached or failed to answer: worth a retry, then the spool."""


class StoreAuthError(StoreError):
    """401: the credentials were refused."""

    status = ExitStatus.STORE_AUTH


class StoreForbidden(StoreError):
    """403: the credentials lack a privilege; the message names it when Elasticsearch does."""

    status = ExitStatus.STORE_FORBIDDEN


class StoreTLSError(StoreError):
    """The TLS handshake failed: an untrusted, expired or mismatched certificate, or TLS against plain HTTP."""

    status = ExitStatus.STORE_TLS


class NotElasticsearch(StoreError):
    """The URL answers, but what answers is not Elasticsearch (a web page, a proxy's error page...)."""

    status = ExitStatus.NOT_ELASTICSEARCH


def make_client(cfg: EsConfig, *, retries: int = 1) -> Elasticsearch:
    """A client of every configured node (the transport moves on to another node when one dies)."""
    kwargs: dict[str, Any] = {
        "request_timeout": cfg.request_timeout,
        "max_retries": retries,
        "retry_on_timeout": retries > 0,
        "serializers": serializers(),
    }
    if cfg.api_key:
        kwargs["api_key"] = cfg.api_key
    elif cfg.username:
        kwargs["basic_auth"] = (cfg.username, cfg.password or "")
    if any(host.startswith("https") for host in cfg.hosts):
        if cfg.ca_certs:
            kwargs["ca_certs"] = cfg.ca_certs
        kwargs["verify_certs"] = cfg.verify_certs
        if not cfg.verify_certs:
            kwargs["ssl_show_warn"] = False  # said once, below, instead of a urllib3 warning per request
            if cfg.display_url not in _warned_unverified:
                _warned_unverified.add(cfg.display_url)
                log.warning("TLS certificate verification is off for %s (verify_certs: false): anyone on the way "
                            "can read and change what is sent; give the cluster's CA in GROUNDSWELL_ES_CA_CERTS "
                            "instead", cfg.display_url)
    client = StoreClient(cfg.hosts, **kwargs)
    client.index_settings = index_settings(cfg.shards, cfg.replicas)
    return client


# --- what went wrong ------------------------------------------------------------------------------------------

_PRIVILEGE = re.compile(r"action \[(?P<action>[^\]]+)\] is unauthorized for (?:user|API key id) \[(?P<who>[^\]]*)\]"
                        r"(?:.*? on indices \[(?P<indices>[^\]]*)\])?.*?"
                        r"granted by the (?P<level>cluster|index) privileges \[(?P<privileges>[^\]]+)\]")
_REASONS = (
    re.compile(r"\[SSL: [A-Z_]+\] (.+?) \(_ssl\.c"),  # certificate verify failed: ..., wrong version number
    re.compile(r"Failed to establish a new connection: (?:\[Errno -?\d+\] )?([^)'\"]+)"),
    re.compile(r"\[Errno -?\d+\] ([^)'\"]+)"),
)


def _reason(body: Any) -> str | None:
    """The root cause's reason of an Elasticsearch error body, if it is one."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        causes = err.get("root_cause") or [err]
        first = causes[0] if isinstance(causes, list) and causes and isinstance(causes[0], dict) else err
        reason = first.get("reason") or err.get("reason") or err.get("type")
        return str(reason) if reason else None
    return None


def _is_elasticsearch(exc: ApiError) -> bool:
    """Whether an error response came from Elasticsearch: its product header, or a JSON error (security refusals
    carry no product header, and a HEAD has no body); a web page or a proxy's text is something else."""
    headers = {k.lower(): v for k, v in (exc.meta.headers or {}).items()}
    if headers.get("x-elastic-product") == "Elasticsearch" or isinstance(exc.body, dict):
        return True
    kind = headers.get("content-type", "")
    return ("json" in kind or "elasticsearch" in kind) and not (isinstance(exc.body, str) and exc.body.strip())


def _forbidden(url: str, reason: str | None) -> str:
    m = _PRIVILEGE.search(reason or "")
    if not m:
        return f"Elasticsearch at {url} refused the request (403): {reason or 'forbidden'}; see the README's list " \
               "of the privileges Groundswell needs"
    privileges = [p.strip() for p in m["privileges"].split(",") if p.strip()]
    where = f" on {m['indices']}" if m["indices"] else ""
    alternatives = f" (or {', '.join(privileges[1:])})" if len(privileges) > 1 else ""
    return (f"Elasticsearch at {url}: {m['who']} lacks the {m['level']} privilege {privileges[0]}{alternatives}"
            f"{where}, needed for {m['action']}; grant it to the user's role")


def _transport_reason(exc: TransportError) -> str:
    """The innermost readable reason of a transport failure, without urllib3's object reprs."""
    text = str(exc.message if hasattr(exc, "message") else exc)
    for pattern in _REASONS:
        m = pattern.search(text)
        if m and m.group(1).strip():
            return m.group(1).strip()
    if "timed out" in text.lower() or "timeout" in type(exc).__name__.lower():
        return "timed out"
    return re.sub(r"<[^>]*object at 0x[0-9a-f]+>:?\s*", "", text)


def _tls_hint(reason: str) -> str:
    if "wrong version number" in reason or "record layer failure" in reason:
        return "the server does not speak TLS: try http:// instead of https://"
    if "hostname" in reason.lower() or "ip address mismatch" in reason.lower():
        return "the certificate is for another name: use the host name it was issued for"
    return ("if the cluster's certificate is self-signed or from a private CA, give that CA in "
            "GROUNDSWELL_ES_CA_CERTS")


def store_error(url: str, exc: Exception) -> StoreError:
    """What a client exception means, as one line naming the (masked) URL; the exception's kind sets the status."""
    shown = redact.url(url)
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, UnsupportedProductError):
        return NotElasticsearch(f"{shown} answers, but not as Elasticsearch (no X-Elastic-Product header): check "
                                "GROUNDSWELL_ES_URL or elasticsearch.url")
    if isinstance(exc, ApiError):
        status = exc.meta.status
        if status in _BUSY and not _is_elasticsearch(exc):  # a proxy in front of a cluster that is down
            return StoreUnavailable(f"Elasticsearch at {shown} is unreachable: HTTP {status} from what answers")
        if not _is_elasticsearch(exc):
            headers = {k.lower(): str(v) for k, v in (exc.meta.headers or {}).items()}
            kind = headers.get("content-type", "no content type").split(";")[0]
            return NotElasticsearch(f"{shown} answers, but not as Elasticsearch (HTTP {status}, {kind}): check "
                                    "GROUNDSWELL_ES_URL or elasticsearch.url")
        reason = _reason(exc.body)
        if status == 401:
            return StoreAuthError(redact.scrub(
                f"Elasticsearch at {shown} refused the credentials (401: {reason or 'unauthenticated'}); check "
                "GROUNDSWELL_ES_USERNAME and GROUNDSWELL_ES_PASSWORD, or GROUNDSWELL_ES_API_KEY"))
        if status == 403:
            return StoreForbidden(redact.scrub(_forbidden(shown, reason)))
        return StoreUnavailable(redact.scrub(f"Elasticsearch at {shown} answered {status}: "
                                             f"{reason or exc.message}"))
    if isinstance(exc, SSLError):
        reason = _transport_reason(exc)
        return StoreTLSError(redact.scrub(f"Elasticsearch at {shown}: TLS failed: {reason}; {_tls_hint(reason)}"))
    if isinstance(exc, TransportError):
        reason = _transport_reason(exc)
        if "closed connection without response" in reason and shown.startswith("http://"):
            reason += " (a TLS port? try https://)"
        return StoreUnavailable(redact.scrub(f"Elasticsearch at {shown} is unreachable: {reason}"))
    return StoreUnavailable(redact.scrub(f"Elasticsearch at {shown}: {type(exc).__name__}: {exc}"))


def describe_error(url: str, exc: Exception) -> str:
    return str(store_error(url, exc))


def is_transient(exc: Exception) -> bool:
    """Whether a retry may help: a dropped connection, a timeout, a busy or restarting cluster; never a refusal."""
    if isinstance(exc, SSLError | UnsupportedProductError):
        return False
    if isinstance(exc, ApiError):
        return exc.meta.status in _BUSY
    return isinstance(exc, TransportError)


def ensure_schema(es: Elasticsearch, prefix: str) -> None:
    """Install (or upgrade) the mention index template and bring indices an older version made up to it
    (store.upgrade); idempotent and cheap once done, so every writer calls it."""
    template = mapping.index_template(prefix, settings_of(es))
    es.indices.put_index_template(name=mapping.template_name(prefix), **template)
    upgrade.upgrade(es, prefix)


def server_version(es: Elasticsearch) -> str:
    """Version of the cluster; `GET /` is absent on the integ-test-zip, so ask the nodes API."""
    nodes = es.nodes.info(node_id="_local", metric="jvm", filter_path="nodes.*.version")
    versions = [n.get("version") for n in (nodes.body.get("nodes") or {}).values()]
    return str(versions[0]) if versions else "unknown"
