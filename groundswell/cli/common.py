"""What every command shares: loading the configuration once and failing with a clear message."""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from core import display, redact
from core.exits import ExitStatus
from groundswell import config as gsconfig

F = TypeVar("F", bound=Callable[..., Any])
_TERMINAL_UNSAFE = re.compile("[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def load_config(ctx: click.Context) -> gsconfig.Config:
    """The configuration named by --config / GROUNDSWELL_CONFIG, or defaults; exit 2 with the reason if bad."""
    root = ctx.find_root()
    cached = root.meta.get("groundswell.config")
    if cached is None:
        try:
            cached = gsconfig.load(root.params.get("config_path"))
        except gsconfig.ConfigError as exc:
            fail(f"configuration error:\n{exc}", code=ExitStatus.USAGE)
        root.meta["groundswell.config"] = cached
    assert isinstance(cached, gsconfig.Config)
    return cached


def fail(message: str, code: ExitStatus = ExitStatus.PARTIAL) -> Any:
    """One line (or a few) on stderr, secrets masked, and the exit status."""
    click.echo(f"groundswell: {display.lines(redact.scrub(message))}", err=True)
    sys.exit(code)


def emit_json(obj: Any) -> None:
    """One JSON line. Characters that could drive a terminal (C1 controls, bidi overrides, line separators) are
    written as \\u escapes: the data is unchanged for a program, and harmless on a screen."""
    text = json.dumps(obj, ensure_ascii=False, default=str)
    click.echo(_TERMINAL_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def handles_store_errors(fn: F) -> F:
    """Turn a failure to talk to Elasticsearch into one clear line and its own exit status: 3 unreachable, 4
    credentials refused, 5 a privilege missing, 6 TLS, 7 not Elasticsearch (core.exits)."""
    from elasticsearch import ApiError, TransportError

    from store.client import StoreError, store_error

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StoreError as exc:
            fail(str(exc), code=exc.status)
        except (ApiError, TransportError) as exc:
            ctx = click.get_current_context()
            err = store_error(load_config(ctx).elasticsearch.effective_url, exc)
            fail(str(err), code=err.status)

    return wrapper  # type: ignore[return-value]
