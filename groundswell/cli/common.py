"""What every command shares: loading the configuration once and failing with a clear message."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from core.exits import ExitStatus
from groundswell import config as gsconfig

F = TypeVar("F", bound=Callable[..., Any])


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
    click.echo(f"groundswell: {message}", err=True)
    sys.exit(code)


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


def handles_store_errors(fn: F) -> F:
    """Turn an unreachable or refusing Elasticsearch into one clear line and exit code 3."""
    from elasticsearch import ApiError, TransportError

    from store.client import StoreUnavailable, describe_error

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StoreUnavailable as exc:
            fail(str(exc), code=ExitStatus.STORE_UNAVAILABLE)
        except (ApiError, TransportError) as exc:
            ctx = click.get_current_context()
            url = load_config(ctx).elasticsearch.effective_url
            fail(describe_error(url, exc), code=ExitStatus.STORE_UNAVAILABLE)

    return wrapper  # type: ignore[return-value]
