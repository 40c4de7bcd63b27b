"""The one Redis of a deployment: where crawl workers, standby schedulers and shared politeness meet.

Nothing needs it on a single machine; with `redis.url` (or GROUNDSWELL_REDIS_URL) set, every Groundswell process
connects to the same server and names its keys under one prefix (`groundswell:<index prefix>` by default), so two
deployments (or a test) sharing a Redis never see each other's keys. Requests and crawl state are pickled there, as
scrapy-redis does: the Redis must be private to the deployment (a password, a private network).
"""

from __future__ import annotations

from typing import Any

import redis

from core.config import Config
from core.config import Redis as RedisConfig


class RedisUnavailable(Exception):
    """Redis could not be reached or refused the command; the message names the server (never its password)."""


def connect(cfg: RedisConfig) -> redis.Redis:
    """A client of the configured Redis (short timeouts: a lease holder must notice a dead server in time)."""
    if cfg.url is None:
        raise RedisUnavailable("no Redis configured (redis.url or GROUNDSWELL_REDIS_URL)")
    return redis.Redis.from_url(cfg.url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)


def key_prefix(config: Config[Any]) -> str:
    return config.redis.key_prefix or f"groundswell:{config.elasticsearch.index_prefix}"


def describe(cfg: RedisConfig, exc: Exception) -> str:
    return f"Redis at {cfg.shown_url} is unreachable: {exc}"
