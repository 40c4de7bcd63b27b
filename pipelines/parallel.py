"""Both cores for a batched chain: analysis in warm worker processes, writes overlapping it, memory bounded.

A batch goes through three parts of the same stages `pipelines.chain.run_stages` runs in one process:

- head, here, in input order: the stages up to the last one that keeps state across items (the brand stage
  remembers matched posts for their reposts), so that state sees every item in order, as in one process;
- body, in a worker process: the trailing run of stages marked `PARALLEL_SAFE` (pure per item: fingerprints,
  sentiment, complaint tags). The workers are forked from this process after the chain is built, so the models
  are loaded once and shared copy-on-write (the sentiment weights are memory-mapped besides);
- tail, in one writer thread, in input order: the rest (the Elasticsearch stage: cluster ids, repeat marks,
  history merges, bulk writes), overlapping the analysis of the batches behind it.

At most `depth` batches are between head and tail (`depth_for`: about 1,000 mentions per worker, at least two
batches): `submit` blocks when they are (back-pressure), so memory is
bounded whatever the input's size. With `workers=0` every batch goes head, body, tail inline, in the caller's
thread: the reference path, and the same code. A worker that dies (killed, out of memory) costs nothing: its
batch and every later one run their body in this process instead, with one warning.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from core.mention import Analysed, Mention
from pipelines.chain import Outcome, run_stages

log = logging.getLogger(__name__)

Done = Callable[[list[Outcome]], None]

_BODY: list[Any] = []  # the body stages, set in this process before forking: the workers inherit them
_STATS: Any = None


def split(stages: list[Any]) -> tuple[list[Any], list[Any], list[Any]]:
    """(head, body, tail): body is the longest run of PARALLEL_SAFE stages right before the tail, the tail the
    stages after the last parallel-safe one (the sink)."""
    safe = [bool(getattr(s, "PARALLEL_SAFE", False)) for s in stages]
    end = max((i + 1 for i, ok in enumerate(safe) if ok), default=0)
    start = end
    while start > 0 and safe[start - 1]:
        start -= 1
    return stages[:start], stages[start:end], stages[end:]


def _stats_delta(stats: Any) -> dict[str, Any]:
    """What the stages counted in this worker since the last call (and forget it)."""
    if stats is None or not hasattr(stats, "get_stats"):
        return {}
    delta = dict(stats.get_stats())
    stats.set_stats({})
    return delta


def _work(items: list[Outcome], whole: bool = True) -> tuple[list[Outcome], dict[str, Any]]:
    """In a worker: the body stages over one batch, and the counts they made. Unless `whole`, an item with its
    stored document comes back as that document and its origin (core.mention.Analysed), all the tail reads."""
    out = run_stages(_BODY, items)
    if not whole:
        out = [Analysed(o.document, o.origin) if isinstance(o, Mention) and o.document is not None else o
               for o in out]
    return out, _stats_delta(_STATS)


def _init() -> None:
    """In a fresh worker: forget the counts it inherited (they are the parent's, counted there already)."""
    _stats_delta(_STATS)


def _ready(_: int) -> int:
    return multiprocessing.current_process().pid or 0


def _merge_stats(stats: Any, delta: dict[str, Any]) -> None:
    for key, value in delta.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            stats.inc_value(key, value)
        else:
            stats.set_value(key, value)


IN_FLIGHT_PER_WORKER = 1_000  # mentions between head and tail per worker: both workers kept busy, memory bounded


def depth_for(workers: int, batch_size: int) -> int:
    """Batches between head and tail: IN_FLIGHT_PER_WORKER mentions per worker, at least two batches (one being
    written, one analysed). Counted in mentions, not batches, so a larger batch does not hold more in memory: at
    1,000 a batch, four batches held 25 MB more than two in the ingest process, for the same rate (bench/RESULTS.md)."""
    return max(2, -(-workers * IN_FLIGHT_PER_WORKER // max(1, batch_size)))


@dataclass
class _Flight:
    results: list[Outcome]
    future: Future[tuple[list[Outcome], dict[str, Any]]] | None
    done: Done


_STOP = object()


class BatchPipeline:
    """Feeds batches through the chain's stages: head here, body in `workers` processes, tail in a writer thread."""

    def __init__(
        self, stages: list[Any], stats: Any, *, workers: int = 0, depth: int | None = None, batch_size: int = 500,
        whole: bool = True,
    ):
        self.head, self.body, self.tail = split(stages)
        # whether `done` reads the analysed items themselves (a crawl hands them on to Scrapy); if not (ingest reads
        # only whether each was stored, dropped or refused) and every tail stage reads only an item's document and
        # origin (READS_DOCUMENT_ONLY: the Elasticsearch stage), workers hand back those (core.mention.Analysed)
        # instead of the whole item
        self.whole = whole or not all(getattr(s, "READS_DOCUMENT_ONLY", False) for s in self.tail)
        self.stats = stats
        self.workers = workers if self.body else 0
        # batch_size: the batches `submit` gets (ingest's --batch-size); a crawl's batches of 100 leave it at 500,
        # so a crawl keeps two batches a worker, as before depth_for
        self.depth = depth or depth_for(self.workers, batch_size)
        self.pool: ProcessPoolExecutor | None = None
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=self.depth)
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        if self.workers > 0:
            self._start()

    def _start(self) -> None:
        global _BODY, _STATS
        _BODY, _STATS = self.body, self.stats
        for stage in self.body:  # models loaded before the fork: once, shared by every worker
            if hasattr(stage, "warm"):
                stage.warm()
        if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover - not on Linux
            self.workers = 0
            return
        self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"), initializer=_init)
        # fork every worker now, before the writer thread exists (a fork copies locks other threads hold)
        list(self.pool.map(_ready, range(self.workers)))
        self.thread = threading.Thread(target=self._drain, name="groundswell-writer", daemon=True)
        self.thread.start()

    # --- the caller's side ------------------------------------------------------------------------------

    def submit(self, items: list[Mention], done: Done) -> None:
        """Process a batch; `done` gets its outcomes, in input order, once its tail ran (in the writer thread)."""
        self._raise()
        results = run_stages(self.head, list(items))
        if self.thread is None:  # one process (or no fork here): the reference path
            done(run_stages(self.tail, run_stages(self.body, results)))
            return
        future = self._send(results)
        while True:  # blocks while `depth` batches are in flight, but notices a writer that failed meanwhile
            try:
                self.queue.put(_Flight(results, future, done), timeout=0.5)
                return
            except queue.Full:
                self._raise()

    def _send(self, results: list[Outcome]) -> Future[tuple[list[Outcome], dict[str, Any]]] | None:
        if self.pool is None:
            return None
        try:
            return self.pool.submit(_work, results, self.whole)
        except (BrokenProcessPool, RuntimeError) as exc:
            self._broken(exc)
            return None

    def close(self) -> None:
        """Wait for every submitted batch to be written, then stop the workers and the writer thread."""
        if self.thread is not None:
            while self.thread.is_alive():
                try:
                    self.queue.put(_STOP, timeout=0.5)
                    break
                except queue.Full:
                    continue
            self.thread.join()
            self.thread = None
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    # --- the writer thread --------------------------------------------------------------------------------

    def _drain(self) -> None:
        while True:
            flight = self.queue.get()
            if flight is _STOP:
                return
            if self.error is not None:
                continue  # the caller sees the error at its next submit or close; skip to the stop
            try:
                flight.done(run_stages(self.tail, self._body_of(flight)))
            except BaseException as exc:  # handed to the caller's thread, raised there
                self.error = exc

    def _body_of(self, flight: _Flight) -> list[Outcome]:
        if flight.future is not None:
            try:
                out, delta = flight.future.result()
            except BrokenProcessPool as exc:
                self._broken(exc)
            else:
                _merge_stats(self.stats, delta)
                return out
        return run_stages(self.body, flight.results)

    def _broken(self, exc: BaseException) -> None:
        if self.pool is not None:
            log.warning("an analysis worker died (%s); analysing the rest in this process", exc or type(exc).__name__)
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None

    def __enter__(self) -> BatchPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
