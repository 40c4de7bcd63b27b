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
    from elasticsearch import Elasticsearch

_ATTR = "_groundswell_context"


class CrawlContext:
    def __init__(self, config: Config[Any], crawler: Any = None):
        self.config = config
        self._crawler = crawler
        self._es: Elasticsearch | None = None

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
