"""`groundswell sites`: run the simulated sources in the foreground, so spiders and `make demo` have something to
crawl on machines that reach no website."""

from __future__ import annotations

import json
import signal
import sys
import threading
from types import FrameType
from typing import Any

import click
from click.core import ParameterSource

from core import clock
from core.exits import ExitStatus
from groundswell.cli.common import fail
from sites.clock import DEFAULT_START
from sites.server import Simulator


@click.command("sites")
@click.option("--port", type=click.IntRange(0, 65535), default=8800, show_default=True,
              help="Port on 127.0.0.1 (0 = any free port).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated posts.")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="Simulated minutes per real second (0 = frozen; move time with POST /_control/advance).")
@click.option("--rate-limit-every", type=int, default=0, help="Answer every Nth platform request with 429.")
@click.option("--rate-limit-fraction", type=float, default=0.0, help="Answer this fraction of requests with 429.")
@click.option("--retry-after", type=int, default=30, show_default=True, help="Seconds sent in Retry-After.")
@click.option("--error-every", type=int, default=0, help="Answer every Nth platform request with a 5xx.")
@click.option("--error-fraction", type=float, default=0.0, help="Answer this fraction of requests with a 5xx.")
@click.option("--slow", "slow_seconds", type=float, default=0.0, help="Delay every platform response by SECONDS.")
@click.option("--login-wall", is_flag=True, help="Weibo answers as if the session cookie had expired.")
@click.option("--require-cookie", is_flag=True, help="Weibo demands a SUB= cookie.")
@click.option("--login-style", type=click.Choice(["json", "redirect"]), default="json", show_default=True)
@click.option("--malformed", is_flag=True, help="Page 3 of every search returns truncated JSON.")
@click.option("--layout-changed", is_flag=True, help="The review site uses its redesigned class names.")
@click.option("--viral", "viral_keyword", metavar="KEYWORD", help="Start the viral complaint scenario for KEYWORD.")
@click.option("-q", "--quiet", is_flag=True, help="Do not log each request.")
@click.option("--json", "as_json", is_flag=True, help="Print the URL, seed, speed and start time as one JSON object.")
@click.pass_context
def sites(ctx: click.Context, port: int, seed: int, speed: float, viral_keyword: str | None, quiet: bool,
          as_json: bool, **faults: Any) -> None:
    """Serve simulated Weibo, Bilibili, Reddit, JD, Xiaohongshu and a review site on one local port.

    Platforms share the base URL and differ by path. Faults can be flipped while running:
    curl -X POST 'URL/_control/faults?rate_limit_every=5'; state: curl URL/_control/state.
    With GROUNDSWELL_CLOCK set, the simulated time is that clock's (start and speed), shared with the crawls
    and the scheduler; --speed is then not allowed. Runs until Ctrl-C or SIGTERM.
    """
    start = DEFAULT_START
    try:
        shared = clock.current()
    except clock.ClockError as exc:
        raise click.UsageError(str(exc)) from exc
    if shared is not None:
        if ctx.get_parameter_source("speed") is ParameterSource.COMMANDLINE:
            raise click.UsageError(f"--speed conflicts with {clock.CLOCK_ENV}, which sets the speed already")
        start, speed = shared.now(), shared.speed / 60  # simulated seconds per real second -> minutes
    sim = Simulator(seed=seed, port=port, faults=faults, speed=speed, quiet=quiet, start=start)
    try:
        url = sim.start()
    except OSError as exc:
        fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc} (choose another --port)",
             code=ExitStatus.USAGE)
    if viral_keyword:
        sim.inject_viral(viral_keyword)
    click.echo(f"simulated sources at {url} (seed {seed}, {speed:g} simulated min/s, now {sim.now().isoformat()}"
               f"{f', following {clock.CLOCK_ENV}' if shared else ''}); Ctrl-C to stop", err=True)
    if as_json:
        click.echo(json.dumps({"url": url, "seed": seed, "speed_minutes_per_second": speed,
                               "now": sim.now().isoformat(), "shared_clock": shared is not None}), nl=True)
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
