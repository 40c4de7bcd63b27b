"""A local SMTP server that keeps what it receives: the demo's mail sink (`groundswell mailsink`) and the tests'.

aiosmtpd on 127.0.0.1 in a background thread. Every message is kept in memory and, given a folder, written there
as `<UTC timestamp>-<n>.eml` (20261124T020500Z-1.eml). Port 0 picks a free port (read it back from `controller.port`).
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from alerts.email.compose import header_text
from core import clock


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    path: Path | None = None
    at: datetime = field(default_factory=clock.now)  # on Groundswell's clock, the simulated one in a demo

    @property
    def message(self) -> EmailMessage:
        return cast(EmailMessage, message_from_bytes(self.data, policy=policy.default))

    @property
    def subject(self) -> str:
        return header_text(self.message.get("Subject", ""))


class SinkHandler:
    """aiosmtpd handler: accepts every message, keeps it, optionally saves it, then calls `on_message`."""

    def __init__(self, directory: Path | None = None, on_message: Callable[[Received], None] | None = None):
        self.directory = directory
        self.on_message = on_message
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def _save(self, data: bytes, at: datetime) -> Path:
        assert self.directory is not None
        stamp = f"{at.astimezone(UTC):%Y%m%dT%H%M%SZ}"  # UTC: names sort in time order whatever the zone
        while True:
            path = self.directory / f"{stamp}-{next(self._counter)}.eml"
            try:
                with open(path, "xb") as f:  # never overwrite a message of an earlier run
                    f.write(data)
                return path
            except FileExistsError:
                continue

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
        with self._lock:
            at = clock.now()
            path = self._save(data, at) if self.directory is not None else None
            received = Received(str(envelope.mail_from or ""), tuple(envelope.rcpt_tos), data, path, at)
            self.messages.append(received)
        if self.on_message is not None:
            self.on_message(received)
        return "250 Message accepted for delivery"


class SinkController(Controller):
    """A Controller that can listen on port 0 and tell which port it got, and that fails at once (not after its
    ready timeout) when it cannot listen."""

    def _run(self, ready_event: threading.Event) -> None:
        try:
            super()._run(ready_event)
        finally:
            ready_event.set()

    def _trigger_server(self) -> None:
        if self._thread_exception is not None:
            raise self._thread_exception
        if self.port == 0 and isinstance(self.server, asyncio.Server):
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def start_sink(
    handler: SinkHandler,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    implicit_tls: ssl.SSLContext | None = None,
    starttls: ssl.SSLContext | None = None,
    require_starttls: bool = False,
    authenticator: Callable[..., Any] | None = None,
    auth_require_tls: bool = True,
) -> SinkController:
    """Start listening; the caller stops it with `.stop()`. Raises OSError when the port is taken."""
    kwargs: dict[str, Any] = {"enable_SMTPUTF8": True}
    if starttls is not None:
        kwargs.update(tls_context=starttls, require_starttls=require_starttls)
    if authenticator is not None:
        # aiosmtpd counts only STARTTLS as TLS for AUTH; an implicit-TLS connection is encrypted all along
        kwargs.update(authenticator=authenticator, auth_require_tls=auth_require_tls and implicit_tls is None)
    controller = SinkController(handler, hostname=host, port=port, ssl_context=implicit_tls, **kwargs)
    controller.start()
    return controller
