"""Mapping pieces every Groundswell index shares, so a keyword field or the index settings mean one thing."""

from __future__ import annotations

from typing import Any

KEYWORD: dict[str, Any] = {"type": "keyword", "ignore_above": 1024}
DATE: dict[str, Any] = {"type": "date"}
# the default layout: one shard, a replica once a second node is there
INDEX_SETTINGS: dict[str, Any] = {"number_of_shards": 1, "auto_expand_replicas": "0-1"}


def index_settings(shards: int | None = None, replicas: int | None = None) -> dict[str, Any]:
    """Shards and replicas as configured (`elasticsearch.shards`, `elasticsearch.replicas`); None keeps the default.

    A fixed replica count replaces auto-expansion: with `replicas: 1` on a three-node cluster every shard has a
    copy on a second node, so losing one node loses no acknowledged write."""
    out: dict[str, Any] = {"number_of_shards": shards or INDEX_SETTINGS["number_of_shards"]}
    if replicas is None:
        out["auto_expand_replicas"] = INDEX_SETTINGS["auto_expand_replicas"]
    else:
        out["number_of_replicas"] = replicas
    return out


def settings_of(es: Any) -> dict[str, Any]:
    """The index settings the client was configured with (store.client.make_client), else the default layout."""
    found = getattr(es, "index_settings", None)
    return dict(found) if isinstance(found, dict) else dict(INDEX_SETTINGS)
