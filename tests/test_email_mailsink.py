"""`groundswell mailsink`: the demo's local mail sink, run as the real command in its own process."""

from __future__ import annotations

import json
import os
import re
import signal
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from alerts.email.sink import start_sink
from tests.smtp_sink import running_sink


def message(n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"[Groundswell URGENT] 小米: complaint {n}"
    msg["From"] = "groundswell@example.com"
    msg["To"] = "lead@example.com, ops@example.com"
    msg.set_content(f"body {n}\n")
    return msg


@pytest.fixture
def sink_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    folder = tmp_path / "mail"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("GROUNDSWELL_CLOCK", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "groundswell.cli.main", "mailsink", "--port", "0", "--dir", str(folder), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        found = re.search(r"smtp://127\.0\.0\.1:(\d+)", banner)
        assert found, banner
        yield proc, int(found.group(1)), folder
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_mailsink_saves_eml_files_and_prints_a_line_each(
    sink_process: tuple[subprocess.Popen[str], int, Path], stop: signal.Signals
) -> None:
    proc, port, folder = sink_process
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(message(1))
        client.send_message(message(2))
    assert proc.stdout is not None
    lines = [json.loads(proc.stdout.readline()) for _ in range(2)]
    proc.send_signal(stop)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "mail sink stopped (2 message(s) received)" in err

    assert [line["subject"] for line in lines] == ["[Groundswell URGENT] 小米: complaint 1",
                                                   "[Groundswell URGENT] 小米: complaint 2"]
    assert lines[0]["to"] == ["lead@example.com", "ops@example.com"]
    files = sorted(folder.glob("*.eml"))
    assert [str(f) for f in files] == sorted(line["file"] for line in lines)
    for f in files:
        assert re.fullmatch(r"\d{8}T\d{6}Z-\d+\.eml", f.name)  # UTC, sorting in time order
    assert all(line["received_at"].endswith("Z") for line in lines)  # RFC 3339 UTC, as every --json
    saved = message_from_bytes(Path(lines[1]["file"]).read_bytes(), policy=policy.default)
    assert saved["Subject"] == "[Groundswell URGENT] 小米: complaint 2"


def test_mailsink_on_a_taken_port_says_so(tmp_path: Path) -> None:
    with running_sink() as sink:
        proc = subprocess.run(
            [sys.executable, "-m", "groundswell.cli.main", "mailsink", "--port", str(sink.port), "--dir",
             str(tmp_path)],
            capture_output=True, text=True, timeout=60,
        )
        assert proc.returncode == 2  # ExitStatus.USAGE: choose another --port
        assert f"cannot listen on 127.0.0.1:{sink.port}" in proc.stderr
        with pytest.raises(OSError):
            start_sink(sink.handler, port=sink.port)
