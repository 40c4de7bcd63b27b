"""`groundswell mailsink`: a local SMTP server that saves every email it receives, so a demo (or a person trying
the alerts) can read what Groundswell sends without a real mail server."""

from __future__ import annotations

import signal
import threading
from datetime import tzinfo
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from core import paths
from core.exits import ExitStatus
from core.timefmt import people_time
from core.times import iso
from groundswell.cli.common import check_clock, emit_json, exit_statuses, fail, load_config

if TYPE_CHECKING:
    from alerts.email.sink import Received


def _record(received: Received) -> dict[str, Any]:
    from alerts.email.compose import header_text

    return {
        "received_at": iso(received.at),
        "subject": received.subject,
        "from": header_text(received.mail_from),
        "to": [header_text(r) for r in received.rcpt_tos],
        "file": str(received.path) if received.path else None,
        "bytes": len(received.data),
    }


def _line(received: Received, zone: tzinfo | None) -> str:
    """One line a person reads: when (the configured timezone), subject, recipients, file; no escapes reach the
    terminal from a subject (core.display)."""
    from alerts.email.compose import header_text
    from core import display

    to = ", ".join(header_text(r) for r in received.rcpt_tos)
    return display.line(f"{people_time(received.at, zone, seconds=True)}  {received.subject} | to {to} | "
                        f"{received.path}")


@exit_statuses(OK="stopped by Ctrl-C or SIGTERM",
               USAGE="bad options: the port out of range or taken, the folder not writable")
@click.command("mailsink")
@click.option("--port", type=click.IntRange(0, 65535), default=8025, show_default=True,
              help="Port on 127.0.0.1 (0 = any free port).")
@click.option(
    "--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Folder for the received messages, one .eml file each (default: <groundswell home>/mail).",
)
@click.option("--json", "as_json", is_flag=True,
              help="Print each message as one JSON line (received_at in RFC 3339 UTC, subject, from, to, file).")
@click.pass_context
def mailsink(ctx: click.Context, port: int, directory: Path | None, as_json: bool) -> None:
    """Receive email on 127.0.0.1 and save each message as DIR/<timestamp>-<n>.eml.

    Prints one line per message: when, subject, recipients, file. Point Groundswell at it with
    GROUNDSWELL_SMTP_HOST=127.0.0.1 GROUNDSWELL_SMTP_PORT=<port>. Runs until Ctrl-C or SIGTERM.
    """
    from alerts.email.sink import SinkHandler, start_sink  # aiosmtpd only for this command

    check_clock()
    zone = load_config(ctx).zone
    folder = directory or paths.home() / "mail"
    lock = threading.Lock()

    def show(received: Received) -> None:
        with lock:
            if as_json:
                emit_json(_record(received))
            else:
                click.echo(_line(received, zone))

    try:
        handler = SinkHandler(folder, on_message=show)
    except OSError as exc:
        fail(f"cannot create the mail folder {folder}: {exc.strerror or exc}", code=ExitStatus.USAGE)
    try:
        controller = start_sink(handler, port=port)
    except OSError as exc:
        fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc} (choose another --port)",
             code=ExitStatus.USAGE)
    click.echo(f"mail sink at smtp://127.0.0.1:{controller.port}, saving to {folder}; Ctrl-C to stop", err=True)
    done = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        done.set()

    main_thread = threading.current_thread() is threading.main_thread()
    # Ctrl-C too only sets the event: a KeyboardInterrupt raised inside Event.wait could leave the stop half done
    # (seen once under load: the sink never exited after SIGINT)
    previous = {sig: signal.signal(sig, on_term) for sig in (signal.SIGTERM, signal.SIGINT)} if main_thread else {}
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
        for sig, handler_before in previous.items():
            signal.signal(sig, handler_before)
        click.echo(f"mail sink stopped ({len(handler.messages)} message(s) received)", err=True)
