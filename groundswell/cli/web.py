"""`groundswell web`: the console for service leads and PR teams; `web hash-password` makes a user's hash."""

from __future__ import annotations

import sys

import click

from core.exits import ExitStatus
from groundswell.cli.common import exit_statuses, fail, load_config


@exit_statuses(OK="stopped cleanly", USAGE="bad configuration: the secret key missing, a port in use")
@click.group("web", invoke_without_command=True)
@click.option("--host", help="Address to listen on (default: web.host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: web.port, 8600; 0: any free port).")
@click.pass_context
def web(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the console: incidents (acknowledge, resolve, notes, handling times), mention search with CSV export,
    and the acknowledge links of incident emails. People sign in as configured under web.users (or through
    web.trusted_header from web.trusted_proxies). Needs GROUNDSWELL_SECRET_KEY; set alerting.console_url (or
    GROUNDSWELL_CONSOLE_URL) to the address people reach it at, so emails link here."""
    if ctx.invoked_subcommand is not None:
        return
    from groundswell.web.app import ConsoleError
    from groundswell.web.server import Console

    cfg = load_config(ctx)
    try:
        console = Console(cfg, host or cfg.web.host, cfg.web.port if port is None else port)
    except ConsoleError as exc:
        fail(str(exc), code=ExitStatus.USAGE)
    except OSError as exc:
        fail(f"cannot listen on {host or cfg.web.host}:{cfg.web.port if port is None else port}: "
             f"{exc.strerror or exc}", code=ExitStatus.USAGE)
    if not cfg.web.users and not cfg.web.trusted_header:
        click.echo("groundswell web: nobody can sign in yet: add web.users (see `groundswell web hash-password`)",
                   err=True)
    click.echo(f"groundswell web: serving the console on {console.url}"
               + (f" (emails link to {cfg.alerting.console_url})" if cfg.alerting.console_url else
                  " (set alerting.console_url so emails link here)"), err=True)
    try:
        console.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        console.stop()


@exit_statuses(USAGE="the password is shorter than 8 characters")
@web.command("hash-password")
def hash_password_cmd() -> None:
    """Read a password (prompted twice on a terminal, else one line of stdin) and print its argon2 hash for
    web.users[].password_hash. The password is never echoed or stored."""
    from groundswell.web.auth import hash_password

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        fail("the password must be at least 8 characters", code=ExitStatus.USAGE)
    click.echo(hash_password(password))
