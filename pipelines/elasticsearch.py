"""Last stage: bulk-write mentions into Elasticsearch, never losing one.

Items are buffered and written in batches. When Elasticsearch cannot be reached (after the writer's retries
with backoff), the batch and everything after it in this run go to the local spool, which the next run
replays before anything else. Documents Elasticsearch itself rejects are reported with their origin.

A batch is written in two steps: its lookups (cluster ids, repeat marks) on the caller's thread, then its write
(find stored, merge, bulk) on one committer thread, so that the next batch's lookups overlap this batch's write
(with analysis workers this stage is the thread every mention waits for). Writes stay one at a time and in order;
the lookups of a batch never need the one being written (the run's memories hold it). `flush` waits for the write
in flight, so what it returns from is durable (a shared crawl acknowledges its requests then).

A refusal no retry can fix (a wrong password, a missing privilege, an untrusted certificate, a URL that is not
Elasticsearch) is not an outage: nothing new is spooled (the input is still there to run again once fixed), the
error is kept in `fatal` and a crawl is closed with reason `store_refused`. What came from the spool goes back
to it.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from elasticsearch import Elasticsearch

from core import config as gsconfig
from core import paths
from core.mention import Analysed, Mention
from crawlers.context import CrawlContext
from crawlers.signals import checkpoint
from pipelines.clusters import INDEX_MEMORY, ClusterResolver
from pipelines.repeats import RepeatResolver, lookup_query
from store import mapping
from store.client import StoreError, StoreUnavailable, ensure_schema, make_client
from store.spool import Spool
from store.writer import LOCATIONS_KEPT, MentionWriter, Pending, WriteResult

log = logging.getLogger(__name__)

# The cluster and repeat lookups remember only the run's last few thousand mentions (pipelines.clusters,
# pipelines.repeats, store.writer: 5,000 each, so memory stays flat in the input's size) and find older ones in the
# store. The store's own refresh (every 5 s) normally makes them searchable long before they are forgotten; so that a
# busy node's late refresh cannot change a cluster id or a repeat mark, this stage refreshes the alias itself once
# `visible_within` mentions were written since it last did: less than what those lookups remember by two batches
# (the one being resolved, and the one whose write may still be in flight; with ingest's look-ahead, the batch
# resolved while the next one's lookups run, and the one whose write may be in flight). At 2,500 a 20,000-line
# ingest made the node refresh 41 times; at 4,000, 29 to 33. (Remembering 10,000 also cut its realtime gets from
# ~11,000 to 3,900, but made the ingest process 1.32x larger from 10,000 to 200,000 lines: bench/RESULTS.md.)
VISIBLE_WITHIN = 4_000  # at most, with batches of 500 or fewer
MEMORY = min(INDEX_MEMORY, RepeatResolver.MEMORY, LOCATIONS_KEPT)


def visible_within(batch_size: int) -> int:
    """Mentions written between two of this stage's refreshes, for batches of `batch_size`: what the lookups
    remember less two batches, and a batch at least (larger batches make the lookups remember more: memory_for)."""
    return max(batch_size, min(VISIBLE_WITHIN, MEMORY - 2 * batch_size))


def memory_for(batch_size: int) -> int:
    """How many mentions the lookups remember for a stage that writes `batch_size` at once: what may be written and
    not yet searchable (visible_within, and two batches); their own 5,000 up to batches of 1,000."""
    return max(MEMORY, visible_within(batch_size) + 2 * batch_size)


@dataclass
class _Commit:
    """The write in flight: its batch (spooled if the write fails) and its outcome."""

    batch: list[Pending]
    from_spool: bool
    future: Future[WriteResult]


class ElasticsearchPipeline:
    # reads nothing of an item but its stored document and origin: analysis workers may hand back only those
    # (core.mention.Analysed, pipelines.parallel)
    READS_DOCUMENT_ONLY = True

    def __init__(
        self,
        cfg: gsconfig.Config,
        stats: Any,
        *,
        crawler: Any = None,
        batch_size: int = 500,
        retries: int = 3,
        backoff: float = 0.5,
        refresh: bool = True,
        es: Elasticsearch | None = None,
        look_ahead: bool = False,
    ):
        self.cfg = cfg
        self.stats = stats
        self.batch_size = batch_size
        self.refresh = refresh
        self.prefix = cfg.elasticsearch.index_prefix
        self.url = cfg.elasticsearch.effective_url
        self.crawler = crawler
        self.owns_client = es is None  # the crawl's context closes a client it lent
        self.es: Elasticsearch = es if es is not None else make_client(cfg.elasticsearch, retries=0)
        memory = memory_for(batch_size)
        self.visible_within = visible_within(batch_size)
        self.writer = MentionWriter(self.es, self.prefix, self.url, retries=retries, backoff=backoff, kept=memory)
        self.clusters = ClusterResolver(self.es, self.prefix, self.writer._call, memory=memory,
                                        window=timedelta(days=cfg.clusters.window_days))
        self.repeats = RepeatResolver(self.es, self.prefix, self.writer._call, memory=memory)
        self.spool = Spool(paths.spool_dir(), self.prefix)
        self.buffer: list[Pending] = []
        # look_ahead (ingest): a full batch is held until the next one is full, whose stored lookups then run while
        # the held one is resolved (ClusterResolver.look_ahead); a crawl writes each batch as soon as it is full
        self.look_ahead = look_ahead
        self.held: list[Pending] = []
        self.result = WriteResult()
        self.spooled = 0
        self.replayed = 0
        self.unavailable: str | None = None  # set once ES failed in this run: spool the rest without waiting
        self.fatal: StoreError | None = None  # set once ES refused us: store nothing more, spool nothing new
        self.not_stored = 0  # mentions neither written nor spooled because of `fatal`
        self.schema_ready = False
        self.unrefreshed = 0  # mentions written since this stage last refreshed the alias
        self.committer: ThreadPoolExecutor | None = None  # one thread: writes one at a time, in order
        # one thread for the batch's repeat lookup, which waits on the node while this one resolves cluster ids
        self.lookups: ThreadPoolExecutor | None = None
        self.inflight: _Commit | None = None
        # a shared crawl's checkpoint calls flush from the reactor thread while the batch thread gives items: one
        # at a time on the buffer and the write in flight (the committer thread takes no lock)
        self.lock = threading.RLock()

    @classmethod
    def from_crawler(cls, crawler: Any) -> ElasticsearchPipeline:
        s = crawler.settings
        context = CrawlContext.of(crawler)
        pipeline = cls(
            context.config,
            crawler.stats,
            crawler=crawler if getattr(type(crawler), "engine", None) is not None else None,  # not ingest's chain
            batch_size=s.getint("GROUNDSWELL_BATCH_SIZE", 500),
            retries=s.getint("GROUNDSWELL_ES_RETRIES", 3),
            backoff=s.getfloat("GROUNDSWELL_ES_BACKOFF", 0.5),
            es=context.es,
            look_ahead=s.getbool("GROUNDSWELL_LOOK_AHEAD", False),
        )
        if context.shared:  # a shared crawl acknowledges a request once its mentions are durable: flush when asked
            crawler.signals.connect(pipeline.flush, signal=checkpoint)
        return pipeline

    # --- Scrapy hooks ----------------------------------------------------------------------------------

    def open_spider(self) -> None:
        with self.lock:
            self._replay_spool()

    def process_item(self, item: Mention | Analysed) -> Mention | Analysed:
        # an analysis worker's Analysed always carries its document; a Mention does when pipelines.document ran
        doc = item.document if isinstance(item, Analysed) or item.document is not None else mapping.to_document(item)
        assert doc is not None
        item.document = None  # written from the buffer; the item goes on without a second copy
        with self.lock:
            self.buffer.append(Pending(doc, item.origin))
            if len(self.buffer) >= self.batch_size:
                self._write_buffer()  # not waiting for the write: the next batch's lookups overlap it
        return item

    def close_spider(self) -> None:
        with self.lock:
            self.flush()
            self.clusters.close()
            if self.committer is not None:
                self.committer.shutdown(wait=True)
                self.committer = None
            if self.lookups is not None:
                self.lookups.shutdown(wait=True)
                self.lookups = None
        if self.refresh and self.unavailable is None and self.fatal is None:
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

    def _write(self, batch: list[Pending], from_spool: bool = False) -> None:
        """Write or, when Elasticsearch is out of reach, spool; never both, never neither (but see `fatal`). The
        write itself goes on in the committer thread once the batch's lookups are done (see `_settle`)."""
        if self.unavailable is None and self.fatal is None:
            where: dict[str, set[str]] | None = None
            try:
                self._ensure_schema()
                where = self._resolve([p.doc for p in batch])
            except StoreUnavailable as exc:
                self._unavailable(exc)
            except StoreError as exc:
                self._refused(exc)
            except Exception as exc:  # a bug a strange batch found: its mentions are kept (spooled), not lost
                self._broken(exc)
            self._settle()  # the previous write: this one starts after it, and only if it went well
            if self.unavailable is None and self.fatal is None:
                if self.committer is None:
                    self.committer = ThreadPoolExecutor(1, thread_name_prefix="groundswell-commit")
                self.inflight = _Commit(batch, from_spool, self.committer.submit(self._commit, batch, where))
                return
        self._not_written(batch, from_spool)

    def _resolve(self, docs: list[dict[str, Any]]) -> dict[str, set[str]] | None:
        """Cluster ids and repeat marks of a batch (clusters.resolve's answer on where its posts are stored). The
        two lookups are independent (repeat marks read no cluster id), so the repeat search waits on the node while
        this thread resolves cluster ids: ~25 ms a batch off the thread every mention waits for."""
        if self.lookups is None:
            self.lookups = ThreadPoolExecutor(1, thread_name_prefix="groundswell-lookup")
        earlier = self.lookups.submit(self.repeats.stored_by, lookup_query(docs))
        try:
            where = self.clusters.resolve(docs)
        finally:
            wait([earlier])  # never two of them at once, whatever resolve raised
        self.repeats.resolve(docs, earlier.result())
        return where

    def _commit(self, batch: list[Pending], where: dict[str, set[str]] | None = None) -> WriteResult:
        """In the committer thread: find stored, merge, bulk; refresh once enough was written since the last time.
        `where`: the batch's stored copies as the cluster resolver's ids search found them (the writer reads them
        there, and what it wrote itself since, instead of searching the same ids again)."""
        res = self.writer.write(batch, where)
        self.unrefreshed += len(batch)
        if self.unrefreshed >= self.visible_within:
            self.writer._call(self.es.indices.refresh, index=mapping.alias(self.prefix),
                              ignore_unavailable=True, allow_no_indices=True)
            self.unrefreshed = 0
        return res

    def _settle(self) -> None:
        """Wait for the write in flight and take its outcome: counted, or its batch spooled (or not stored)."""
        commit, self.inflight = self.inflight, None
        if commit is None:
            return
        try:
            res = commit.future.result()
        except StoreUnavailable as exc:
            self._unavailable(exc)
        except StoreError as exc:
            self._refused(exc)
        except Exception as exc:  # as in _write: kept, not lost
            self._broken(exc)
        else:
            self._count(res)
            return
        self._not_written(commit.batch, commit.from_spool)

    def _unavailable(self, exc: StoreUnavailable) -> None:
        if self.unavailable is None:
            log.error("%s; spooling to %s", exc, self.spool.path)
        self.unavailable = str(exc)

    def _broken(self, exc: Exception) -> None:
        """The stage itself failed on a batch (a bug, not the store): that batch and the rest of the run are spooled
        like in an outage, so that nothing read is lost and the next run (with the bug fixed) stores them."""
        if self.unavailable is None:
            log.error("the Elasticsearch stage failed on a batch (%s: %s); spooling it and the rest of this run to "
                      "%s", type(exc).__name__, exc, self.spool.path, exc_info=exc)
            self.unavailable = f"the Elasticsearch stage failed: {type(exc).__name__}: {exc}"

    def _not_written(self, batch: list[Pending], from_spool: bool) -> None:
        """A batch Elasticsearch did not take: spooled, or (refused for good, and new) counted as not stored."""
        if self.fatal is not None and not from_spool:
            self.not_stored += len(batch)
            self.stats.inc_value("groundswell/not_stored", len(batch))
            return
        self.spool.append([(p.doc, p.origin) for p in batch])
        self.spooled += len(batch)
        self.stats.inc_value("groundswell/spooled", len(batch))

    def _refused(self, exc: StoreError) -> None:
        """Elasticsearch refused us for good: say it once, and stop a crawl (every later item would fail too)."""
        if self.fatal is not None:
            return
        self.fatal = exc
        log.info("%s", exc)  # the command says it once, with its exit status
        self.stats.set_value("groundswell/store_error", str(exc))
        self.stats.set_value("groundswell/store_status", int(exc.status))
        try:
            engine = self.crawler.engine if self.crawler is not None else None
        except RuntimeError:  # Scrapy's crawler before its crawl started: nothing to close
            engine = None
        if engine is not None and getattr(engine, "spider", None) is not None:
            from scrapy.utils.defer import deferred_from_coro
            from twisted.internet import reactor

            # in a crawl this stage runs in the batch thread (pipelines.batching): the engine lives on the reactor
            reactor.callFromThread(
                lambda: deferred_from_coro(engine.close_spider_async(reason="store_refused")))

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
        """Write what is buffered and wait for it: once this returns, every mention given so far is durable (or
        spooled, or counted as not stored)."""
        with self.lock:
            self._write_buffer(last=True)
            self._settle()

    def _write_buffer(self, last: bool = False) -> None:
        """Write what is buffered: with look_ahead, the batch held before it (its lookups were started when it was
        held), this one held in its place with its own started (`last`: both written, nothing held, the buffer's
        lookups started while the held one is resolved)."""
        batch, self.buffer = self.buffer, []
        held, self.held = self.held, []
        if self.look_ahead and batch and (held or not last):
            self._look_ahead(batch, held)
            if not last:
                self.held, batch = batch, []
        for part in (held, batch):
            if part:
                self._write(part)

    def _look_ahead(self, batch: list[Pending], before: list[Pending]) -> None:
        """Start the batch's stored lookups (pipelines.clusters.look_ahead) while `before` is resolved. Best effort:
        when it cannot start (the store out of reach, say), the batch's own lookups ask when it is written."""
        if self.unavailable is not None or self.fatal is not None:
            return
        try:
            self._ensure_schema()  # what it reads must be what the batch's own lookups would read
            self.clusters.look_ahead([p.doc for p in batch], [p.doc for p in before])
        except StoreError as exc:  # StoreUnavailable too: _write meets it again and says so
            log.debug("no look-ahead for a batch: %s", exc)
        except Exception as exc:  # a bug: the batch is still written, by its own lookups (nothing is lost)
            log.warning("the look-ahead failed on a batch (%s: %s); its own lookups will ask", type(exc).__name__,
                        exc, exc_info=exc)

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
                    self._write(batch, from_spool=True)
                    self.replayed += len(batch)
                    batch = []
            if batch:
                self._write(batch, from_spool=True)
                self.replayed += len(batch)
            self._settle()
            path.unlink()  # every line is now written or spooled again into the fresh spool file
        if self.replayed:
            self.stats.inc_value("groundswell/replayed", self.replayed)
