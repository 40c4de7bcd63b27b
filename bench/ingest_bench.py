"""Ingest throughput: `groundswell ingest` against a bare bulk-index of the same documents, in one run.

    .venv/bin/python bench/ingest_bench.py [-n 100000] [--repeat 3] [--no-write] [--profile] [--keep]

Generates N mentions once (bench/generate.py, seeded, ~5% re-observations) into bench/.data, warms the
node up with one untimed bare run, then alternates bare, ingest, bare, ingest, ... on a freshly emptied
index prefix (`gsbench`) each time:

- bare: in this process, stream the file through json.loads + groundswell.ingest.to_mention + normalize +
  mapping.to_document (the very documents, ids and monthly indices ingest writes) into
  `elasticsearch.helpers.bulk` (`index` op, chunk 500), after installing the index template, then one
  refresh. Timed end to end from opening the file ("bare e2e"). The time spent inside the document
  generator is measured too; e2e minus that is "bare bulk" (template, bulk calls, refresh).
- ingest: `groundswell ingest FILE --json` as a subprocess, wall clock from spawn to exit (interpreter and
  import start-up included; that start-up is also measured on its own, with an empty file).

docs/s is input lines per second in every column (N lines; the re-observation lines overwrite in the bare
run and merge in ingest). After every run the alias must hold exactly the unique mentions, and ingest's
summary must account for every line, or the benchmark stops with an error. The ratio is ingest docs/s over
bare docs/s, medians of the repeats: speed targets are such ratios, never timings.
Results replace the "## Ingest throughput" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import elasticsearch
from elasticsearch import Elasticsearch, helpers

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate

from groundswell.ingest import to_mention
from groundswell.store import mapping
from groundswell.store.client import ensure_schema, server_version
from pipelines.normalize import normalize

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / ".data"
RESULTS = BENCH / "RESULTS.md"
SECTION = "## Ingest throughput"
PREFIX = "gsbench"
CHUNK = 500  # helpers.bulk chunk_size, and ingest's default --batch-size
SAMPLE = 200  # stored documents compared with the expected ones after each ingest, per kind


class BenchError(Exception):
    """A run did not store what it should have: its numbers would be meaningless."""


@dataclass
class Expected:
    lines: int
    unique: int
    observations: Counter[str]  # mention_id -> number of lines carrying it
    sample: dict[str, dict[str, Any]]  # a few mention_ids -> the document of their last line

    @property
    def reobservations(self) -> int:
        return self.lines - self.unique


@dataclass
class Run:
    kind: str  # "bare" or "ingest"
    seconds: float
    build_seconds: float | None = None  # bare only: time inside the document generator
    client_cpu: float = 0.0  # user+sys seconds of the client (this process, or the ingest subprocess)
    other_ops: int = 0  # indexing ops on the node during the run that were not ours (concurrent users)
    es_cpu: float = 0.0  # CPU seconds the Elasticsearch process used during the run
    other_cpu: float = 0.0  # CPU seconds the rest of the machine used meanwhile (noise)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def bulk_seconds(self) -> float | None:
        return None if self.build_seconds is None else self.seconds - self.build_seconds


# --- Elasticsearch housekeeping -----------------------------------------------------------------------------


def our_indices(es: Elasticsearch) -> list[str]:
    pattern = mapping.index_pattern(PREFIX)
    return sorted(es.indices.get(index=pattern, allow_no_indices=True, ignore_unavailable=True).body)


def empty_prefix(es: Elasticsearch, *, template: bool = True) -> None:
    """Delete the prefix's indices by name (wildcard deletes are refused on this node) and its template."""
    names = our_indices(es)
    if names:
        es.indices.delete(index=",".join(names))
    if template:
        es.options(ignore_status=404).indices.delete_index_template(name=mapping.template_name(PREFIX))
    left = our_indices(es)
    if left:
        raise BenchError(f"could not empty prefix {PREFIX}: {left} still there")


def node_index_total(es: Elasticsearch) -> int:
    stats = es.nodes.stats(node_id="_local", metric="indices", index_metric="indexing")
    return sum(n["indices"]["indexing"]["index_total"] for n in stats["nodes"].values())


