"""`groundswell sites`: run the simulated sources in the foreground, so spiders and `make demo` have something to
crawl on machines that reach no website."""

from __future__ import annotations

import signal
import sys
import threading
from dataclasses import fields
from types import FrameType
from typing import Any

import click
from click.core import ParameterSource

from core import clock
from core.exits import ExitStatus
from core.timefmt import people_time
from core.times import iso
from groundswell.cli.common import check_clock, emit_json, exit_statuses, fail, load_config, parse_when
from sites.faults import Faults
from sites.server import Simulator

FAULT_NAMES = ", ".join(f.name for f in fields(Faults))
_warned: set[str] = set()


def _deprecated(old: str, new: str) -> None:
    """An old spelling still works (scripts use it) and says once what it is now."""
    if old not in _warned:
        _warned.add(old)
        click.echo(f"groundswell sites: {old} is deprecated; use {new}", err=True)


@exit_statuses(OK="stopped by Ctrl-C or SIGTERM",
               USAGE="bad options: the port out of range or taken, an unknown fault, a bad GROUNDSWELL_CLOCK")
@click.command("sites")
@click.option("--port", type=click.IntRange(0, 65535), default=8800, show_default=True,
              help="Port on 127.0.0.1 (0 = any free port).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated posts.")
@click.option("--start", metavar="TIME",
              help="Simulated time at start: ISO (2026-11-24T10:00+08:00; without an offset in the configured "
              "timezone), now, or a span back (2h, 1d). Default: now.")
@click.option("--speed", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Simulated seconds per real second, as in GROUNDSWELL_CLOCK: 1 real time, 60 an hour a minute, "
              "0 frozen (move time with POST /_control/advance?minutes=N).")
@click.option("--rate-limit-every", type=click.IntRange(min=0), default=0,
              help="Answer every Nth platform request with 429 (fault rate_limit_every).")
@click.option("--rate-limit-fraction", type=click.FloatRange(0, 1), default=0.0,
              help="Answer this fraction of platform requests with 429 (fault rate_limit_fraction).")
@click.option("--retry-after", type=click.IntRange(min=0), default=30, show_default=True,
              help="Seconds sent in Retry-After with each 429 (fault retry_after).")
@click.option("--error-every", type=click.IntRange(min=0), default=0,
              help="Answer every Nth platform request with a 5xx (fault error_every).")
@click.option("--error-fraction", type=click.FloatRange(0, 1), default=0.0,
              help="Answer this fraction of platform requests with a 5xx (fault error_fraction).")
@click.option("--slow-seconds", type=click.FloatRange(min=0), default=0.0,
              help="Delay every platform response by this many seconds (fault slow_seconds).")
@click.option("--slow", "slow_legacy", type=click.FloatRange(min=0), hidden=True,
              help="Deprecated spelling of --slow-seconds.")
@click.option("--login-wall", is_flag=True,
              help="Weibo answers as if the session cookie had expired (fault login_wall).")
@click.option("--require-cookie", is_flag=True, help="Weibo demands a SUB= cookie (fault require_cookie).")
@click.option("--login-style", type=click.Choice(["json", "redirect"]), default="json", show_default=True,
              help="How the login wall answers: Weibo's JSON {\"ok\": -100} or a redirect to its login page "
              "(fault login_style).")
@click.option("--malformed", is_flag=True, help="Page 3 of every search returns truncated JSON (fault malformed).")
@click.option("--layout-changed", is_flag=True,
              help="The review site uses its redesigned class names (fault layout_changed).")
@click.option("--fault", "more_faults", multiple=True, metavar="NAME=VALUE",
              help=f"Any fault by its name in the control API (repeatable): {FAULT_NAMES}.")
@click.option("--viral", "viral_keyword", metavar="KEYWORD", help="Start the viral complaint scenario for KEYWORD.")
@click.option("-q", "--quiet", is_flag=True, help="Do not log each request.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the URL, seed, speed and simulated time (RFC 3339 UTC) as one JSON object.")
@click.pass_context
def sites(ctx: click.Context, port: int, seed: int, start: str | None, speed: float, slow_legacy: float | None,
          more_faults: tuple[str, ...], viral_keyword: str | None, quiet: bool, as_json: bool, **faults: Any) -> None:
    """Serve simulated Weibo, Bilibili, Reddit, JD, Xiaohongshu and a review site on one local port.

    Platforms share the base URL and differ by path. The simulated time starts now (or at --start) and runs at
    --speed. With GROUNDSWELL_CLOCK set, it is that clock's time and speed, shared with the crawls and the
    scheduler, and --start and --speed are not allowed.

    Faults have one name each, here (--fault NAME=VALUE, or the flags) and in the control API, where they can be
    flipped while it runs: curl -X POST 'URL/_control/faults?slow_seconds=2'; the state (simulated time, speed,
    faults): curl URL/_control/state; time: POST URL/_control/advance?minutes=30. Runs until Ctrl-C or SIGTERM.
    """
    check_clock()
    cfg = load_config(ctx)
    shared = clock.current()
    given = {name for name in ("start", "speed") if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE}
    if shared is not None:
        if given:
            raise click.UsageError(f"--{'/--'.join(sorted(given))} conflicts with {clock.CLOCK_ENV}, which sets the "
                                   "simulated time and speed already")
        began, speed = shared.now(), shared.speed
    else:
        began = parse_when(start, "--start", cfg.zone) if start else clock.now()
    if slow_legacy is not None:
        _deprecated("--slow", "--slow-seconds")
        faults["slow_seconds"] = slow_legacy
    for item in more_faults:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"--fault: expected NAME=VALUE (got {item!r}); faults: {FAULT_NAMES}", code=ExitStatus.USAGE)
        faults[name.strip()] = value
    try:
        sim = Simulator(seed=seed, port=port, faults=faults, speed=speed, quiet=quiet, start=began)
    except (ValueError, TypeError) as exc:
        fail(f"--fault: {exc}", code=ExitStatus.USAGE)
    try:
        url = sim.start()
    except OSError as exc:
        fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc} (choose another --port)",
             code=ExitStatus.USAGE)
    if viral_keyword:
        sim.inject_viral(viral_keyword)
    now = sim.now()
    click.echo(f"simulated sources at {url} (seed {seed}, speed {speed:g}x, simulated time "
               f"{people_time(now, cfg.zone, seconds=True)}{f', following {clock.CLOCK_ENV}' if shared else ''}); "
               "Ctrl-C to stop", err=True)
    if as_json:
        emit_json({"url": url, "seed": seed, "speed": speed, "now": iso(now), "shared_clock": shared is not None})
    else:
        click.echo(url)
    sys.stdout.flush()
    done = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = signal.signal(signal.SIGTERM, on_term) if threading.current_thread() is threading.main_thread() else None
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        click.echo("simulated sources stopped", err=True)


if __name__ == "__main__":
    sites()
