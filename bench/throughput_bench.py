"""Ingest against a bare bulk of the same records, start-up included, with the machine's load and peak memory.

    .venv/bin/python bench/throughput_bench.py [-n 20000] [--repeat 2] [--workers 0,2] [--text clauses|real] [--brands]
        [--write]

The headline of issue 14: `groundswell ingest FILE` (a subprocess, spawn to exit) against a bare bulk of the very
same records (a subprocess too, spawn to exit: json.loads each line and `helpers.streaming_bulk` it, chunk 500,
into one plain index, id platform-source_id so re-observations overwrite, then one refresh; no analysis, no
template, no merge). Runs alternate (bare, ingest --workers W for each W, bare, ...), each on an emptied prefix.
For each run: wall seconds, peak RSS and PSS of the process tree (sampled from /proc every 0.1 s: the analysis
workers are children of ingest and share the parent's pages, which PSS counts once), Elasticsearch's CPU seconds,
and the load average before and after (other engineers share this machine's two cores).

Then, in this process, the cost of each stage per 1,000 mentions on the first 5,000 lines (one process, batches
of 500; the Elasticsearch stage split into cluster ids, repeat marks and writes).

docs/s is input lines per second. `--write` replaces the section below in bench/RESULTS.md.

`--brands` adds, after each ingest, the same ingest with the generated data's brands configured (`--config` naming
bench/generate.py's five brands and their products): the brand stage then matches every text and keeps what reposts
need in order, in the ingest process; without brands it passes mentions unchanged and runs in the workers
(pipelines.brands). The lines name their brand, so both store the same documents.

`--text` is bench/generate.py's: `clauses` (the default, the headline) composes posts whose near-duplicate band keys
collide ~400 times as often as real Weibo posts (bench/collisions_bench.py), so the cluster resolution of every batch
compares many candidates; `real` builds posts from real clauses, which collide like reviews of one brand. Each has
its own section in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import results

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / ".data"
SECTION = "## Throughput: ingest against a bare bulk (issue 14)"
SECTION_REAL = "## Throughput: ingest of posts of real clauses against a bare bulk (issue 14)"
PREFIX = "gsthru"
BARE_INDEX = "gsthru-bare-plain"
ES_URL = os.environ.get("GROUNDSWELL_ES_URL", "http://127.0.0.1:9200")
CHUNK = 500


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- the bare side (run as its own process) ------------------------------------------------------------------


def bare(path: Path) -> None:
    """Every line of `path` into one plain index, as fast as the client goes: the store's side of the ratio."""
    from elasticsearch import Elasticsearch, helpers

    es = Elasticsearch(ES_URL, request_timeout=120)

    def actions() -> Iterator[dict[str, Any]]:
        with open(path, encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                yield {"_index": BARE_INDEX, "_id": f"{record['platform']}-{record.get('source_id')}",
                       "_source": record}

    n = sum(1 for ok, _ in helpers.streaming_bulk(es, actions(), chunk_size=CHUNK, raise_on_error=True) if ok)
    es.indices.refresh(index=BARE_INDEX)
    print(json.dumps({"indexed": n}))


# --- measuring a process tree --------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def _rss_pss(pid: int) -> tuple[int, int]:
    """kB resident and proportional-share of one process (0 once it is gone)."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


class TreeMemory(threading.Thread):
    """Peak RSS and PSS summed over a process and its descendants, and the peak RSS of the process alone."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.stop = threading.Event()
        self.rss = self.pss = self.main_rss = self.procs = 0

    def run(self) -> None:
        while not self.stop.is_set():
            pids, todo = [], [self.pid]
            while todo:
                p = todo.pop()
                pids.append(p)
                todo += _children(p)
            sizes = [_rss_pss(p) for p in pids]
            self.rss = max(self.rss, sum(r for r, _ in sizes))
            self.pss = max(self.pss, sum(p for _, p in sizes))
            self.main_rss = max(self.main_rss, sizes[0][0])
            self.procs = max(self.procs, len(pids))
            self.stop.wait(0.1)


def es_cpu_seconds() -> float:
    """CPU seconds the local Elasticsearch process has used so far (from /proc)."""
    import urllib.request

    with urllib.request.urlopen(f"{ES_URL}/_nodes/_local/process?filter_path=nodes.*.process.id") as r:
        pid = next(iter(json.load(r)["nodes"].values()))["process"]["id"]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    kind: str
    seconds: float
    lines: int
    peak_rss_mb: float
    peak_pss_mb: float
    main_rss_mb: float
    procs: int
    es_cpu: float
    client_cpu: float
    load_before: str
    load_after: str
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.lines / self.seconds


def timed(kind: str, cmd: list[str], lines: int, env: dict[str, str]) -> Run:
    before, es0 = loadavg(), es_cpu_seconds()
    usage0 = os.times()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=DATA)
    mem = TreeMemory(proc.pid)
    mem.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    mem.stop.set()
    mem.join()
    usage1 = os.times()
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed ({proc.returncode}): {err.decode()[-2000:]}")
    summary = json.loads(out.decode().strip().splitlines()[-1])
    return Run(kind, seconds, lines, mem.rss / 1024, mem.pss / 1024, mem.main_rss / 1024, mem.procs,
               es_cpu_seconds() - es0, (usage1.children_user + usage1.children_system)
               - (usage0.children_user + usage0.children_system), before, loadavg(), summary)


