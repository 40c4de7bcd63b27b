"""Peak memory of `groundswell ingest` against the input's size: 10,000 lines against 200,000 (issue 14: flat
within 20%).

    .venv/bin/python bench/ingest_memory_bench.py [--sizes 10000,200000] [--workers 0,2] [--write]

Each run is `groundswell ingest FILE --json --workers W` (a subprocess, as in bench/throughput_bench.py) of
`bench/generate.py -n N` into the emptied prefix `gsmem`, sampled every 0.1 s from /proc: the ingest process's own
peak RSS (what the run's memories fill), and the process tree's peak RSS and PSS (forked analysis workers share the
parent's pages, which PSS counts once). The load average is recorded before and after each run.
`--write` replaces the section below in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import results  # noqa: E402
import stored_bench  # noqa: E402
import throughput_bench as tb  # noqa: E402

PREFIX = "gsmem"
SECTION = "## Peak memory of ingest against the input's size (issue 14)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,200000")
    ap.add_argument("--workers", default="0,2")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    from elasticsearch import Elasticsearch

    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    tb.DATA.mkdir(exist_ok=True)
    es = Elasticsearch(tb.ES_URL, request_timeout=300)
    exe = str(Path(sys.executable).parent / "groundswell")
    env = {**tb.environment(), "GROUNDSWELL_INDEX_PREFIX": PREFIX}
    rows: list[tuple[str, int, tb.Run]] = []
    try:
        for w in args.workers.split(","):
            for n in (int(x) for x in args.sizes.split(",")):
                path = stored_bench.data("thru", n, 20261125)
                stored_bench.wipe(es, PREFIX)
                run = tb.timed(f"--workers {w}", [exe, "ingest", str(path), "--json", "--workers", w], n, env)
                if run.summary["read"] != n:
                    raise SystemExit(f"ingest did not read every line: {run.summary}")
                rows.append((w, n, run))
                print(f"--workers {w}, {n:,} lines: main RSS {run.main_rss_mb:.0f} MB, tree {run.peak_rss_mb:.0f} / "
                      f"{run.peak_pss_mb:.0f} MB, {run.rate:,.0f} docs/s, load {run.load_before}", flush=True)
    finally:
        stored_bench.wipe(es, PREFIX)
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=BENCH.parent).stdout.strip()
    table = "\n".join(
        f"| {w} | {n:,} | {r.rate:,.0f} | {r.main_rss_mb:.0f} | {r.peak_rss_mb:.0f} | {r.peak_pss_mb:.0f} | "
        f"{r.procs} | {r.load_before} | {r.load_after} |" for w, n, r in rows)
    ratios = []
    for w in args.workers.split(","):
        mine = [(n, r) for ww, n, r in rows if ww == w]
        if len(mine) >= 2:
            (n0, r0), (n1, r1) = mine[0], mine[-1]
            ratios.append(f"- `--workers {w}`: {n1:,} against {n0:,} lines: main RSS "
                          f"x{r1.main_rss_mb / r0.main_rss_mb:.2f}, tree RSS x{r1.peak_rss_mb / r0.peak_rss_mb:.2f}, "
                          f"tree PSS x{r1.peak_pss_mb / r0.peak_pss_mb:.2f}")
    section = f"""{SECTION}

Measured {started} UTC by `.venv/bin/python bench/ingest_memory_bench.py --sizes {args.sizes} --workers \
{args.workers}` on committed code (git {git}), under `nice -n 10`, one run each; 2 cores shared with other
engineers' work (load columns). Input: `bench/generate.py -n N` (the default seed), into an emptied prefix.

| workers | lines | docs/s | ingest main RSS MB (peak) | tree RSS MB | tree PSS MB | procs | load before | load after |
|---:|---:|---:|---:|---:|---:|---:|---|---|
{table}

{chr(10).join(ratios)}
"""
    print(section)
    if args.write:
        results.write_section(SECTION, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
