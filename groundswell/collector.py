"""How often this process's cyclic garbage collector runs, set once at start.

Ingest and crawls allocate several container objects per mention (its fields, its document, the batches between
stages) and keep a few thousand of them alive at a time (a batch, the run's bounded memories). With CPython's
default thresholds (700, 10, 10) the young generation is collected every 700 net allocations, so a batch's objects
survive into the older generations, and the full collections that follow scan everything alive: a 20,000-line
`groundswell ingest` spent 3.4 of its 18.5 s in the collector (21 full collections of ~135 ms each). Collecting the
young generation every 10,000 allocations instead made it 0.7 to 1.0 s, and the run 13% faster in CPU
(bench/RESULTS.md).
Reference counting still frees everything without cycles at once; cycles (an exception's traceback, Twisted's
deferreds) wait a little longer. Forked processes (analysis workers, crawl children) inherit the setting.

At exit the interpreter collects every generation once more, over all the run still holds (its bounded memories: the
near-duplicate index, founders, locations): 0.24 to 0.31 s of a 20,000-line ingest's ~10.5. Those objects go with
the process; frozen first (gc.freeze, the last exit hook) that collection skips them: 0.04 s. Objects in reference
cycles are then not finalized at exit, which the interpreter never promised either: what must be durable is closed
before (the store's writes and the spool by the stages' close, log files by logging's own exit hook)."""

from __future__ import annotations

import atexit
import gc

THRESHOLDS = (10_000, 10, 10)  # young, middle, old: see the module's docstring
# `groundswell ingest`, whose items are plain data (strings, lists, dicts: no reference cycles of their own), collects
# its young generation every 100,000 allocations: at 10,000 the ingest process of a 20,000-line ingest still spent ~1
# s of its ~6 CPU s in the collector (61 young collections, 0.6 to 0.75 s; 25 middle ones, 0.3 s; 2 full ones, 0.14
# s), at 100,000 ~0.05 s after start-up; each analysis worker ~0.15 -> ~0.05 s. Peak memory did not move (the cycles
# that wait longer are few). A crawl keeps THRESHOLDS: Twisted's deferreds and failures make cycles that can hold
# whole responses until collected.
INGEST_THRESHOLDS = (100_000, 10, 10)


def tune(thresholds: tuple[int, int, int] = THRESHOLDS) -> tuple[int, int, int]:
    """Apply `thresholds`, and freeze what is alive when the process exits; returns the thresholds in force before."""
    before = gc.get_threshold()
    gc.set_threshold(*thresholds)
    atexit.unregister(gc.freeze)  # once, however often this is called
    atexit.register(gc.freeze)  # the last collection, at exit, then skips what the run still holds (the module)
    return (before[0], before[1], before[2])
