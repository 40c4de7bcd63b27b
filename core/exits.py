"""Exit statuses every command uses, and that the scheduler reads back from its crawl children.

One enum so that a code's meaning is written once: the CLI exits with these, the scheduler decodes a child's
status with them, and the README's table lists them. A store failure that no retry can fix (a wrong password, a
missing privilege, a certificate, a URL that is not Elasticsearch) has its own code, apart from an outage (3),
because only an outage is retried and spooled.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0  # everything was done
    PARTIAL = 1  # done, but part of it failed: lines rejected, a crawl that did not finish, a lookup found nothing
    USAGE = 2  # bad configuration, options, arguments or query: nothing was done
    STORE_UNAVAILABLE = 3  # Elasticsearch did not answer: what could be kept was spooled for the next run
    STORE_AUTH = 4  # Elasticsearch refused the credentials (HTTP 401)
    STORE_FORBIDDEN = 5  # the credentials lack a privilege the command needs (HTTP 403)
    STORE_TLS = 6  # the TLS handshake failed: an untrusted or wrong certificate, or TLS against plain HTTP
    NOT_ELASTICSEARCH = 7  # the URL answers, but not as Elasticsearch

    @property
    def meaning(self) -> str:
        """What the code means for every command (the README's exit-status table)."""
        return _MEANINGS[self]

    @property
    def short(self) -> str:
        """The few words a command's --help says for this code unless it says more."""
        return _SHORT[self]


_MEANINGS = {
    ExitStatus.OK: "everything was done",
    ExitStatus.PARTIAL: "done, but part of it failed: rejected lines, a crawl that stopped early, failed shards "
    "(partial results), a failed job in `run --once`, an alert rule or email that failed, an empty `kibana check` "
    "panel, an unknown incident, a node that could not be started",
    ExitStatus.USAGE: "bad configuration, options, arguments or query (a query that does not parse, a time outside "
    "the calendar, a port out of range or taken, a bad GROUNDSWELL_CLOCK); nothing was done",
    ExitStatus.STORE_UNAVAILABLE: "Elasticsearch did not answer; `ingest` and `crawl` spooled what they read for the "
    "next run",
    ExitStatus.STORE_AUTH: "Elasticsearch refused the credentials (401); nothing was spooled",
    ExitStatus.STORE_FORBIDDEN: "the credentials lack a privilege (403); the message names it; nothing was spooled",
    ExitStatus.STORE_TLS: "TLS failed: an untrusted or mismatched certificate, or `https://` to a plain-HTTP port",
    ExitStatus.NOT_ELASTICSEARCH: "the URL answers, but not as Elasticsearch (a web page, a proxy); the page is not "
    "printed",
}

_SHORT = {
    ExitStatus.OK: "done",
    ExitStatus.PARTIAL: "done, but part of it failed",
    ExitStatus.USAGE: "bad configuration, options or arguments; nothing was done",
    ExitStatus.STORE_UNAVAILABLE: "Elasticsearch did not answer",
    ExitStatus.STORE_AUTH: "Elasticsearch refused the credentials",
    ExitStatus.STORE_FORBIDDEN: "a privilege is missing (named in the message)",
    ExitStatus.STORE_TLS: "TLS failed",
    ExitStatus.NOT_ELASTICSEARCH: "the URL is not Elasticsearch",
}

# the codes every command that talks to Elasticsearch may end with
STORE_STATUSES = (ExitStatus.STORE_UNAVAILABLE, ExitStatus.STORE_AUTH, ExitStatus.STORE_FORBIDDEN,
                  ExitStatus.STORE_TLS, ExitStatus.NOT_ELASTICSEARCH)
