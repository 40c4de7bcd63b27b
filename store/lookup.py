"""Stored fields of mentions by id: one ids search across the alias, for the stages that look up a batch's posts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from elasticsearch import Elasticsearch

from store import mapping


def _direct(fn: Callable[..., Any], **kwargs: Any) -> Any:
    return fn(**kwargs)


def stored_sources(
    es: Elasticsearch, prefix: str, ids: Iterable[str], fields: list[str], call: Callable[..., Any] = _direct
) -> list[tuple[str, dict[str, Any]]]:
    """(id, the asked fields of its _source) for each stored copy of these mentions, in the order the node gives
    them. A post stored twice (see store.writer) comes back twice, so the size leaves room for every copy. `call`
    runs the search (a writer's retrying caller, say)."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    resp = call(es.search, index=mapping.alias(prefix), query={"ids": {"values": wanted}}, size=2 * len(wanted),
                source=fields, ignore_unavailable=True, allow_no_indices=True)
    return [(str(h["_id"]), h.get("_source") or {}) for h in resp["hits"]["hits"]]
