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
        return _MEANINGS[self]


_MEANINGS = {
    ExitStatus.OK: "everything was done",
    ExitStatus.PARTIAL: "done, but part of it failed (rejected input, an unfinished crawl, failed shards, nothing "
    "found)",
    ExitStatus.USAGE: "bad configuration, options, arguments or query; nothing was done",
    ExitStatus.STORE_UNAVAILABLE: "Elasticsearch did not answer; mentions were spooled for the next run",
    ExitStatus.STORE_AUTH: "Elasticsearch refused the credentials (401); nothing was spooled",
    ExitStatus.STORE_FORBIDDEN: "the credentials lack a privilege (403, named in the message); nothing was spooled",
    ExitStatus.STORE_TLS: "TLS failed: the certificate is not trusted or does not match; nothing was spooled",
    ExitStatus.NOT_ELASTICSEARCH: "the URL answers, but it is not Elasticsearch; nothing was spooled",
}
