"""Memory of crawl children, as `groundswell run` starts them: one `groundswell crawl` alone, then N at once.

    .venv/bin/python bench/crawl_memory_bench.py [--parallel 3] [--pages 5] [--write]

Each crawl is `python -m groundswell.cli.main crawl bilibili --base-url SIM --json -a incremental=0 --max-pages P`
against the platform simulator (sites.server.Simulator, seed 11, in this process), each into its own prefix,
started two ways: fresh (its own interpreter, `scheduler.fork_children: false`) and forked (through
groundswell.scheduler.children with the fork server, as `groundswell run` starts them by default).
Every 0.1 s the benchmark reads, for every process of the crawls' trees (and the fork server's, which is part of
what forked crawls cost), its RSS and its PSS (smaps_rollup): RSS counts every page the process maps, shared or not
(the memory-mapped model files, Python's shared libraries, and a forked child's pages still shared with the fork
server); PSS divides each shared page among the processes mapping it, so the sum of PSS over the trees is what the
crawls cost together. `--write` replaces the section below in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import crawl_bench as cb  # noqa: E402
import results  # noqa: E402
from throughput_bench import _rss_pss, loadavg  # noqa: E402

from sites.server import Simulator  # noqa: E402
from sites.world import CADENCE  # noqa: E402

SECTION = "## Memory of crawl children (issue 14)"
PREFIX = "gsbenchmem"


def command(sim: Simulator, pages: int) -> list[str]:
    return cb.crawl_command(sim, "bilibili", ["-k", "小米", "-a", "incremental=0", "--max-pages", str(pages)])


@dataclass
class Sample:
    """Peaks over a run: per crawl process RSS and PSS (kB), the PSS sum over the trees, the seconds taken."""

    rss: dict[int, int] = field(default_factory=dict)
    pss: dict[int, int] = field(default_factory=dict)
    total: int = 0
    seconds: float = 0.0

    def take(self, crawls: list[int], roots: list[int]) -> None:
        pids = {p for r in roots for p in cb.descendants(r)}
        sizes = {p: _rss_pss(p) for p in pids}
        for p in crawls:
            if p in sizes:
                self.rss[p] = max(self.rss.get(p, 0), sizes[p][0])
                self.pss[p] = max(self.pss.get(p, 0), sizes[p][1])
        self.total = max(self.total, sum(s[1] for s in sizes.values()))


def fresh(sim: Simulator, n: int, pages: int) -> Sample:
    """N crawls at once, each its own interpreter."""
    procs = [subprocess.Popen(command(sim, pages), cwd=ROOT, env={**os.environ, "GROUNDSWELL_INDEX_PREFIX":
                              f"{PREFIX}{i}"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(n)]
    sample, t0 = Sample(), time.monotonic()
    while any(p.poll() is None for p in procs):
        sample.take([p.pid for p in procs], [p.pid for p in procs])
        time.sleep(0.1)
    sample.seconds = time.monotonic() - t0
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"crawl failed ({p.returncode}): {err.decode()[-1500:]}")
    return sample


def forked(sim: Simulator, n: int, pages: int, children: Any, server: int) -> Sample:
    """N crawls at once, forked from the (already warm) fork server by Children.run, as `groundswell run` does."""
    results: list[Any] = []

    def one(i: int) -> None:
        results.append(children.run(command(sim, pages), {**os.environ, "GROUNDSWELL_INDEX_PREFIX": f"{PREFIX}{i}"},
                                    600))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    sample, t0 = Sample(), time.monotonic()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        sample.take(cb.descendants(server)[1:], [server])
        time.sleep(0.1)
    sample.seconds = time.monotonic() - t0
    for r in results:
        if r.exit_code != 0:
            raise SystemExit(f"crawl failed ({r.exit_code}): {r.stderr[-1500:]}")
    return sample


def clean() -> None:
    from elasticsearch import Elasticsearch

    es = Elasticsearch(os.environ.get("GROUNDSWELL_ES_URL", "http://127.0.0.1:9200"))
    for name in list(es.indices.get(index=f"{PREFIX}*", allow_no_indices=True, ignore_unavailable=True).body):
        es.indices.delete(index=name)


def main(argv: list[str] | None = None) -> int:
    from groundswell.scheduler.children import Children
    from groundswell.scheduler.forkserver import ForkServer

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parallel", type=int, default=3)
    ap.add_argument("--pages", type=int, default=5)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    rows = []
    forks = ForkServer()
    forks.warm_up()
    server = forks.pid()
    assert server is not None
    children = Children(kill_grace=10, forks=forks)
    with Simulator(seed=11, port=0) as sim:
        cad = CADENCE["bilibili"]
        sim.advance(max(1, 60 - cad.history + 1) * cad.gap)
        threading.Event().wait(0.2)
        for how in ("fresh", "forked"):
            for n in (1, args.parallel):
                clean()
                before = loadavg()
                sample = fresh(sim, n, args.pages) if how == "fresh" else forked(sim, n, args.pages, children, server)
                rows.append((how, n, sample, before, loadavg()))
                print(how, n, [r // 1024 for r in sample.rss.values()], [p // 1024 for p in sample.pss.values()],
                      sample.total // 1024, f"{sample.seconds:.1f}s", flush=True)
    clean()
    idle = _rss_pss(server)
    out = [SECTION, "", f"Measured {started} UTC by `.venv/bin/python bench/crawl_memory_bench.py --parallel "
           f"{args.parallel} --pages {args.pages}`: `groundswell crawl bilibili -k 小米 --max-pages {args.pages}` "
           "against the simulator, each crawl its own process, started fresh or forked from the fork server (as "
           "`groundswell run` starts them), sampled every 0.1 s from /proc. The PSS of all is summed over every "
           "process of the crawls' trees, and over the fork server's for forked crawls (its own PSS idle after the "
           f"runs: {idle[1] // 1024} MB, RSS {idle[0] // 1024} MB).", "",
           "| started | crawls at once | peak RSS per crawl MB | peak PSS per crawl MB | peak PSS of all MB "
           "| seconds | load before | load after |", "|---|---:|---|---|---:|---:|---|---|"]
    for how, n, sample, before, after in rows:
        out.append(f"| {how} | {n} | {', '.join(str(r // 1024) for r in sample.rss.values())} | "
                   f"{', '.join(str(p // 1024) for p in sample.pss.values())} | {sample.total // 1024} | "
                   f"{sample.seconds:.1f} | {before} | {after} |")
    total = {(how, n): sample.total for how, n, sample, _, _ in rows}
    p = args.parallel
    out += ["", f"- fresh: {p} crawls at once cost {total['fresh', p] / total['fresh', 1]:.2f}x one crawl in PSS",
            f"- forked: {p} crawls at once cost {total['forked', p] / total['forked', 1]:.2f}x one forked crawl, "
            f"and {total['forked', p] / total['fresh', 1]:.2f}x one fresh crawl; against {p} fresh crawls: "
            f"{total['forked', p] / total['fresh', p]:.2f}"]
    section = "\n".join(out) + "\n"
    print(section)
    if args.write:
        results.write_section(SECTION, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
