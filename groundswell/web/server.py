"""Serving the console with waitress (a production WSGI server): in the foreground for `groundswell web`, or on a
thread beside the scheduler for `groundswell run` when `web.enabled` is set."""

from __future__ import annotations

import logging
import threading
from typing import Any

from waitress.server import create_server

from core.config import Config
from groundswell.web.app import create_app

log = logging.getLogger(__name__)


class Console:
    """A running console; `url` is where it listens, `stop()` closes it."""

    def __init__(self, cfg: Config[Any], host: str, port: int, es: Any = None) -> None:
        self.app = create_app(cfg, es)
        self.server: Any = create_server(self.app, host=host, port=port, threads=cfg.web.threads,
                                         ident="groundswell", clear_untrusted_proxy_headers=True)
        self.host = host
        self.port = int(self.server.effective_port)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def serve_forever(self) -> None:
        self.server.run()

    def _loop(self) -> None:
        """waitress's own loop, a step at a time, so that stop() ends it in its own thread (closing the sockets
        under a running select would fail there)."""
        from waitress import wasyncore

        while not self._stopping.is_set():
            wasyncore.loop(timeout=0.5, map=self.server._map, use_poll=self.server.adj.asyncore_use_poll, count=1)
        self.server.task_dispatcher.shutdown()
        wasyncore.close_all(self.server._map)

    def start(self) -> Console:
        self._thread = threading.Thread(target=self._loop, name="groundswell-web", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            self.server.task_dispatcher.shutdown()
            self.server.close()
            return
        self._stopping.set()
        self.server.pull_trigger()  # wake the loop now
        self._thread.join(timeout=10)
