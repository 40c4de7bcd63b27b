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

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def serve_forever(self) -> None:
        self.server.run()

    def start(self) -> Console:
        self._thread = threading.Thread(target=self.server.run, name="groundswell-web", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