def empty(es: Any) -> None:
    """Nothing of ours left on the node: indices and index templates of the prefix."""
    from elasticsearch import NotFoundError

    for name in list(es.indices.get(index=f"{PREFIX}-*", allow_no_indices=True, ignore_unavailable=True).body):
        es.indices.delete(index=name)
    with contextlib.suppress(NotFoundError):
        es.indices.delete_index_template(name=f"{PREFIX}*")


def brands_config() -> Path:
    """A configuration naming bench/generate.py's brands and their products (what a user monitoring them writes)."""
    import generate  # here, not at the top: the bare side runs this module too, and its start-up is timed

    path = DATA / "brands.yaml"
    lines = ["brands:"]
    for name, products in generate.BRANDS.items():
        lines += [f"  - name: {json.dumps(name, ensure_ascii=False)}",
                  f"    products: {json.dumps(list(products), ensure_ascii=False)}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDSWELL_")}
    env.update(GROUNDSWELL_INDEX_PREFIX=PREFIX, GROUNDSWELL_ES_URL=ES_URL, GROUNDSWELL_HOME=str(DATA / "home"))
    return env


# --- per-stage costs ---------------------------------------------------------------------------------------------


def stage_costs(path: Path, lines: int = 5000) -> tuple[dict[str, float], int]:
    """Seconds per 1,000 mentions of each stage, in one process, on the first `lines` lines."""
    os.environ.update(environment())
    os.chdir(DATA)
    sys.path.insert(0, str(ROOT))
    from elasticsearch import Elasticsearch

    from groundswell.ingest import read
    from pipelines.chain import PipelineChain, run_stages
    from pipelines.elasticsearch import ElasticsearchPipeline

    empty(Elasticsearch(ES_URL))
    costs: dict[str, float] = {}

    def clock(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                costs[name] = costs.get(name, 0.0) + time.perf_counter() - t
        return wrapped

    t = time.perf_counter()
    chain = PipelineChain.from_project({"GROUNDSWELL_CONFIG_PATH": None, "GROUNDSWELL_BATCH_SIZE": CHUNK})
    costs["build the chain (once)"] = time.perf_counter() - t
    sink = chain.stage(ElasticsearchPipeline)
    sink.clusters.resolve = clock("  cluster ids (clusters.resolve)", sink.clusters.resolve)  # type: ignore[method-assign]
    sink.repeats.resolve = clock("  repeat marks (repeats.resolve)", sink.repeats.resolve)  # type: ignore[method-assign]
    sink.writer.write = clock("  find stored + merge + bulk (writer.write)", sink.writer.write)  # type: ignore[method-assign]
    n = 0
    with chain:
        t = time.perf_counter()
        batch: list[Any] = []
        batches = []
        for line in read(str(path)):
            if line.mention is not None:
                batch.append(line.mention)
                n += 1
            if len(batch) == CHUNK:
                batches.append(batch)
                batch = []
            if n >= lines:
                break
        batches.append(batch)
        costs["read + json.loads + to_mention"] = time.perf_counter() - t
        for b in batches:
            results: list[Any] = list(b)
            for stage in chain.stages:
                t = time.perf_counter()
                results = run_stages([stage], results)
                costs[type(stage).__name__] = costs.get(type(stage).__name__, 0.0) + time.perf_counter() - t
        t = time.perf_counter()
    costs[ElasticsearchPipeline.__name__] += time.perf_counter() - t  # its flush at close
    empty(Elasticsearch(ES_URL))
    return {k: v if k.startswith("build") else v * 1000 / n for k, v in costs.items()}, n


# --- the report ----------------------------------------------------------------------------------------------


def render(
    n: int, runs: list[Run], costs: dict[str, float], cost_lines: int, started: str, text: str = "clauses",
    flags: str = "",
) -> str:
    kinds = list(dict.fromkeys(r.kind for r in runs))
    med = {k: statistics.median(r.rate for r in runs if r.kind == k) for k in kinds}
    bare_rate = med["bare bulk"]
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    git = ["git", "rev-parse", "--short", "HEAD"]
    head = subprocess.run(git, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    form = "" if text == "clauses" else f" --text {text}"
    out = [
        SECTION_REAL if text == "real" else SECTION, "",
        f"Measured {started} UTC by `.venv/bin/python bench/throughput_bench.py -n {n}{form}{flags}` on committed code "
        f"(git {head}); "
        f"{cpu} cores shared with other engineers' work (see the load columns), Elasticsearch 8.19 on this machine.",
        f"Data: `bench/generate.py -n {n}{form}` (seeded; ~5% re-observations of earlier posts). Runs alternate; each "
        "starts on an emptied prefix; every process is timed from spawn to exit (start-up included).", "",
        "| | docs/s (median) | / bare bulk |", "|---|---:|---:|",
    ]
    for k in kinds:
        out.append(f"| {k} | {med[k]:,.0f} | **{med[k] / bare_rate:.2f}** |")
    out += ["", "| run | kind | s | docs/s | peak RSS MB (tree) | peak PSS MB (tree) | main RSS MB | procs | "
            "ES CPU s | client CPU s | load before | load after |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for i, r in enumerate(runs, 1):
        out.append(f"| {i} | {r.kind} | {r.seconds:.1f} | {r.rate:,.0f} | {r.peak_rss_mb:.0f} | {r.peak_pss_mb:.0f} | "
                   f"{r.main_rss_mb:.0f} | {r.procs} | {r.es_cpu:.1f} | {r.client_cpu:.1f} | {r.load_before} | "
                   f"{r.load_after} |")
    out += ["", f"Cost of each stage per 1,000 mentions, one process, first {cost_lines:,} lines, batches of {CHUNK} "
            "(the rows indented under the Elasticsearch stage are its parts: cluster ids and repeat marks on its own "
            "thread, find stored + merge + bulk on its committer thread, overlapping the next batch's lookups, so "
            "the parts can add up to more than the stage):",
            "", "| stage | s per 1,000 |", "|---|---:|"]
    parts = [k for k in costs if k.startswith("  ")]
    for k in [k for k in costs if not k.startswith("  ")]:
        out.append(f"| {k} | {costs[k]:.3f} |")
        if k == "ElasticsearchPipeline":
            out += [f"| {p.replace('  ', '&nbsp;&nbsp;&nbsp;&nbsp;')} | {costs[p]:.3f} |" for p in parts]
    return "\n".join(out) + "\n"


def write_results(section: str, text: str = "clauses") -> None:
    if text == "real":
        results.write_section(SECTION_REAL, section)
    else:
        results.write_section(SECTION, section, first=True)  # the headline: first when new


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workers", default="0,2", help="ingest --workers values to run, comma-separated")
    ap.add_argument("--write", action="store_true", help="replace the section in bench/RESULTS.md")
    ap.add_argument("--text", choices=("clauses", "real"), default="clauses", help="bench/generate.py's text form")
    ap.add_argument("--brands", action="store_true", help="each ingest again with the data's brands configured")
    ap.add_argument("--bare", type=Path, help=argparse.SUPPRESS)  # the bare side, in its own process
    args = ap.parse_args(argv)
    if args.bare:
        bare(args.bare)
        return 0
    from elasticsearch import Elasticsearch

    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    DATA.mkdir(exist_ok=True)
    form = "" if args.text == "clauses" else f"-{args.text}"
    path = DATA / f"thru{form}-{args.n}.jsonl"
    if not path.exists():
        subprocess.run([sys.executable, str(BENCH / "generate.py"), str(path), "-n", str(args.n), "--text", args.text],
                       check=True)
    es = Elasticsearch(ES_URL)
    env = environment()
    exe = str(Path(sys.executable).parent / "groundswell")
    variants = [(f"groundswell ingest --workers {w}", ["--workers", w]) for w in args.workers.split(",")]
    if args.brands:
        config = str(brands_config())
        variants = [v for kind, flags in variants
                    for v in ((kind, flags), (f"{kind}, brands configured", [*flags, "--config", config]))]
    runs: list[Run] = []
    for _ in range(args.repeat):
        empty(es)
        runs.append(timed("bare bulk", [sys.executable, str(Path(__file__).resolve()), "--bare", str(path)],
                          args.n, env))
        for kind, flags in variants:
            empty(es)
            run = timed(kind, [exe, "ingest", str(path), "--json", *flags], args.n, env)
            s = run.summary
            if s["read"] != args.n or s["indexed"] + s["updated"] + s["duplicates"] != args.n:
                raise SystemExit(f"ingest did not store every line: {s}")
            runs.append(run)
            print(f"{run.kind}: {run.rate:,.0f} docs/s, load {run.load_before} -> {run.load_after}", flush=True)
        print(f"bare bulk: {runs[-1 - len(variants)].rate:,.0f} docs/s", flush=True)
    empty(es)
    costs, cost_lines = stage_costs(path)
    flags = f" --repeat {args.repeat} --workers {args.workers}" + (" --brands" if args.brands else "")
    section = render(args.n, runs, costs, cost_lines, started, args.text, flags)
    print(section)
    if args.write:
        write_results(section, args.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
