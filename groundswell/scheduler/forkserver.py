"""Crawl children forked from one warm process, instead of each started as a fresh interpreter.

A `groundswell crawl` child spends most of its memory on what every crawl loads alike: Scrapy, Twisted, the
Elasticsearch client, numpy, the spiders, the analysis stages and their tables (~75 MB of Python heap of its
~150 MB). Started fresh, N crawls at once hold N copies of it. Forked from one process that loaded it all once
(multiprocessing's fork server: single-threaded, started by the scheduler, preloading `groundswell.warm`),
the children share those pages copy-on-write, and N crawls cost the warm process plus what each crawl allocates
for itself (bench/RESULTS.md, "Memory of crawl children").

A forked child runs the very command a fresh one would (`groundswell.cli.main` with the same arguments and
environment, in the scheduler's working directory), in its own session, with its stdout and stderr on pipes the
scheduler reads, so Children treats both alike (time limits, SIGTERM then SIGKILL to its group, exit codes). It
watches the scheduler as a fresh child does (PARENT_ENV, scheduler.children.watch_parent: its parent is the fork
server, so by the scheduler's pid and start time), and stops when the scheduler is gone. The fork server itself
exits once the scheduler and the last child it forked are gone (every child holds multiprocessing's "alive" pipe).
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from multiprocessing import reduction
from typing import Any

import setproctitle

log = logging.getLogger(__name__)

PRELOAD = ["groundswell.warm"]
ENTRY = ["-m", "groundswell.cli.main"]  # the fresh child's command after the interpreter (jobs.crawl_command)
PARENT_ENV = "GROUNDSWELL_PARENT_PID"  # set in a crawl child: the service it belongs to (scheduler.children)


def forkable(cmd: Sequence[str]) -> list[str] | None:
    """The arguments of a `python -m groundswell.cli.main ...` command run by this interpreter, else None (any other
    command is started as it is)."""
    if len(cmd) >= 3 and cmd[0] == sys.executable and list(cmd[1:3]) == ENTRY:
        return list(cmd[3:])
    return None


def _run_module(name: str, argv: list[str]) -> None:
    """`python -m NAME ARGV...` in this process: what the fresh child would have run (its `main()`)."""
    sys.argv = ["groundswell", *argv]
    importlib.import_module(name).main()


class _Fd:
    """A file descriptor handed to the forked child: the fork server passes it over its socket (SCM_RIGHTS)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        return (_detach, (reduction.DupFd(self.fd),))  # only while the fork server's Popen pickles the arguments


def _detach(dup: Any) -> int:
    return int(dup.detach())


def _child(argv: list[str], env: dict[str, str], cwd: str, out: int, err: int) -> None:
    """In the forked child: become the fresh child (session, stdio, environment, directory), then run the command."""
    os.setsid()
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.close(out)
    os.close(err)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    # a fresh interpreter would put PYTHONPATH's folders first on its path (a settings module named by
    # SCRAPY_SETTINGS_MODULE may live there); the modules the fork server already loaded stay as they are
    extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p not in sys.path]
    sys.path[1:1] = extra
    setproctitle.setproctitle(" ".join(["groundswell", *argv]))  # what ps shows (else the fork server's command)
    try:
        _run_module(ENTRY[1], argv)  # SystemExit with the command's exit status
    finally:
        logging.shutdown()


class Forked:
    """A running forked child, read like a subprocess.Popen: pid, communicate(timeout), returncode."""

    def __init__(self, process: Any, out: int, err: int) -> None:
        self.process = process
        self.pid: int = process.pid
        self.returncode: int | None = None
        self._selector = selectors.DefaultSelector()
        self._chunks: dict[int, list[bytes]] = {out: [], err: []}
        self._out, self._err = out, err
        for fd in (out, err):
            os.set_blocking(fd, False)
            self._selector.register(fd, selectors.EVENT_READ)

    def communicate(self, timeout: float) -> tuple[str, str]:
        """Both outputs once the child has closed them and ended; subprocess.TimeoutExpired before that."""
        deadline = time.monotonic() + timeout
        while self._selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired("forked child", timeout)
            for key, _ in self._selector.select(left):
                fd = int(key.fd)
                data = os.read(fd, 65536)
                if data:
                    self._chunks[fd].append(data)
                else:
                    self._selector.unregister(fd)
                    os.close(fd)
        self.process.join(max(0.0, deadline - time.monotonic()))
        if self.process.exitcode is None:
            raise subprocess.TimeoutExpired("forked child", timeout)
        self.returncode = int(self.process.exitcode)
        self._selector.close()
        text = [b"".join(self._chunks[fd]).decode("utf-8", errors="replace") for fd in (self._out, self._err)]
        return text[0], text[1]


class ForkServer:
    """Starts forkable commands as children of the warm fork server (started on first use, or by `warm_up`)."""

    def __init__(self) -> None:
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(PRELOAD)

    def warm_up(self) -> None:
        """Start the fork server now (it imports for a second or two), not at the first crawl."""
        from multiprocessing import forkserver

        forkserver.ensure_running()

    def pid(self) -> int | None:
        """The fork server's process id once it runs (its children's parent), else None."""
        from multiprocessing import forkserver

        pid = getattr(forkserver._forkserver, "_forkserver_pid", None)  # (multiprocessing keeps it private)
        return int(pid) if pid else None

    def start(self, argv: list[str], env: Mapping[str, str]) -> Forked:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            process = self.context.Process(
                target=_child, args=(argv, dict(env), os.getcwd(), _Fd(out_w), _Fd(err_w)),
                name=f"crawl {' '.join(argv)[:60]}",
            )
            process.start()
        except BaseException:
            for fd in (out_r, err_r):
                os.close(fd)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        return Forked(process, out_r, err_r)
