"""`es status` and `es stop` find the local node that answers, even when it was started with another
GROUNDSWELL_HOME (its pid file lives there): a second real node on its own port, never the shared one."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from groundswell import esnode
from groundswell.cli.main import cli

NO_CLUSTER = {"GROUNDSWELL_ES_URL": None, "GROUNDSWELL_ES_PORT": None}  # the port comes from the test's config


def free_pair() -> int:
    """A port P with P and P + 100 (the node's transport port) both free."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = int(a.getsockname()[1])
            if port + 100 > 65535:
                continue
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 100))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free pair of ports")

pytestmark = [pytest.mark.es, pytest.mark.slow]


@pytest.fixture
def second_node() -> Iterator[tuple[Path, Path, int]]:
    """A node started by `groundswell es start` under home A; yields (config, home A, port)."""
    top = Path(tempfile.mkdtemp(prefix="gs-home-test-", dir="/tmp"))
    os.chmod(top, 0o755)  # the node runs as its own user when we are root: it must reach its folder
    port = free_pair()
    config = top / "g.yaml"
    config.write_text(f"elasticsearch: {{local: {{port: {port}, heap: 256m}}}}\n", encoding="utf-8")
    home_a = top / "a"
    started = CliRunner().invoke(cli, ["es", "start", "--config", str(config)],
                                 env={"GROUNDSWELL_HOME": str(home_a), **NO_CLUSTER})
    assert started.exit_code == 0, started.output
    try:
        yield config, home_a, port
    finally:
        CliRunner().invoke(cli, ["es", "stop", "--config", str(config)],
                           env={"GROUNDSWELL_HOME": str(home_a), **NO_CLUSTER})
        shutil.rmtree(top, ignore_errors=True)


def test_status_and_stop_with_another_home(second_node: tuple[Path, Path, int], tmp_path: Path) -> None:
    config, home_a, port = second_node
    pid = int(next(home_a.glob("es*/elasticsearch.pid")).read_text().strip())
    other = {"GROUNDSWELL_HOME": str(tmp_path / "b"), **NO_CLUSTER}
    status = CliRunner().invoke(cli, ["es", "status", "--json", "--config", str(config)], env=other)
    assert status.exit_code == 0, status.output
    assert f'"pid": {pid}' in status.output and str(home_a) in status.output  # its own data folder, not b's
    stopped = CliRunner().invoke(cli, ["es", "stop", "--config", str(config)], env=other)
    assert stopped.exit_code == 0 and "stopped" in stopped.output and str(home_a) in stopped.output, stopped.output
    assert esnode.health(port) is None
    assert not list(home_a.glob("es*/elasticsearch.pid"))
    again = CliRunner().invoke(cli, ["es", "stop", "--config", str(config)], env=other)
    assert "not running" in again.output
