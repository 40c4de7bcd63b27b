"""What every command shares: the options every command takes (`--config`, `-v`, before or after the command's
name), loading the configuration once, and failing with a clear message."""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any, TypeVar

import click

from core import clock, display, redact, times
from core.exits import STORE_STATUSES, ExitStatus
from groundswell import config as gsconfig

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=click.Command)
_TERMINAL_UNSAFE = re.compile("[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


CONFIG_HELP = ("YAML configuration file (default: $GROUNDSWELL_CONFIG, else ./groundswell.yaml if present, else "
               "built-in defaults); before or after the command's name.")
VERBOSE_HELP = "More log output (-vv for debug); before or after the command's name."


def handler_level(verbose: int) -> int:
    """What the log shows: warnings by default; -v info, -vv debug."""
    return logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG


def configure_logging(verbose: int) -> None:
    """Warnings only by default; -v info, -vv debug. Every handler scrubs secrets, whoever logs."""
    level = handler_level(verbose)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.root.handlers:  # Scrapy resets the root level; the handler keeps ours
        handler.setLevel(level)
        if not any(isinstance(f, redact.ScrubFilter) for f in handler.filters):
            handler.addFilter(redact.ScrubFilter())  # no secret reaches a log line, whoever logs it
    for noisy in ("elasticsearch", "scrapy"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING) if verbose < 2 else logging.DEBUG)
    # the client's transport logs each retry with a traceback; the command says what failed in one line instead
    for transport in ("elastic_transport", "urllib3"):
        logging.getLogger(transport).setLevel(logging.ERROR if verbose == 0 else logging.DEBUG if verbose > 1
                                              else logging.WARNING)


def after_scrapy_logging(verbose: int) -> None:
    """Call after creating a CrawlerProcess: Scrapy's logging setup puts its loggers at DEBUG, so every scraped item
    built a log record (~20 µs) that our handler then threw away. Its loggers go to the handler's level instead:
    the same lines are shown, and a record is built only when it can be."""
    logging.getLogger("scrapy").setLevel(handler_level(verbose))


def config_path(ctx: click.Context) -> str | None:
    """The --config given before or after the command (or $GROUNDSWELL_CONFIG), or None."""
    value = ctx.find_root().params.get("config_path")
    return str(value) if value else None


def verbosity(ctx: click.Context) -> int:
    """How many -v were given, before and after the command."""
    return int(ctx.find_root().params.get("verbose") or 0)


def _late_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None and not ctx.resilient_parsing:
        root = ctx.find_root()
        root.params["config_path"] = value  # after the command's name wins over before it and over the environment
        root.meta.pop("groundswell.config", None)


def _late_verbose(ctx: click.Context, param: click.Parameter, value: int) -> None:
    if value and not ctx.resilient_parsing:
        root = ctx.find_root()
        root.params["verbose"] = int(root.params.get("verbose") or 0) + value
        configure_logging(root.params["verbose"])


def shared_options(command: click.Command) -> click.Command:
    """Give a command (and, for a group, each of its commands) the options of `groundswell` itself, so that
    `groundswell status --config x -v` works as `groundswell --config x -v status` does."""
    names = {opt for p in command.params for opt in getattr(p, "opts", ())}
    if "--config" not in names:
        command.params.append(click.Option(
            ["--config", "late_config_path"], type=click.Path(dir_okay=False), expose_value=False,
            callback=_late_config, help=CONFIG_HELP))
    if "--verbose" not in names:
        command.params.append(click.Option(
            ["-v", "--verbose", "late_verbose"], count=True, expose_value=False, callback=_late_verbose,
            help=VERBOSE_HELP))
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            shared_options(sub)
    return command


def exit_statuses(*, store: bool = False, **said: str) -> Callable[[C], C]:
    """Declare the exit statuses a command ends with (by ExitStatus name, each with what it means for this command,
    or "" for the general words); --help lists them, and the README's table is checked against them.

    OK and USAGE (click's own usage errors) are implied; `store=True` adds 3 to 7, every failure to talk to
    Elasticsearch."""
    wanted = {ExitStatus.OK: "", ExitStatus.USAGE: ""}
    wanted.update({ExitStatus[name]: text for name, text in said.items()})
    if store:
        for status in STORE_STATUSES:
            wanted.setdefault(status, "")

    def apply(command: C) -> C:
        statuses = dict(sorted(wanted.items()))
        command.exit_statuses = tuple(statuses)  # type: ignore[attr-defined]
        listed = "\n".join(f"  {int(s)}  {text or s.short}" for s, text in statuses.items())
        command.help = f"{inspect.cleandoc(command.help or '')}\n\n\b\nExit status:\n{listed}"
        return command

    return apply


TIME_FORMS = ("an ISO time (2026-11-24T10:00+08:00, 2026-11-24; without an offset in the configured timezone), "
              "'now', or a span back from now (30m, 24h, 7d, 2w)")


def parse_when(value: str, option: str, zone: tzinfo | None) -> datetime:
    """A time a person typed, read the same way by every command (--since, --until, --at, --from, --to,
    --start): ISO 8601 (no offset: the configured `timezone:`), `now`, or a span back from now (24h, 7d), on
    Groundswell's clock; a usage error in one line otherwise, or outside the years mentions can be in."""
    from store.search import QueryError
    from store.search import parse_time as parse_search_time

    now = clock.now()
    if value.strip().lower() == "now":
        return now
    try:
        parsed = parse_search_time(value, option, now, zone)
    except QueryError as exc:
        said = f"{option}: expected {TIME_FORMS} (got {value!r})" if "expected" in str(exc) else str(exc)
        fail(said, code=ExitStatus.USAGE)
    if not times.in_range(parsed):
        fail(f"{option}: {value!r} is outside the years {times.RANGE_TEXT}, where mentions can be",
             code=ExitStatus.USAGE)
    return parsed


def check_clock() -> None:
    """A GROUNDSWELL_CLOCK that does not parse is a usage error in one line, wherever it would be read."""
    try:
        clock.current()
    except clock.ClockError as exc:
        fail(f"{exc}; unset it for the real time", code=ExitStatus.USAGE)


def load_config(ctx: click.Context) -> gsconfig.Config:
    """The configuration named by --config / GROUNDSWELL_CONFIG, or defaults; exit 2 with the reason if bad (and
    with a bad GROUNDSWELL_CLOCK, which every command that loads the configuration may read)."""
    root = ctx.find_root()
    cached = root.meta.get("groundswell.config")
    if cached is None:
        check_clock()
        try:
            cached = gsconfig.load(config_path(ctx))
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
