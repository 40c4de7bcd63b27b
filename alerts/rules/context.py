"""The context `groundswell alerts run` evaluates in: the configured brands and sources, and the brands in the index."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from alerts.rules.base import EvalContext
from alerts.rules.common import known_between, mentions, search
from core.config import Config

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

__all__ = ["EvalContext", "brands_in_index", "configured_source_keys", "context_for"]

BRAND_LOOKBACK = timedelta(days=30)




def brands_in_index(es: Elasticsearch, prefix: str, at: datetime, lookback: timedelta = BRAND_LOOKBACK) -> list[str]:
    """Every brand with mentions published in the lookback before `at` (a terms aggregation, not a scan)."""
    res = search(
        es,
        mentions(prefix),
        size=0,
        query=known_between(at - lookback, at),
        aggs={"brands": {"terms": {"field": "brand", "size": 1000}}},
    )
    return sorted(b["key"] for b in res.get("aggregations", {}).get("brands", {}).get("buckets", []))


def configured_source_keys(cfg: Config[Any]) -> tuple[str, ...]:
    """Enabled configured sources as run-record key prefixes; a source without keywords crawls every brand
    (or, with no brands configured, any keyword)."""
    keys: set[str] = set()
    brand_names = [b.name for b in cfg.brands]
    for source in cfg.sources:
        if not source.enabled:
            continue
        words = source.keywords or tuple(brand_names)
        if not words:
            keys.add(f"{source.spider}:*")
        keys.update(f"{source.spider}:{w}" for w in words)
    return tuple(sorted(keys))


def context_for(
    cfg: Config[Any], es: Elasticsearch, prefix: str, at: datetime, running_since: datetime | None = None
) -> EvalContext:
    """The context `groundswell alerts run` uses: configured brands plus every brand found in the index;
    `running_since`: when the scheduler evaluating started (None: evaluated by hand)."""
    brands = sorted({b.name for b in cfg.brands} | set(brands_in_index(es, prefix, at)))
    return EvalContext(es=es, prefix=prefix, at=at, brands=tuple(brands), source_keys=configured_source_keys(cfg),
                       running_since=running_since)