def our_index_total(es: Elasticsearch) -> int:
    names = our_indices(es)
    if not names:
        return 0
    stats = es.indices.stats(index=",".join(names), metric="indexing")
    return int(stats["_all"]["primaries"]["indexing"]["index_total"])


class CpuMeter:
    """CPU seconds over a run: the whole machine (/proc/stat), the Elasticsearch process, and the client."""

    def __init__(self, es: Elasticsearch):
        self.es = es
        info = es.nodes.info(node_id="_local", metric="process", filter_path="nodes.*.process.id")
        pids = [n["process"]["id"] for n in (info.body.get("nodes") or {}).values()]
        self.es_stat = Path(f"/proc/{pids[0]}/stat") if pids else None
        self.start = self._now()

    def _es_cpu(self) -> float:
        """From /proc when the node runs here (exact); else the node's own, coarser, cached figure."""
        if self.es_stat is not None and self.es_stat.exists():
            fields = self.es_stat.read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
        stats = self.es.nodes.stats(node_id="_local", metric="process")
        return float(sum(n["process"]["cpu"]["total_in_millis"] for n in stats["nodes"].values())) / 1000

    def _now(self) -> tuple[float, float]:
        busy = 0.0
        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
            busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError):
            pass
        return busy, self._es_cpu()

    def busy_cores(self, seconds: float = 2.0) -> float:
        """Cores busy outside the Elasticsearch process over the next `seconds` (this process is idle)."""
        busy0, es0 = self._now()
        time.sleep(seconds)
        busy1, es1 = self._now()
        return max((busy1 - busy0) - (es1 - es0), 0.0) / seconds

    def stop(self, run: Run) -> None:
        busy, es_cpu = self._now()
        run.es_cpu = es_cpu - self.start[1]
        run.other_cpu = max(busy - self.start[0] - run.es_cpu - run.client_cpu, 0.0)


def wait_quiet(es: Elasticsearch, limit: float, threshold: float = 0.25) -> float:
    """Wait up to `limit` seconds for other processes to leave the CPUs (less than `threshold` cores busy
    outside Elasticsearch); the machine is shared. Returns the seconds waited."""
    meter, t0 = CpuMeter(es), time.perf_counter()
    while time.perf_counter() - t0 < limit:
        if meter.busy_cores() < threshold:
            break
    return time.perf_counter() - t0


def check_stored(es: Elasticsearch, exp: Expected, kind: str) -> None:
    """The alias holds one document per unique mention; fail loudly otherwise."""
    alias = mapping.alias(PREFIX)
    es.indices.refresh(index=alias)
    count = es.count(index=alias)["count"]
    if count != exp.unique:
        raise BenchError(f"{kind}: {alias} holds {count} documents, expected {exp.unique} unique mentions")


def check_merged(es: Elasticsearch, exp: Expected) -> None:
    """After ingest: re-observed mentions carry one history entry per line and the newest counts; mentions
    seen once are stored exactly as mapping.to_document built them."""
    ids = list(exp.sample)
    docs = [{"_index": mapping.index_of(exp.sample[i], PREFIX), "_id": i} for i in ids]
    got = {d["_id"]: d.get("_source") for d in es.mget(docs=docs)["docs"]}
    for i in ids:
        want, src = exp.sample[i], got.get(i) or {}
        if exp.observations[i] == 1:
            if src != want:
                raise BenchError(f"ingest: stored {i} differs from mapping.to_document of its line")
            continue
        history = src.get("engagement_history") or []
        if len(history) != exp.observations[i] or src.get("likes") != want["likes"]:
            raise BenchError(
                f"ingest: {i} has {len(history)} observations and likes={src.get('likes')}, "
                f"expected {exp.observations[i]} and likes={want['likes']}"
            )


# --- the two contenders -------------------------------------------------------------------------------------


def documents(path: Path, now: datetime) -> Iterator[dict[str, Any]]:
    """The project's own record -> Mention -> normalized -> document path, without the pipeline chain."""
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            m = to_mention(json.loads(raw), f"{path}:line {number}")
            yield mapping.to_document(normalize(m, now))


