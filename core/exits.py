"""Exit statuses every command uses, and that the scheduler reads back from its crawl children.

One enum so that a code's meaning is written once: the CLI exits with these, the scheduler decodes a child's
status with them, and the README's table lists them."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0  # everything was done
    PARTIAL = 1  # done, but part of it failed: lines rejected, a crawl that did not finish, a lookup found nothing
    USAGE = 2  # bad configuration, options, arguments or query: nothing was done
    STORE_UNAVAILABLE = 3  # Elasticsearch did not answer: what could be kept was spooled for the next run

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    ExitStatus.OK: "everything was done",
    ExitStatus.PARTIAL: "done, but part of it failed (rejected input, an unfinished crawl, nothing found)",
    ExitStatus.USAGE: "bad configuration, options, arguments or query; nothing was done",
    ExitStatus.STORE_UNAVAILABLE: "Elasticsearch did not answer; mentions were spooled for the next run",
}
