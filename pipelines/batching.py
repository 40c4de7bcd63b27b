"""The crawl's one item pipeline: items through the same batched chain as `groundswell ingest`, off the reactor.

Analysing and storing one item at a time on the reactor thread made a crawl wait for its own pipeline (0.049 of a
bare fetch loop): while an item was scored nothing was fetched. Here `process_item` only buffers the item and
waits for its batch; a batch goes when it holds `GROUNDSWELL_CRAWL_BATCH` items or its first item waited
`GROUNDSWELL_CRAWL_BATCH_WAIT` seconds, and at close. The batch runs in one thread of its own (batches in order:
the brand stage's memory and the writer see items as they came) through `pipelines.parallel.BatchPipeline` over
the stages of `GROUNDSWELL_STAGES`, built exactly as ingest builds them; with `GROUNDSWELL_CRAWL_WORKERS` > 0
their analysis runs in forked worker processes. Each item's wait ends on the reactor with the item, or
with the DropItem that stopped it, so Scrapy's stats, signals and logs see what they saw before.
"""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import DropItem
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer, threads
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from core.mention import Mention
from pipelines.chain import build_stages
from pipelines.parallel import BatchPipeline, Outcome


def _reactor() -> Any:
    """The running crawl's reactor, imported when used: importing it installs the default one, which a module import
    must not do (Scrapy installs the one its settings name; the fork server forks children before any exists)."""
    from twisted.internet import reactor

    return reactor


class BatchingPipeline:
    def __init__(self, crawler: Any, stages: list[Any], *, size: int = 100, wait: float = 1.0, workers: int = 0):
        self.crawler = crawler
        self.stages = stages
        self.size = size
        self.wait = wait
        self.workers = workers
        self.buffer: list[tuple[Mention, defer.Deferred[Any]]] = []
        self.timer: Any = None
        self.thread = ThreadPool(1, 1, name="groundswell-batches")  # one thread: batches stay in order
        self.flow: BatchPipeline | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> BatchingPipeline:
        s = crawler.settings
        return cls(crawler, build_stages(crawler), size=s.getint("GROUNDSWELL_CRAWL_BATCH", 100),
                   wait=s.getfloat("GROUNDSWELL_CRAWL_BATCH_WAIT", 1.0),
                   workers=s.getint("GROUNDSWELL_CRAWL_WORKERS", 0))

    def stage(self, cls: type) -> Any:
        return next(s for s in self.stages if isinstance(s, cls))

    def _call(self, fn: Any, *args: Any) -> defer.Deferred[Any]:
        return threads.deferToThreadPool(_reactor(), self.thread, fn, *args)

    async def open_spider(self, spider: Any = None) -> None:
        self.thread.start()
        await maybe_deferred_to_future(self._call(self._open))

    def _open(self) -> None:
        for s in self.stages:  # the store's spool replay: before any new item, off the reactor
            if hasattr(s, "open_spider"):
                s.open_spider()
        self.flow = BatchPipeline(self.stages, self.crawler.stats, workers=self.workers)

    async def process_item(self, item: Mention, spider: Any = None) -> Any:
        """The item once its batch went through the chain; raises the DropItem that stopped it."""
        d: defer.Deferred[Any] = defer.Deferred()
        self.buffer.append((item, d))
        if len(self.buffer) >= self.size:
            self._flush()
        elif self.timer is None:
            self.timer = _reactor().callLater(self.wait, self._flush)
        return await maybe_deferred_to_future(d)

    def _flush(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        waiting = [d for _, d in batch]

        def done(outcomes: list[Outcome]) -> None:  # in the writer thread: hand the answers to the reactor
            _reactor().callFromThread(_fire, waiting, outcomes)

        def failed(failure: Failure) -> None:  # a bug, not an item's fault: every item of the batch fails with it
            for d in waiting:
                if not d.called:
                    d.errback(failure)

        assert self.flow is not None
        self._call(self.flow.submit, [i for i, _ in batch], done).addErrback(failed)

    async def close_spider(self, spider: Any = None) -> None:
        self._flush()
        d = self._call(self._close)
        d.addBoth(self._stop_thread)
        await maybe_deferred_to_future(d)

    def _close(self) -> None:
        try:
            if self.flow is not None:
                self.flow.close()
        finally:
            for s in reversed(self.stages):
                if hasattr(s, "close_spider"):
                    s.close_spider()

    def _stop_thread(self, result: Any) -> Any:
        self.thread.stop()
        return result


def _fire(waiting: list[defer.Deferred[Any]], outcomes: list[Outcome]) -> None:
    for d, outcome in zip(waiting, outcomes, strict=True):
        if isinstance(outcome, DropItem):
            d.errback(Failure(outcome))
        else:
            d.callback(outcome)
