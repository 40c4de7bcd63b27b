"""Memory of crawl children, as `groundswell run` starts them: one `groundswell crawl` alone, then N at once.

    .venv/bin/python bench/crawl_memory_bench.py [--parallel 3] [--pages 5] [--write]

Each crawl is `python -m groundswell.cli.main crawl bilibili --base-url SIM --json -a incremental=0 --max-pages P`
against the platform simulator (sites.server.Simulator, seed 11, in this process), each into its own prefix.
Every 0.1 s the benchmark reads, for each crawl process, its RSS and its PSS (smaps_rollup): RSS counts every page
the process maps, shared or not (the memory-mapped model files, Python's shared libraries); PSS divides each
shared page among the processes mapping it, so the sum of PSS over N crawls is what they cost together.
`--write` replaces the section below in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import results  # noqa: E402
from throughput_bench import _rss_pss, loadavg  # noqa: E402

from sites.server import Simulator  # noqa: E402
from sites.world import CADENCE  # noqa: E402

SECTION = "## Memory of crawl children (issue 14)"
PREFIX = "gsbenchmem"


def crawl(sim: Simulator, n: int, pages: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GROUNDSWELL_INDEX_PREFIX": f"{PREFIX}{n}"}
    cmd = [sys.executable, "-m", "groundswell.cli.main", "crawl", "bilibili", "-k", "小米", "--base-url", sim.url,
           "--json", "-a", "incremental=0", "--max-pages", str(pages)]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def measure(procs: list[subprocess.Popen[bytes]]) -> tuple[list[int], list[int], int, float]:
    """Per process peak RSS and peak PSS (kB), the peak of the PSS sum, and the seconds until all ended."""
    rss, pss, total = [0] * len(procs), [0] * len(procs), 0
    t0 = time.monotonic()
    while any(p.poll() is None for p in procs):
        sizes = [_rss_pss(p.pid) for p in procs]
        rss = [max(a, b[0]) for a, b in zip(rss, sizes, strict=True)]
        pss = [max(a, b[1]) for a, b in zip(pss, sizes, strict=True)]
        total = max(total, sum(s[1] for s in sizes))
        time.sleep(0.1)
    seconds = time.monotonic() - t0
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"crawl failed ({p.returncode}): {err.decode()[-1500:]}")
    return rss, pss, total, seconds


def clean() -> None:
    from elasticsearch import Elasticsearch

    es = Elasticsearch(os.environ.get("GROUNDSWELL_ES_URL", "http://127.0.0.1:9200"))
    for name in list(es.indices.get(index=f"{PREFIX}*", allow_no_indices=True, ignore_unavailable=True).body):
        es.indices.delete(index=name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parallel", type=int, default=3)
    ap.add_argument("--pages", type=int, default=5)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    rows = []
    with Simulator(seed=11, port=0) as sim:
        cad = CADENCE["bilibili"]
        sim.advance(max(1, 60 - cad.history + 1) * cad.gap)
        threading.Event().wait(0.2)
        for n in (1, args.parallel):
            clean()
            before = loadavg()
            rss, pss, total, seconds = measure([crawl(sim, i, args.pages) for i in range(n)])
            rows.append((n, rss, pss, total, seconds, before, loadavg()))
            print(n, [r // 1024 for r in rss], [p // 1024 for p in pss], total // 1024, f"{seconds:.1f}s", flush=True)
    clean()
    out = [SECTION, "", f"Measured {started} UTC by `.venv/bin/python bench/crawl_memory_bench.py --parallel "
           f"{args.parallel} --pages {args.pages}`: `groundswell crawl bilibili -k 小米 --max-pages {args.pages}` "
           "against the simulator, each crawl its own process (as `groundswell run` starts them), sampled every "
           "0.1 s from /proc.", "",
           "| crawls at once | peak RSS per crawl MB | peak PSS per crawl MB | peak PSS of all MB | seconds | "
           "load before | load after |", "|---:|---|---|---:|---:|---|---|"]
    for n, rss, pss, total, seconds, before, after in rows:
        out.append(f"| {n} | {', '.join(str(r // 1024) for r in rss)} | {', '.join(str(p // 1024) for p in pss)} | "
                   f"{total // 1024} | {seconds:.1f} | {before} | {after} |")
    one, many = rows[0][3], rows[-1][3]
    out += ["", f"{args.parallel} crawls at once cost {many / one:.2f}x one crawl in PSS (the sum over the processes)."]
    section = "\n".join(out) + "\n"
    print(section)
    if args.write:
        results.write_section(SECTION, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
