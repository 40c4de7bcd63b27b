"""Last stage: bulk-write mentions into Elasticsearch, never losing one.

Items are buffered and written in batches. When Elasticsearch cannot be reached (after the writer's retries
with backoff), the batch and everything after it in this run go to the local spool, which the next run
replays before anything else. Documents Elasticsearch itself rejects are reported with their origin.
"""

from __future__ import annotations

import logging
from typing import Any

from elasticsearch import Elasticsearch

from core import config as gsconfig
from core import paths
from core.mention import Mention
from crawlers.context import CrawlContext
from crawlers.redis_scheduler import checkpoint
from pipelines.clusters import ClusterResolver
from store import mapping
from store.client import StoreUnavailable, ensure_schema, make_client
from store.spool import Spool
from store.writer import MentionWriter, Pending, WriteResult

log = logging.getLogger(__name__)


class ElasticsearchPipeline:
    def __init__(
        self,
        cfg: gsconfig.Config,
        stats: Any,
        *,
        batch_size: int = 500,
        retries: int = 3,
        backoff: float = 0.5,
        refresh: bool = True,
        es: Elasticsearch | None = None,
    ):
        self.cfg = cfg
        self.stats = stats
        self.batch_size = batch_size
        self.refresh = refresh
        self.prefix = cfg.elasticsearch.index_prefix
        self.url = cfg.elasticsearch.effective_url
        self.owns_client = es is None  # the crawl's context closes a client it lent
        self.es: Elasticsearch = es if es is not None else make_client(cfg.elasticsearch, retries=0)
        self.writer = MentionWriter(self.es, self.prefix, self.url, retries=retries, backoff=backoff)
        self.clusters = ClusterResolver(self.es, self.prefix, self.writer._call)
        self.spool = Spool(paths.spool_dir(), self.prefix)
        self.buffer: list[Pending] = []
        self.result = WriteResult()
        self.spooled = 0
        self.replayed = 0
        self.unavailable: str | None = None  # set once ES failed in this run: spool the rest without waiting
        self.schema_ready = False

    @classmethod
    def from_crawler(cls, crawler: Any) -> ElasticsearchPipeline:
        s = crawler.settings
        context = CrawlContext.of(crawler)
        pipeline = cls(
            context.config,
            crawler.stats,
            batch_size=s.getint("GROUNDSWELL_BATCH_SIZE", 500),
            retries=s.getint("GROUNDSWELL_ES_RETRIES", 3),
            backoff=s.getfloat("GROUNDSWELL_ES_BACKOFF", 0.5),
            es=context.es,
        )
        if context.shared:  # a shared crawl acknowledges a request once its mentions are durable: flush when asked
            crawler.signals.connect(pipeline.flush, signal=checkpoint)
        return pipeline

    # --- Scrapy hooks ----------------------------------------------------------------------------------

    def open_spider(self) -> None:
        self._replay_spool()

    def process_item(self, item: Mention) -> Mention:
        self.buffer.append(Pending(mapping.to_document(item), item.origin))
        if len(self.buffer) >= self.batch_size:
            self.flush()
        return item

    def close_spider(self) -> None:
        self.flush()
        if self.refresh and self.unavailable is None:
            try:
                self.es.indices.refresh(
                    index=mapping.alias(self.prefix), ignore_unavailable=True, allow_no_indices=True
                )
            except Exception as exc:  # refresh is a courtesy for searches right after; the data is written
                log.warning("refresh after ingest failed: %s", exc)
        if self.owns_client:
            self.es.close()

    # --- work ------------------------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        if not self.schema_ready:
            self.writer._call(ensure_schema, es=self.es, prefix=self.prefix)
            self.schema_ready = True

    def _write(self, batch: list[Pending]) -> None:
        """Write or, when Elasticsearch is out of reach, spool; never both, never neither."""
        if self.unavailable is None:
            try:
                self._ensure_schema()
                self.clusters.resolve([p.doc for p in batch])
                res = self.writer.write(batch)
            except StoreUnavailable as exc:
                self.unavailable = str(exc)
                log.error("%s; spooling to %s", exc, self.spool.path)
            else:
                self._count(res)
                return
        self.spool.append([(p.doc, p.origin) for p in batch])
        self.spooled += len(batch)
        self.stats.inc_value("groundswell/spooled", len(batch))

    def _count(self, res: WriteResult) -> None:
        self.result.add(res)
        for key, n in (
            ("indexed", res.indexed),
            ("updated", res.updated),
            ("duplicates", res.duplicates),
            ("failed", len(res.failed)),
        ):
            if n:
                self.stats.inc_value(f"groundswell/{key}", n)
        for origin, reason in res.failed:
            log.error("%s: %s", origin or "mention", reason)

    def flush(self) -> None:
        if self.buffer:
            batch, self.buffer = self.buffer, []
            self._write(batch)

    def _replay_spool(self) -> None:
        """Write what earlier runs could not, before anything new (so counts stay in order of arrival)."""
        for path in self.spool.claim():
            batch: list[Pending] = []
            for _n, doc, origin, error in Spool.read(path):
                if error:
                    self.result.failed.append((str(path), error))
                    continue
                assert doc is not None
                batch.append(Pending(doc, origin))
                if len(batch) >= self.batch_size:
                    self._write(batch)
                    self.replayed += len(batch)
                    batch = []
            if batch:
                self._write(batch)
                self.replayed += len(batch)
            path.unlink()  # every line is now written or spooled again into the fresh spool file
        if self.replayed:
            self.stats.inc_value("groundswell/replayed", self.replayed)