def action(doc: dict[str, Any]) -> dict[str, Any]:
    return {"_op_type": "index", "_index": mapping.index_of(doc, PREFIX), "_id": doc["mention_id"], "_source": doc}


def expected(path: Path) -> Expected:
    obs: Counter[str] = Counter()
    last: dict[str, dict[str, Any]] = {}
    for doc in documents(path, datetime.now(UTC)):
        obs[doc["mention_id"]] += 1
        last[doc["mention_id"]] = doc
    many = [i for i, n in obs.items() if n > 1][:SAMPLE]
    once = [i for i, n in obs.items() if n == 1][:: max(1, len(obs) // SAMPLE)][:SAMPLE]
    # keep only the sample: 100k documents held here would slow this process's garbage collector, i.e.
    # the bare runs, and not the ingest subprocess
    return Expected(sum(obs.values()), len(obs), obs, {i: last[i] for i in many + once})


def run_bare(es: Elasticsearch, path: Path, exp: Expected | None) -> Run:
    """Stream the documents into helpers.bulk; `exp` None: a warm-up, not checked."""
    empty_prefix(es)
    before = node_index_total(es)
    meter = CpuMeter(es)
    build = 0.0

    def timed_actions() -> Iterator[dict[str, Any]]:
        nonlocal build
        docs = documents(path, datetime.now(UTC))
        while True:
            t = time.perf_counter()
            doc = next(docs, None)
            act = None if doc is None else action(doc)
            build += time.perf_counter() - t
            if act is None:
                return
            yield act

    cpu0 = time.process_time()
    t0 = time.perf_counter()
    ensure_schema(es, PREFIX)
    ok, errors = helpers.bulk(es, timed_actions(), chunk_size=CHUNK, refresh=False)
    es.indices.refresh(index=mapping.alias(PREFIX))
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    run = Run("bare", seconds, build_seconds=build, client_cpu=cpu)
    meter.stop(run)
    if exp is None:
        return run
    if ok != exp.lines or errors:
        raise BenchError(f"bare: bulk reported {ok} ok of {exp.lines}, errors: {errors!r:.500}")
    run.other_ops = max(node_index_total(es) - before - our_index_total(es), 0)
    check_stored(es, exp, "bare")
    return run


def ingest_env(es_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDSWELL_")}
    env.update(
        GROUNDSWELL_INDEX_PREFIX=PREFIX,
        GROUNDSWELL_ES_URL=es_url,
        GROUNDSWELL_HOME=str(DATA / "home"),  # its own spool: nothing from another run or prefix replays
    )
    return env


def groundswell_exe() -> str:
    beside = Path(sys.executable).parent / "groundswell"
    found = str(beside) if beside.exists() else shutil.which("groundswell")
    if not found:
        raise BenchError("no `groundswell` executable next to this Python or on PATH; pip install -e . first")
    return found


def run_ingest(es: Elasticsearch, path: Path, exp: Expected, es_url: str) -> Run:
    empty_prefix(es)
    shutil.rmtree(DATA / "home", ignore_errors=True)
    before = node_index_total(es)
    cmd = [groundswell_exe(), "ingest", str(path), "--json"]
    meter = CpuMeter(es)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=ingest_env(es_url), cwd=DATA, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    run = Run("ingest", seconds, client_cpu=cpu)
    meter.stop(run)
    if proc.returncode != 0:
        raise BenchError(f"ingest exited {proc.returncode}\nstdout: {proc.stdout[-2000:]}\n"
                         f"stderr: {proc.stderr[-2000:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    want = {"read": exp.lines, "indexed": exp.unique, "updated": exp.reobservations, "duplicates": 0,
            "rejected": 0, "spooled": 0, "replayed": 0}
    wrong = {k: (summary.get(k), v) for k, v in want.items() if summary.get(k) != v}
    if wrong:
        raise BenchError(f"ingest summary off (got, expected): {wrong}\nfull summary: {summary}")
    run.other_ops = max(node_index_total(es) - before - our_index_total(es), 0)
    run.summary = summary
    check_stored(es, exp, "ingest")
    check_merged(es, exp)
    return run


def startup_seconds(es_url: str, repeat: int) -> float:
    """`groundswell ingest` of an empty file: interpreter, imports, config, pipeline chain, one refresh."""
    empty = DATA / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    cmd = [groundswell_exe(), "ingest", str(empty), "--json"]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=ingest_env(es_url), cwd=DATA, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def profile_ingest(es: Elasticsearch, path: Path, es_url: str, top: int = 30) -> str:
    """One untimed ingest under cProfile: the top functions by own time and by cumulative time."""
    import pstats
    from io import StringIO

    empty_prefix(es)
    shutil.rmtree(DATA / "home", ignore_errors=True)
    out = DATA / "ingest.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "groundswell.cli.main", "ingest", str(path)]
    subprocess.run(cmd, env=ingest_env(es_url), cwd=DATA, capture_output=True, check=True)
    buf = StringIO()
    stats = pstats.Stats(str(out), stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


# --- reporting ----------------------------------------------------------------------------------------------


def machine(es: Elasticsearch) -> dict[str, str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    heap = es.nodes.info(node_id="_local", metric="jvm", filter_path="nodes.*.jvm.mem.heap_max_in_bytes")
    heap_gib = next(iter(heap["nodes"].values()))["jvm"]["mem"]["heap_max_in_bytes"] / 2**30
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    client = ".".join(map(str, elasticsearch.__version__))
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "memory": f"{mem_gib:.0f} GiB",
        "es": f"Elasticsearch {server_version(es)}, one node on this machine, heap {heap_gib:.1f} GiB",
        "python": f"Python {platform.python_version()}, elasticsearch-py {client}",
        "load": "load average {:.2f} {:.2f} {:.2f} at start".format(*os.getloadavg()),
    }


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("nan")


def _spread(values: list[float]) -> float:
    """(max - min) / median: a rough noise figure."""
    return (max(values) - min(values)) / statistics.median(values) if values else 0.0


@dataclass
class Summary:
    n: int
    bare: float  # docs/s, medians
    bare_bulk: float
    ingest: float
    ingest_warm: float
    startup: float
    build_share: float  # share of the bare run's wall time spent building documents
    cpu_bare: float
    cpu_ingest: float
    es_cpu_bare: float
    es_cpu_ingest: float
    spread_bare: float
    spread_ingest: float
    noisy: bool

    @property
    def ratio(self) -> float:
        return self.ingest / self.bare

    @property
    def ratio_bulk(self) -> float:
        return self.ingest / self.bare_bulk


def summarize(n: int, runs: list[Run], startup: float) -> Summary:
    bare = [r for r in runs if r.kind == "bare"]
    ing = [r for r in runs if r.kind == "ingest"]
    return Summary(
        n=n,
        bare=statistics.median(rate(n, r.seconds) for r in bare),
        bare_bulk=statistics.median(rate(n, r.bulk_seconds or 0.0) for r in bare),
        ingest=statistics.median(rate(n, r.seconds) for r in ing),
        ingest_warm=statistics.median(rate(n, r.seconds - startup) for r in ing),
        startup=startup,
        build_share=statistics.median((r.build_seconds or 0.0) / r.seconds for r in bare),
        cpu_bare=statistics.median(r.client_cpu for r in bare),
        cpu_ingest=statistics.median(r.client_cpu for r in ing),
        es_cpu_bare=statistics.median(r.es_cpu for r in bare),
        es_cpu_ingest=statistics.median(r.es_cpu for r in ing),
        spread_bare=_spread([rate(n, r.seconds) for r in bare]),
        spread_ingest=_spread([rate(n, r.seconds) for r in ing]),
        noisy=any(r.other_ops > 1000 or r.other_cpu > 0.1 * r.seconds for r in runs),
    )


def reading(s: Summary) -> str:
    if s.ratio >= 0.8:
        verdict = "close to the bare rate"
    elif s.ratio >= 0.5:
        verdict = "within a factor of two of the bare rate"
    elif s.ratio >= 0.25:
        verdict = "between a quarter and a half of the bare rate"
    else:
        verdict = "below a quarter of the bare rate: the ingest path costs far more than its bulk writes"
    noise = (
        "other processes used the machine or the node during some runs (last two columns), so small "
        "differences are noise" if s.noisy else "nothing else used the machine or the node noticeably meanwhile"
    )
    return (
        f"Reading: `groundswell ingest` stores {s.ingest:,.0f} lines/s against {s.bare:,.0f} for a bare bulk "
        f"of the same documents built by the same code, a ratio of {s.ratio:.2f} ({verdict}). Both are "
        "single-threaded and synchronous, so building documents and waiting for Elasticsearch add up: in the "
        f"bare runs {s.build_share:.0%} of the wall time is json.loads + normalize + to_document, and against "
        f"the bare bulk calls alone ingest's ratio is {s.ratio_bulk:.2f}. On top of that shared work, ingest "
        f"pays its start-up ({s.startup:.1f} s: interpreter, Scrapy and client imports, config, pipeline "
        "chain), the per-item pipeline chain, and per batch an mget of the batch's ids before the bulk, so "
        "that re-observed mentions merge their engagement history (create / if_seq_no writes) where the bare "
        f"run just overwrites. Medians of CPU seconds: client {s.cpu_ingest:.1f} (ingest) vs {s.cpu_bare:.1f} "
        f"(bare), Elasticsearch {s.es_cpu_ingest:.1f} vs {s.es_cpu_bare:.1f}, on {os.cpu_count()} CPUs shared by "
        "both. Run-to-run spread (max-min over median) was "
        f"{s.spread_bare:.0%} for bare and {s.spread_ingest:.0%} for ingest; {noise}."
    )


def render(exp: Expected, runs: list[Run], startup: float, info: dict[str, str], path: Path) -> str:
    n = exp.lines
    s = summarize(n, runs, startup)
    reps = sum(r.kind == "bare" for r in runs)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    size = path.stat().st_size / 2**20
    lines = [
        SECTION,
        "",
        f"Measured {now} by `.venv/bin/python bench/ingest_bench.py`: {reps} runs of each, alternating "
        "(bare, ingest, bare, ...) after one untimed bare warm-up run.",
        "",
        f"- Machine: nproc {info['nproc']} ({info['cpu']}), {info['memory']} RAM, {info['load']}.",
        f"- Store: {info['es']}; client {info['python']}.",
        f"- Data: `bench/generate.py` (seed {generate.SEED}), {n} lines ({size:.1f} MiB): {exp.unique} "
        f"unique mentions and {exp.reobservations} re-observations of earlier posts with higher counts.",
        "- Every run starts on an empty `gsbench` prefix (indices and template deleted by name) and is "
        f"checked after: the alias `gsbench-mentions` holds exactly {exp.unique} documents; for ingest also "
        f"its summary (read {n}, indexed {exp.unique}, updated {exp.reobservations}, duplicates 0, rejected 0) "
        f"and {len(exp.sample)} sampled documents (re-observed ones carry one history entry per line, the "
        "others equal `mapping.to_document`).",
        "",
        "| | docs/s (median) | ingest / this | what is timed |",
        "|---|---:|---:|---|",
        f"| bare e2e | {s.bare:,.0f} | **{s.ratio:.2f}** | in this process, from opening the file: json.loads "
        f"+ `to_mention` + `normalize` + `to_document` streamed into `helpers.bulk` (index, chunk {CHUNK}), "
        "after putting the template; then one refresh |",
        f"| bare bulk | {s.bare_bulk:,.0f} | {s.ratio_bulk:.2f} | the same runs minus the time spent in the "
        "document generator: template, bulk requests (incl. serializing), refresh |",
        f"| groundswell ingest | {s.ingest:,.0f} | 1.00 | `groundswell ingest FILE --json` subprocess, spawn "
        f"to exit, start-up included (batch {CHUNK}) |",
        "",
        f"docs/s = {n} input lines / seconds. Ingest start-up alone (`groundswell ingest` of an empty file, "
        f"median of 3): {startup:.2f} s; without it ingest would do {s.ingest_warm:,.0f} docs/s.",
        "",
        "CPU seconds per run: the client (this process, or the ingest subprocess), the Elasticsearch process, "
        "and everything else on the machine meanwhile (noise); other index ops are other clients' writes "
        "to the node during the run.",
        "",
        "| run | kind | seconds | docs/s | building docs s | client CPU s | ES CPU s | other CPU s | other index ops |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i, r in enumerate(runs, 1):
        build = "" if r.build_seconds is None else f"{r.build_seconds:.2f}"
        lines.append(f"| {i} | {r.kind} | {r.seconds:.2f} | {rate(n, r.seconds):,.0f} | {build} | "
                     f"{r.client_cpu:.1f} | {r.es_cpu:.1f} | {r.other_cpu:.1f} | {r.other_ops} |")
    lines += ["", reading(s), ""]
    return "\n".join(lines)


def write_results(section: str) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    RESULTS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


# --- main ---------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=100_000, help="mentions to generate (default 100000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each kind (default 3)")
    ap.add_argument("--es-url", default="http://127.0.0.1:9200")
    ap.add_argument("--no-write", action="store_true", help="print the section, leave RESULTS.md alone")
    ap.add_argument("--profile", action="store_true", help="then profile one ingest with cProfile, print it")
    ap.add_argument("--keep", action="store_true", help="leave the last run's gsbench indices in place")
    ap.add_argument("--wait-quiet", type=float, default=180, metavar="SECONDS",
                    help="before each timed run, wait up to this long for other processes to go idle "
                         "(default 180; 0: don't wait)")
    args = ap.parse_args(argv)

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"mentions-{args.n}.jsonl"
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        unique, reobs = generate.generate(f, args.n)
    print(f"generated {path}: {args.n} lines, {unique} posts, {reobs} re-observations", file=sys.stderr)

    es = Elasticsearch(args.es_url, request_timeout=120)
    try:
        es.cluster.health(wait_for_status="yellow", timeout="60s")
        info = machine(es)
        exp = expected(path)
        if exp.unique != unique or exp.lines != args.n:
            raise BenchError(f"generator wrote {args.n} lines / {unique} posts, documents say "
                             f"{exp.lines} / {exp.unique}")
        gc.collect()
        gc.freeze()  # what is alive now (modules, the expectations) stays out of the collector's way

        warm = run_bare(es, path, None)
        print(f"warm-up bare: {warm.seconds:.2f} s", file=sys.stderr)
        startup = startup_seconds(args.es_url, 3)
        print(f"ingest start-up (empty file): {startup:.2f} s", file=sys.stderr)
        runs: list[Run] = []
        for i in range(args.repeat):
            for kind in ("bare", "ingest"):
                waited = wait_quiet(es, args.wait_quiet) if args.wait_quiet > 0 else 0.0
                if waited > 3:
                    print(f"waited {waited:.0f} s for the machine to go quiet", file=sys.stderr)
                r = run_bare(es, path, exp) if kind == "bare" else run_ingest(es, path, exp, args.es_url)
                runs.append(r)
                built = "" if r.build_seconds is None else f" (building docs {r.build_seconds:.2f} s)"
                print(f"round {i + 1} {kind:6}: {r.seconds:6.2f} s {rate(exp.lines, r.seconds):8,.0f} docs/s"
                      f"{built}, CPU client {r.client_cpu:.1f} s ES {r.es_cpu:.1f} s other {r.other_cpu:.1f} s, "
                      f"other index ops {r.other_ops}", file=sys.stderr)

        section = render(exp, runs, startup, info, path)
        print(section)
        if not args.no_write:
            write_results(section)
            print(f"wrote {RESULTS}", file=sys.stderr)
        if args.profile:
            print(profile_ingest(es, path, args.es_url))
    except BenchError as exc:
        print(f"BENCHMARK FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            empty_prefix(es)
        es.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
