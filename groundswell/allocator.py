"""How this process asks glibc for memory, set once at start so that peak memory follows the work, not its length.

A long ingest or crawl frees and allocates multi-megabyte buffers all the time (bulk bodies, search answers, the
batches between threads). glibc's default raises its mmap threshold to the largest block freed so far (up to
32 MB), after which such buffers come from the heap and fragment it, and each thread that allocates gets an arena
of its own: ingest's main RSS grew 1.25x from 10,000 to 200,000 lines although everything it keeps is bounded
(bench/RESULTS.md). A fixed threshold (buffers of 128 KB and more are mapped, and unmapped when freed) and two
arenas made it 1.11x. The same as MALLOC_MMAP_THRESHOLD_=131072 MALLOC_ARENA_MAX=2 in the environment, which
take precedence when set. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024
ARENA_MAX = 2


def tune() -> bool:
    """Set the fixed mmap threshold and the arena cap unless the environment sets them; True when applied."""
    try:  # the symbols this process already has (libc's among them): no library search at every start
        mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    except OSError:
        return False
    if mallopt is None:
        return False
    done = True
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        done = bool(mallopt(ctypes.c_int(_M_MMAP_THRESHOLD), ctypes.c_int(MMAP_THRESHOLD))) and done
    if "MALLOC_ARENA_MAX" not in os.environ:
        done = bool(mallopt(ctypes.c_int(_M_ARENA_MAX), ctypes.c_int(ARENA_MAX))) and done
    if not done:
        log.debug("mallopt refused a setting; the allocator keeps its defaults")
    return done
