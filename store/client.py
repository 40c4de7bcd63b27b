"""The Elasticsearch client, built one way for every command from the typed configuration."""

from __future__ import annotations

from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from core.config import Elasticsearch as EsConfig
from store import mapping
from store.fields import index_settings, settings_of


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


class StoreUnavailable(Exception):
    """Elasticsearch could not be reached or refused the request; the message names the URL."""


def make_client(cfg: EsConfig, *, retries: int = 1) -> Elasticsearch:
    """A client of every configured node (the transport moves on to another node when one dies)."""
    kwargs: dict[str, Any] = {
        "request_timeout": cfg.request_timeout,
        "max_retries": retries,
        "retry_on_timeout": retries > 0,
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
            kwargs["ssl_show_warn"] = False
    client = StoreClient(cfg.hosts, **kwargs)
    client.index_settings = index_settings(cfg.shards, cfg.replicas)
    return client


def describe_error(url: str, exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return (
            f"Elasticsearch at {url} answered {exc.meta.status}: {exc.message} {exc.body if exc.body else ''}".strip()
        )
    if isinstance(exc, TransportError):
        return f"Elasticsearch at {url} is unreachable: {exc.message}"
    return f"Elasticsearch at {url}: {exc}"


def ensure_schema(es: Elasticsearch, prefix: str) -> None:
    """Install (or upgrade) the mention index template; idempotent and cheap, so every writer calls it."""
    template = mapping.index_template(prefix, settings_of(es))
    es.indices.put_index_template(name=mapping.template_name(prefix), **template)


def server_version(es: Elasticsearch) -> str:
    """Version of the cluster; `GET /` is absent on the integ-test-zip, so ask the nodes API."""
    nodes = es.nodes.info(node_id="_local", metric="jvm", filter_path="nodes.*.version")
    versions = [n.get("version") for n in (nodes.body.get("nodes") or {}).values()]
    return str(versions[0]) if versions else "unknown"
