"""A real three-node Elasticsearch cluster for failure tests: `groundswell es start --nodes 3`'s own code on free
loopback ports, in a folder of its own (readable by the node user), stopped and removed after."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import LocalNode
from groundswell import esnode


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_base(nodes: int, start: int = 9400, stop: int = 9490) -> int:
    """An HTTP port p with p..p+nodes-1 and their transport ports (+100) all free."""
    for base in range(start, stop, nodes):
        if all(_free(base + i) and _free(base + 100 + i) for i in range(nodes)):
            return base
    raise RuntimeError(f"no {nodes} free loopback ports between {start} and {stop}")


@dataclass
class Cluster:
    node: LocalNode
    home: Path

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{lay.http_port}" for lay in esnode.layouts(self.node)]

    def layouts(self) -> list[esnode.NodeLayout]:
        return esnode.layouts(self.node)


@contextmanager
def three_nodes(monkeypatch: pytest.MonkeyPatch | None = None, heap: str = "256m") -> Iterator[Cluster]:
    """Three nodes; GROUNDSWELL_HOME points at their own folder while it runs."""
    home = Path(tempfile.mkdtemp(prefix="gs-cluster-"))
    home.chmod(0o755)  # the node user must reach its data folder
    node = LocalNode(port=free_base(3), heap=heap, nodes=3)
    mp = monkeypatch or pytest.MonkeyPatch()
    mp.setenv("GROUNDSWELL_HOME", str(home))
    try:
        esnode.start(node, timeout=300, log=lambda _m: None)
        yield Cluster(node, home)
    finally:
        esnode.stop(node, timeout=30)
        if monkeypatch is None:
            mp.undo()
        shutil.rmtree(home, ignore_errors=True)
