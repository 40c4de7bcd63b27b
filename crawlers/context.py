"""What every component of one crawl shares, built once per crawler: the configuration, one Elasticsearch client
and the crawl's stats.

Spiders, middlewares, extensions and item pipelines get it in `from_crawler` through `CrawlContext.of(crawler)`,
the way Scrapy components get settings, so a crawl reads its configuration once and opens one client. The
configuration comes from the `GROUNDSWELL_CONFIG` setting (a loaded `core.config.Config`, as `groundswell crawl`
passes it) or is read once from `GROUNDSWELL_CONFIG_PATH` (under a plain `scrapy crawl`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.config import Brand, Config, load
from store.client import make_client

if TYPE_CHECKING:
    import redis
    from elasticsearch import Elasticsearch

    from crawlers.redis_crawl import CrawlUnit

_ATTR = "_groundswell_context"


class CrawlContext:
    def __init__(self, config: Config[Any], crawler: Any = None):
        self.config = config
        self._crawler = crawler
        self._es: Elasticsearch | None = None
        self._redis: redis.Redis | None = None
        self._unit: CrawlUnit | None = None

    @classmethod
    def of(cls, crawler: Any) -> CrawlContext:
        """The crawler's context, made on first use (ConfigError, worded for the user, if the file is bad)."""
        found = getattr(crawler, _ATTR, None)
        if isinstance(found, CrawlContext):
            return found
        given = crawler.settings.get("GROUNDSWELL_CONFIG")
        config = given if isinstance(given, Config) else load(crawler.settings.get("GROUNDSWELL_CONFIG_PATH"))
        context = cls(config, crawler)
        setattr(crawler, _ATTR, context)
        if getattr(crawler, "signals", None) is not None:  # a real crawl: close the client once the engine stopped
            from scrapy import signals

            crawler.signals.connect(context.close, signal=signals.engine_stopped)
        return context

    @property
    def stats(self) -> Any:
        """The crawl's stats collector (Scrapy sets it when the crawl starts)."""
        return self._crawler.stats if self._crawler is not None else None

    @property
    def prefix(self) -> str:
        return self.config.elasticsearch.index_prefix

    @property
    def url(self) -> str:
        return self.config.elasticsearch.effective_url

    @property
    def es(self) -> Elasticsearch:
        """The crawl's one client, made on first use; components fail over to the spool, so no retries here."""
        if self._es is None:
            self._es = make_client(self.config.elasticsearch, retries=0)
        return self._es

    @property
    def redis(self) -> redis.Redis:
        """The deployment's Redis (crawl workers only; crawlers.redis_conn), connected on first use."""
        if self._redis is None:
            from crawlers.redis_conn import connect

            self._redis = connect(self.config.redis)
        return self._redis

    def _setting(self, name: str) -> Any:
        settings = getattr(self._crawler, "settings", None)
        return settings.get(name) if settings is not None else None

    @property
    def unit(self) -> CrawlUnit | None:
        """The crawl unit a worker runs this crawl for (the GROUNDSWELL_UNIT setting); None for a plain crawl."""
        unit_id = self._setting("GROUNDSWELL_UNIT")
        if not unit_id:
            return None
        if self._unit is None:
            from crawlers.redis_conn import key_prefix
            from crawlers.redis_crawl import CrawlUnit

            self._unit = CrawlUnit(self.redis, key_prefix(self.config), str(unit_id))
        return self._unit

    @property
    def shared(self) -> bool:
        """Whether several workers share this crawl's pages (its requests are in Redis)."""
        return self.unit is not None and bool(self._setting("GROUNDSWELL_UNIT_SHARED"))

    @property
    def owner(self) -> bool:
        """Whether this worker owns the unit now: it saves the cursor and the run record (a helper only fetches).
        Asked of Redis: a helper becomes the owner when it takes over the unit of an owner that died."""
        unit = self.unit
        if unit is None:
            return True
        return unit.owner() == self.worker_id

    @property
    def worker_id(self) -> str:
        return str(self._setting("GROUNDSWELL_WORKER_ID") or "")

    def brands(self) -> tuple[Brand, ...]:
        """The brands this crawl watches: the configured ones; with none configured, the crawl's keyword is the
        brand being monitored (under `scrapy crawl` as under `groundswell crawl`)."""
        if self.config.brands:
            return self.config.brands
        spider = getattr(self._crawler, "spider", None)
        keyword = str(getattr(spider, "keyword", "") or "").strip()
        return (Brand(name=keyword),) if keyword else ()

    def close(self) -> None:
        if self._es is not None:
            self._es.close()
            self._es = None
        if self._redis is not None:
            self._redis.close()
            self._redis = None
