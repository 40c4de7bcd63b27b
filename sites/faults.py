"""Fault switches: every misbehaviour a real platform shows, off by default so tests stay deterministic."""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

_TRUE = {"1", "true", "yes", "on"}


@dataclass
class Faults:
    """What to break. `*_every` = every Nth platform request (0 = never); `*_fraction` = seeded probability."""

    rate_limit_every: int = 0
    rate_limit_fraction: float = 0.0
    retry_after: int = 30  # seconds, sent in Retry-After with every 429
    error_every: int = 0
    error_fraction: float = 0.0
    error_status: int = 503
    slow_seconds: float = 0.0  # delay before every platform response (a "timeout" for short client timeouts)
    login_wall: bool = False  # weibo answers as if the session cookie had expired
    require_cookie: bool = False  # weibo demands a `SUB=` cookie
    expired_cookie: str = ""  # weibo treats a session whose SUB= value is this one as expired
    login_style: str = "json"  # "json": {"ok":-100,...}; "redirect": 302 to /login
    malformed: bool = False  # page `malformed_page` of a search returns truncated JSON
    malformed_page: int = 3
    malformed_keyword: str | None = None  # None: any keyword
    layout_changed: bool = False  # the review site renders with new class names
    drop_field: str = ""  # every weibo search post loses this field (text, created_at, ...): a changed response
    xhs_captcha: bool = False  # xiaohongshu's API answers 461 (captcha): risk control
    wbi_key_epoch: int = 0  # bilibili's WBI keys of the day: change it and signatures with the old keys are refused

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply partial changes, coercing strings (from query strings or CLI) to each field's type."""
        known = {f.name: f for f in fields(self)}
        for name, raw in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(known)}")
            default = getattr(Faults(), name)
            try:
                setattr(self, name, _coerce(default, name, raw))
            except (TypeError, ValueError):
                kind = type(default).__name__ if default is not None else "str"
                raise ValueError(f"fault {name}: expected {'a number' if kind in ('int', 'float') else kind} "
                                 f"(got {raw!r})") from None
        if self.login_style not in ("json", "redirect"):
            raise ValueError("login_style must be 'json' or 'redirect'")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(default: Any, name: str, raw: Any) -> Any:
    if name == "malformed_keyword":
        return None if raw in (None, "") else str(raw)
    if isinstance(default, bool):
        return raw if isinstance(raw, bool) else str(raw).strip().lower() in _TRUE
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return str(raw)


class FaultDice:
    """Counts platform requests and decides 429 / 5xx; seeded so a given run always fails the same requests."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.count = 0
            self._rng = random.Random(f"faults:{self._seed}")

    def roll(self, faults: Faults) -> str | None:
        """"rate_limit", "error" or None for the next request."""
        with self._lock:
            self.count += 1
            n = self.count
            r_limit, r_error = self._rng.random(), self._rng.random()
        if (faults.rate_limit_every and n % faults.rate_limit_every == 0) or r_limit < faults.rate_limit_fraction:
            return "rate_limit"
        if (faults.error_every and n % faults.error_every == 0) or r_error < faults.error_fraction:
            return "error"
        return None
