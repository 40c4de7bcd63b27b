"""Where Groundswell keeps things outside the repository, so a user can find them.

Root (as on servers and CI) uses /var/lib and /var/cache, which the unprivileged user that runs the local
Elasticsearch node can read; other users use their XDG folders. GROUNDSWELL_HOME / GROUNDSWELL_CACHE override.
"""

from __future__ import annotations

import os
from pathlib import Path


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def home() -> Path:
    """State: the local node's data and logs, the ingest spool."""
    if os.environ.get("GROUNDSWELL_HOME"):
        return Path(os.environ["GROUNDSWELL_HOME"]).expanduser()
    if _is_root():
        return Path("/var/lib/groundswell")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "groundswell"


def cache() -> Path:
    """Downloads that can be fetched again: the Elasticsearch distribution."""
    if os.environ.get("GROUNDSWELL_CACHE"):
        return Path(os.environ["GROUNDSWELL_CACHE"]).expanduser()
    if _is_root():
        return Path("/var/cache/groundswell")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "groundswell"


def spool_dir() -> Path:
    return home() / "spool"
