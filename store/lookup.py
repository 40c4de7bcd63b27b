"""Stored fields of mentions by id: one ids search across the alias, for the stages that look up a batch's posts
(and, for the writer, where each of them is stored)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

from store import mapping


def _direct(fn: Callable[..., Any], **kwargs: Any) -> Any:
    return fn(**kwargs)


@dataclass(frozen=True)
class Found:
    """What one ids search found of a batch's posts: each stored copy's fields, and the indices each post is in.
    `complete` is False when the node had more copies than the answer holds (then `where` cannot be trusted to
    name every index)."""

    sources: list[tuple[str, dict[str, Any]]]
    where: dict[str, set[str]]
    complete: bool


def stored_copies(
    es: Elasticsearch, prefix: str, ids: Iterable[str], fields: list[str], call: Callable[..., Any] = _direct
) -> Found:
    """Every stored copy of these mentions (their asked fields, and their indices) from one ids search across the
    alias, in the order the node gives them. A post stored twice (see store.writer) comes back twice, so the size
    leaves room for every copy. `call` runs the search (a writer's retrying caller, say)."""
    wanted = sorted(set(ids))
    if not wanted:
        return Found([], {}, True)
    resp = call(es.search, index=mapping.alias(prefix), query={"ids": {"values": wanted}}, size=2 * len(wanted),
                source=fields, track_total_hits=True, ignore_unavailable=True, allow_no_indices=True)
    hits = resp["hits"]["hits"]
    where: dict[str, set[str]] = {}
    for h in hits:
        where.setdefault(str(h["_id"]), set()).add(str(h["_index"]))
    total = int((resp["hits"].get("total") or {}).get("value", len(hits)))
    return Found([(str(h["_id"]), h.get("_source") or {}) for h in hits], where, total <= len(hits))


def stored_sources(
    es: Elasticsearch, prefix: str, ids: Iterable[str], fields: list[str], call: Callable[..., Any] = _direct
) -> list[tuple[str, dict[str, Any]]]:
    """(id, the asked fields of its _source) for each stored copy of these mentions (stored_copies)."""
    return stored_copies(es, prefix, ids, fields, call).sources
