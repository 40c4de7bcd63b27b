"""The project's own Scrapy signals, in a module of their own: a stage that connects to one (the Elasticsearch
stage) need not import the Redis scheduler that sends it, and with it the Redis client (~0.1 s of every ingest's
start-up)."""

from __future__ import annotations

checkpoint = object()  # make what you hold durable now (crawlers.redis_scheduler sends it before acknowledging)
