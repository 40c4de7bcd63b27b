"""Mapping pieces every Groundswell index shares, so a keyword field or the index settings mean one thing."""

from __future__ import annotations

from typing import Any

KEYWORD: dict[str, Any] = {"type": "keyword", "ignore_above": 1024}
DATE: dict[str, Any] = {"type": "date"}
# small bookkeeping indices: one shard, a replica once a second node is there
INDEX_SETTINGS: dict[str, Any] = {"number_of_shards": 1, "auto_expand_replicas": "0-1"}
