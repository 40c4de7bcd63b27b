"""HTTP crawl against a bare fetch loop over the same URLs, batched chain vs the old per-item chain, in one run.

    .venv/bin/python bench/crawl_http_bench.py [--videos 200] [--repeat 2] [--write]

The spider is `bilibili -k 小米` (search pages, then each video's comment pages) against the simulator, whose
Bilibili side is plain GETs with the query a bare loop can replay: the simulator records every request target it
served to the crawl, and the bare loop (`bench/crawl_bench.fetch_all`: single-threaded http.client, reads each
body, parses nothing) requests exactly those. Each crawl is its own `groundswell crawl` process, timed from spawn
to exit, with AutoThrottle off, 8 requests per domain and no delay (the settings module crawl_bench writes), in
two forms:

- batched: the shipped settings (ITEM_PIPELINES is pipelines.batching: the analysis chain in batches, off the
  reactor thread);
- batched, 2 workers: the same with GROUNDSWELL_CRAWL_WORKERS = 2 (analysis in two forked processes);
- per item: the same stages as plain item pipelines on the reactor thread (ITEM_PIPELINES = GROUNDSWELL_STAGES),
  the way crawls ran before issue 14;
- batched, forked: the batched crawl forked from the warm fork server by groundswell.scheduler.children, as
  `groundswell run` starts crawls (timed from the request to fork to the child's exit: no interpreter start-up and
  imports);
- Scrapy alone: the same crawl with no item pipelines (ITEM_PIPELINES = {}): fetched, parsed, each item through
  Scrapy's per-item path and dropped there, nothing analysed or stored. Not a way to run the product: the ceiling
  any crawl of these pages reaches in Scrapy on this machine, whatever its pipelines cost.

`--write` replaces the section below in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import crawl_bench as cb  # noqa: E402
import results  # noqa: E402
from throughput_bench import loadavg  # noqa: E402

from groundswell import config as gsconfig  # noqa: E402
from groundswell.scheduler.children import Children  # noqa: E402
from groundswell.scheduler.forkserver import ForkServer  # noqa: E402
from sites.world import CADENCE  # noqa: E402
from store.client import make_client  # noqa: E402

SECTION = "## HTTP crawl against a bare fetch loop (issue 14)"
WORKERS = "\nGROUNDSWELL_CRAWL_WORKERS = 2\n"
PER_ITEM = "\nITEM_PIPELINES = GROUNDSWELL_STAGES  # noqa: F405  (the old way: every stage per item on the reactor)\n"
ALONE = "\nITEM_PIPELINES = {}  # Scrapy alone: items parsed and dropped, nothing analysed or stored (the ceiling)\n"


def span(run: cb.CrawlRun) -> tuple[str, str]:
    """When the simulator saw the crawl's first and last request, in seconds from its start: before the first is
    start-up (interpreter, imports, the chain's models), after the last the crawl's own end (the last batches
    analysed and written, the run record)."""
    if not run.served:
        return "", ""
    return f"{run.served[0][0] - run.started:.2f}", f"{run.served[-1][0] - run.started:.2f}"


def forked_crawl(children: Children, sim: cb.RecordingSimulator, args: list[str], settings_dir: str) -> cb.CrawlRun:
    """run_crawl's crawl, forked from the fork server (Children.run) instead of spawned."""
    mark = sim.mark()
    t0 = time.monotonic()
    child = children.run(cb.crawl_command(sim, "bilibili", args), cb.crawl_env(settings_dir, uuid.uuid4().hex), 900)
    seconds = time.monotonic() - t0
    reports = child.reports
    if not reports:
        raise RuntimeError(f"forked: no stats from the crawl (rc {child.exit_code})\n{child.stderr_tail}")
    run = cb.CrawlRun("batched, forked", seconds, child.exit_code, reports[-1], sim.log[mark:], t0, [], [])
    print(f"batched, forked: {seconds:.1f} s rc {run.rc} responses {run.responses} items {run.items}", flush=True)
    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    cfg = gsconfig.load(None, env={k: v for k, v in os.environ.items() if k != "GROUNDSWELL_INDEX_PREFIX"})
    es = make_client(cfg.elasticsearch)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    batched_dir, per_item_dir = tempfile.mkdtemp(prefix="gsbench-crawl-"), tempfile.mkdtemp(prefix="gsbench-crawl-")
    workers_dir, alone_dir = tempfile.mkdtemp(prefix="gsbench-crawl-"), tempfile.mkdtemp(prefix="gsbench-crawl-")
    Path(alone_dir, f"{cb.SETTINGS_MODULE}.py").write_text(cb.FAST_SETTINGS + ALONE, encoding="utf-8")
    Path(workers_dir, f"{cb.SETTINGS_MODULE}.py").write_text(cb.FAST_SETTINGS + WORKERS, encoding="utf-8")
    Path(batched_dir, f"{cb.SETTINGS_MODULE}.py").write_text(cb.FAST_SETTINGS, encoding="utf-8")
    Path(per_item_dir, f"{cb.SETTINGS_MODULE}.py").write_text(cb.FAST_SETTINGS + PER_ITEM, encoding="utf-8")
    rows: list[tuple[str, float, int, int, str, str, str, str]] = []
    bare: list[float] = []
    targets: list[str] = []
    cad = CADENCE["bilibili"]
    crawl_args = ["-k", cb.KEYWORD, "--max-pages", str(-(-args.videos // 20)), "-a", "incremental=0"]
    forks = ForkServer()
    forks.warm_up()
    children = Children(kill_grace=10, forks=forks)
    try:
        with cb.RecordingSimulator(seed=11, port=0) as sim:
            sim.advance(max(1, args.videos - cad.history + 1) * cad.gap)
            for _ in range(args.repeat):
                for label, folder in (("batched", batched_dir), ("batched, 2 workers", workers_dir),
                                      ("per item", per_item_dir), ("Scrapy alone", alone_dir)):
                    cb.clean(es)
                    before = loadavg()
                    run = cb.run_crawl(label, sim, "bilibili", crawl_args, folder)
                    rows.append((label, run.seconds, run.responses, run.items, *span(run), before, loadavg()))
                    targets = [t for _, t in run.served]
                cb.clean(es)
                before = loadavg()
                run = forked_crawl(children, sim, crawl_args, batched_dir)
                rows.append(("batched, forked", run.seconds, run.responses, run.items, *span(run), before, loadavg()))
                cb.fetch_all(sim.url, targets[:20])  # warm-up
                before = loadavg()
                seconds = cb.fetch_all(sim.url, targets)
                bare.append(seconds)
                rows.append(("bare fetch loop", seconds, len(targets), 0, "", "", before, loadavg()))
    finally:
        cb.clean(es)
        es.close()
    bare_pps = len(targets) / statistics.median(bare)
    kinds = ("batched", "batched, 2 workers", "per item", "batched, forked", "Scrapy alone")
    med = {k: statistics.median(r[2] / r[1] for r in rows if r[0] == k) for k in kinds}
    out = [SECTION, "",
           f"Measured {started} UTC by `.venv/bin/python bench/crawl_http_bench.py --videos {args.videos} --repeat "
           f"{args.repeat}`: `groundswell crawl bilibili -k 小米 --max-pages {-(-args.videos // 20)} "
           "-a incremental=0` "
           "against the simulator (AutoThrottle off, 8 per domain, no delay), each crawl its own process timed from "
           "spawn to exit; the bare loop GETs the same targets the crawl sent (single-threaded http.client, bodies "
           "read, nothing parsed). 2 cores shared with other work: see the load columns.", "",
           "| | pages/s (median) | / bare fetch loop |", "|---|---:|---:|",
           f"| bare fetch loop | {bare_pps:,.1f} | 1.00 |"]
    for k, v in med.items():
        name = "Scrapy alone, no item pipelines (the ceiling)" if k == "Scrapy alone" else f"crawl, {k}"
        out.append(f"| {name} | {v:,.1f} | **{v / bare_pps:.3f}** |")
    out += ["", "| run | s | responses | items | first request at s | last request at s | load before | load after |",
            "|---|---:|---:|---:|---:|---:|---|---|"]
    out += [f"| {k} | {s:.2f} | {r} | {i} | {f} | {la} | {b} | {a} |" for k, s, r, i, f, la, b, a in rows]
    section = "\n".join(out) + "\n"
    print(section)
    if args.write:
        results.write_section(SECTION, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
