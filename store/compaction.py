"""Merges each finished month's mention index into one segment, once.

Mentions live in monthly indices (store.mapping) that keep every lookup's cost tied to how many segments it reads:
the `ids` searches by which a batch finds its posts' stored copies go across the alias, to every month, and a
month written over weeks ends with tens of segments (each term lookup is a seek in each segment's dictionary).
Once its month is over, an index is written only when an old post is crawled again, so merging it into one
segment (Elasticsearch's force merge, meant for indices no longer written to) makes every later lookup there one
seek instead of tens: bench/RESULTS.md measured a batch's lookups in an 80,000-mention month at ~8 ms before and
~1 ms after. An index records that it was merged in its mapping's _meta (`compacted_at`), so it is merged once; the
few segments later re-crawls add stay small and are merged by the node's own policy.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from store import mapping

log = logging.getLogger(__name__)

MERGE_TIMEOUT = 3600.0  # seconds: a force merge of a large month takes minutes, and the call waits for it


def finished_months(names: list[str], prefix: str, now: datetime, after: timedelta) -> list[str]:
    """The `<prefix>-mentions-YYYY.MM` indices whose month ended more than `after` before `now` (pure)."""
    out = []
    for name in names:
        month = mapping.index_month(prefix, name)
        if month is not None and datetime.combine(mapping.month_after(month), time(), now.tzinfo) + after <= now:
            out.append(name)
    return sorted(out)


def compact(es: Elasticsearch, prefix: str, now: datetime, after: timedelta) -> list[str]:
    """Merge every finished month not merged yet into one segment; returns the indices merged now."""
    names = list(es.indices.get(index=f"{prefix}-mentions-*", allow_no_indices=True, ignore_unavailable=True).body)
    merged = []
    for name in finished_months(names, prefix, now, after):
        meta: dict[str, Any] = dict(
            (es.indices.get_mapping(index=name)[name].get("mappings") or {}).get("_meta") or {})
        if meta.get("compacted_at"):
            continue
        es.options(request_timeout=MERGE_TIMEOUT).indices.forcemerge(index=name, max_num_segments=1)
        es.indices.put_mapping(index=name, meta={**meta, "compacted_at": now.isoformat()})
        log.info("compaction: merged %s into one segment", name)
        merged.append(name)
    return merged
