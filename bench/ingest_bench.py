"""Ingest throughput: `groundswell ingest` against a bare bulk-index of the same documents, in one run.

    .venv/bin/python bench/ingest_bench.py [-n 100000] [--repeat 3] [--no-write] [--profile] [--keep]

Generates N mentions once (bench/generate.py, seeded, ~5% re-observations) into bench/.data, warms the
node up with one untimed bare run, then alternates bare, ingest, bare, ingest, ... on a freshly emptied
index prefix (`gsbench`) each time, waiting before each run for other processes on the (shared) machine to
go idle:

- bare: in this process, stream the file through json.loads + groundswell.ingest.to_mention + the
  project's item pipeline stages before the Elasticsearch one (built by pipelines.chain from
  GROUNDSWELL_STAGES exactly as ingest builds them: normalize, then whatever analysis stages are configured)
  + mapping.to_document, i.e. the very documents, ids and monthly indices ingest writes, into
  `elasticsearch.helpers.bulk` (`index` op, chunk 500), after installing the index template; then one
  refresh. Timed end to end, from building the stages and opening the file ("bare e2e"); the time spent
  building documents is measured per stage, and e2e minus it is "bare bulk" (template, bulk, refresh).
- ingest: `groundswell ingest FILE --json` as a subprocess, wall clock from spawn to exit (interpreter and
  import start-up included; that start-up is also measured on its own, with an empty file).

docs/s is input lines per second in every column (the re-observation lines overwrite in the bare run and
merge in ingest). After every run the alias must hold exactly the unique mentions, and ingest's summary
must account for every line, or the benchmark stops with an error. The ratio is ingest docs/s over bare
docs/s, medians of the repeats: speed targets are such ratios, never timings.
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
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import elasticsearch
from elasticsearch import Elasticsearch, helpers
from scrapy.exceptions import DropItem

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate
import snapshot

if __name__ == "__main__":  # run the rest on a frozen copy of the code under test (bench/snapshot.py)
    _here = Path(__file__).resolve().parent
    snapshot.enter(_here.parent, _here / ".data" / "snapshot")

from groundswell.ingest import to_mention
from pipelines.chain import PipelineChain
from pipelines.elasticsearch import ElasticsearchPipeline
from store import mapping
from store.client import ensure_schema, server_version

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / ".data"
RESULTS = BENCH / "RESULTS.md"
SECTION = "## Ingest throughput"
PREFIX = "gsbench"
CHUNK = 500  # helpers.bulk chunk_size, and ingest's default --batch-size
SAMPLE = 200  # stored documents compared with the expected ones after each ingest, per kind
# set by the Elasticsearch stage against what is already stored, so not known before writing
ES_STAGE_FIELDS = frozenset({"cluster_id"})


class BenchError(Exception):
    """A run did not store what it should have: its numbers would be meaningless."""


@dataclass
class Expected:
    lines: int
    dropped: int  # lines a pipeline stage dropped (ingest reports them as rejected or dropped)
    unique: int
    observations: Counter[str]  # mention_id -> number of kept lines carrying it
    sample: dict[str, dict[str, Any]]  # a few mention_ids -> the document of their last line
    stages: list[str]  # the item stages both paths run
    sampled: int = 0  # len(sample), kept when the expectations are reloaded for --render-only

    @property
    def kept(self) -> int:
        return self.lines - self.dropped

    @property
    def reobservations(self) -> int:
        return self.kept - self.unique


@dataclass
class Run:
    kind: str  # "bare" or "ingest"
    seconds: float
    stages: dict[str, float] | None = None  # bare only: seconds building documents, per step
    client_cpu: float = 0.0  # user+sys seconds of the client (this process or the ingest one, with children)
    es_cpu: float = 0.0  # CPU seconds of the Elasticsearch process during the run
    other_cpu: float = 0.0  # CPU seconds the rest of the machine used meanwhile (noise)
    other_ops: int = 0  # indexing ops on the node during the run that were not ours (concurrent users)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def build_seconds(self) -> float | None:
        return None if self.stages is None else sum(self.stages.values())

    @property
    def bulk_seconds(self) -> float | None:
        build = self.build_seconds
        return None if build is None else self.seconds - build


# --- Elasticsearch housekeeping -----------------------------------------------------------------------------


def our_indices(es: Elasticsearch) -> list[str]:
    pattern = mapping.index_pattern(PREFIX)
    return sorted(es.indices.get(index=pattern, allow_no_indices=True, ignore_unavailable=True).body)


def empty_prefix(es: Elasticsearch) -> None:
    """Delete the prefix's indices by name (wildcard deletes are refused on this node) and its template."""
    names = our_indices(es)
    if names:
        es.indices.delete(index=",".join(names))
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
    """CPU seconds over a run: the whole machine (/proc/stat) and the Elasticsearch process."""

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
        """Cores busy outside the Elasticsearch process over the next `seconds` (this process sleeps)."""
        busy0, es0 = self._now()
        time.sleep(seconds)
        busy1, es1 = self._now()
        return max((busy1 - busy0) - (es1 - es0), 0.0) / seconds

    def stop(self, run: Run) -> None:
        busy, es_cpu = self._now()
        run.es_cpu = es_cpu - self.start[1]
        run.other_cpu = max(busy - self.start[0] - run.es_cpu - run.client_cpu, 0.0)


def wait_quiet(es: Elasticsearch, limit: float, threshold: float = 0.25) -> float:
    """Wait up to `limit` seconds until less than `threshold` cores are busy outside Elasticsearch (the
    machine is shared with other work); the seconds waited."""
    meter, t0 = CpuMeter(es), time.perf_counter()
    while time.perf_counter() - t0 < limit and meter.busy_cores() >= threshold:
        pass
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
    seen once are stored as the bare path built them (fields the Elasticsearch stage sets aside)."""
    ids = list(exp.sample)
    alias = mapping.alias(PREFIX)
    es.indices.refresh(index=alias)
    res = es.search(index=alias, query={"ids": {"values": ids}}, size=len(ids))
    got = {h["_id"]: h["_source"] for h in res["hits"]["hits"]}
    for i in ids:
        want, src = exp.sample[i], got.get(i) or {}
        if exp.observations[i] == 1:
            keys = (set(want) | set(src)) - ES_STAGE_FIELDS
            differ = sorted(k for k in keys if want.get(k) != src.get(k))
            if differ:
                shown = {k: (src.get(k), want.get(k)) for k in differ[:5]}
                raise BenchError(f"ingest: stored {i} differs from the bare document in {differ}: "
                                 f"(stored, bare) {shown!r:.800}")
            continue
        history = src.get("engagement_history") or []
        if len(history) != exp.observations[i] or src.get("likes") != want["likes"]:
            raise BenchError(
                f"ingest: {i} has {len(history)} observations and likes={src.get('likes')}, "
                f"expected {exp.observations[i]} and likes={want['likes']}"
            )


# --- building the documents the way ingest does -------------------------------------------------------------


class _Timed:
    """A stage as the chain sees it, with the seconds spent in its process_item / process_batch counted."""

    def __init__(self, stage: Any, times: dict[str, float]):
        self._stage, self._times, self._name = stage, times, type(stage).__name__

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._stage, attr)  # AttributeError for a hook the stage lacks, as hasattr expects
        if attr not in ("process_item", "process_batch"):
            return value
        times, name = self._times, self._name

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                times[name] += time.perf_counter() - t

        return timed


class Builder:
    """The documents `groundswell ingest` would write, built by the project's own code: json.loads +
    to_mention per line, then pipelines.chain's own driving (process_batch over batches of the ingest batch
    size when the chain has it, else process per item) over every GROUNDSWELL_STAGES stage but the
    Elasticsearch one, then mapping.to_document; with the seconds spent in each step."""

    def __init__(self) -> None:
        self.times: dict[str, float] = defaultdict(float)
        self.dropped = 0
        t0 = time.perf_counter()
        self.chain = PipelineChain.from_project(
            {"GROUNDSWELL_CONFIG_PATH": None, "GROUNDSWELL_BATCH_SIZE": CHUNK, "GROUNDSWELL_ES_RETRIES": 3}
        )
        stages = []
        for stage in self.chain.stages:
            if isinstance(stage, ElasticsearchPipeline):
                stage.es.close()  # writing is what the bare run does itself
            else:
                stages.append(_Timed(stage, self.times))
        self.chain.stages = stages
        self.stage_names = [s._name for s in stages]
        self.chain.open()
        self.times["build stages"] = time.perf_counter() - t0  # models may load lazily, on the first item

    def _run(self, batch: list[Any]) -> list[dict[str, Any]]:
        outcomes: list[Any]
        if hasattr(self.chain, "process_batch"):
            outcomes = self.chain.process_batch(batch)
        else:
            outcomes = []
            for m in batch:
                try:
                    outcomes.append(self.chain.process(m))
                except DropItem as exc:
                    outcomes.append(exc)
        t = time.perf_counter()
        docs = []
        for o in outcomes:
            if o is None or isinstance(o, DropItem):
                self.dropped += 1
            else:
                docs.append(mapping.to_document(o))
        self.times["to_document"] += time.perf_counter() - t
        return docs

    def documents(self, path: Path) -> Iterator[dict[str, Any]]:
        times, clock = self.times, time.perf_counter
        batch: list[Any] = []
        with open(path, encoding="utf-8") as f:
            for number, raw in enumerate(f, 1):
                t0 = clock()
                batch.append(to_mention(json.loads(raw), f"{path}:line {number}"))
                times["json.loads + to_mention"] += clock() - t0
                if len(batch) >= CHUNK:
                    yield from self._run(batch)
                    batch = []
        if batch:
            yield from self._run(batch)

    def close(self) -> None:
        self.chain.close()


def expected(path: Path) -> Expected:
    builder = Builder()
    obs: Counter[str] = Counter()
    last: dict[str, dict[str, Any]] = {}
    lines = 0
    for doc in builder.documents(path):
        obs[doc["mention_id"]] += 1
        last[doc["mention_id"]] = doc
    builder.close()
    with open(path, encoding="utf-8") as f:
        lines = sum(1 for _ in f)
    many = [i for i, n in obs.items() if n > 1][:SAMPLE]
    once = [i for i, n in obs.items() if n == 1][:: max(1, len(obs) // SAMPLE)][:SAMPLE]
    # keep only the sample: 100k documents held here would slow this process's garbage collector, i.e.
    # the bare runs, and not the ingest subprocess
    sample = {i: last[i] for i in many + once}
    return Expected(lines, builder.dropped, len(obs), obs, sample, builder.stage_names, len(sample))


# --- the two contenders -------------------------------------------------------------------------------------


def _cpu_with_children() -> float:
    """User+sys seconds of this process and of its finished children (stages may fork worker pools)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_bare(es: Elasticsearch, path: Path, exp: Expected | None) -> Run:
    """Stream the documents into helpers.bulk; `exp` None: a warm-up, not checked."""
    empty_prefix(es)
    before = node_index_total(es)
    meter = CpuMeter(es)
    cpu0 = _cpu_with_children()
    t0 = time.perf_counter()
    builder = Builder()

    placed: dict[str, str] = {}  # a post stays in the index it was first written to, as ingest keeps it

    def actions() -> Iterator[dict[str, Any]]:
        for doc in builder.documents(path):
            t = time.perf_counter()
            index = placed.setdefault(doc["mention_id"], mapping.index_of(doc, PREFIX))
            act = {"_op_type": "index", "_index": index, "_id": doc["mention_id"], "_source": doc}
            builder.times["to_document"] += time.perf_counter() - t
            yield act

    ensure_schema(es, PREFIX)
    ok, errors = helpers.bulk(es, actions(), chunk_size=CHUNK, refresh=False)
    es.indices.refresh(index=mapping.alias(PREFIX))
    builder.close()
    seconds = time.perf_counter() - t0
    run = Run("bare", seconds, stages=dict(builder.times), client_cpu=_cpu_with_children() - cpu0)
    meter.stop(run)
    if exp is None:
        return run
    if ok != exp.kept or errors:
        raise BenchError(f"bare: bulk reported {ok} ok of {exp.kept}, errors: {errors!r:.500}")
    run.other_ops = max(node_index_total(es) - before - our_index_total(es), 0)
    check_stored(es, exp, "bare")
    return run


def ingest_like_environment(es_url: str) -> None:
    """This process and the ingest subprocesses: same configuration (defaults: no config file, nothing
    from the caller's GROUNDSWELL_* variables), the gsbench prefix, a spool of their own."""
    for k in [k for k in os.environ if k.startswith("GROUNDSWELL_")]:
        del os.environ[k]
    os.environ.update(
        GROUNDSWELL_INDEX_PREFIX=PREFIX,
        GROUNDSWELL_ES_URL=es_url,
        GROUNDSWELL_HOME=str(DATA / "home"),
        SCRAPY_SETTINGS_MODULE="crawlers.settings",
    )
    os.chdir(DATA)  # no ./groundswell.yaml here


def groundswell_exe() -> str:
    beside = Path(sys.executable).parent / "groundswell"
    found = str(beside) if beside.exists() else shutil.which("groundswell")
    if not found:
        raise BenchError("no `groundswell` executable next to this Python or on PATH; pip install -e . first")
    return found


def run_ingest(es: Elasticsearch, path: Path, exp: Expected) -> Run:
    empty_prefix(es)
    shutil.rmtree(DATA / "home", ignore_errors=True)
    before = node_index_total(es)
    cmd = [groundswell_exe(), "ingest", str(path), "--json"]
    meter = CpuMeter(es)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = Run("ingest", seconds, client_cpu=(ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime))
    meter.stop(run)
    if proc.returncode not in ((0, 1) if exp.dropped else (0,)):
        raise BenchError(f"ingest exited {proc.returncode}\nstdout: {proc.stdout[-2000:]}\n"
                         f"stderr: {proc.stderr[-2000:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    got = {k: summary.get(k) for k in ("read", "indexed", "spooled", "replayed")}
    got["updated + duplicates"] = (summary.get("updated") or 0) + (summary.get("duplicates") or 0)
    got["rejected + dropped"] = (summary.get("rejected") or 0) + (summary.get("dropped") or 0)
    want = {"read": exp.lines, "indexed": exp.unique, "spooled": 0, "replayed": 0,
            "updated + duplicates": exp.reobservations, "rejected + dropped": exp.dropped}
    if got != want:
        raise BenchError(f"ingest summary off: got {got}, expected {want}\nfull summary: {summary}")
    run.other_ops = max(node_index_total(es) - before - our_index_total(es), 0)
    run.summary = summary
    check_stored(es, exp, "ingest")
    check_merged(es, exp)
    return run


def startup_seconds(repeat: int) -> float:
    """`groundswell ingest` of an empty file: interpreter, imports, config, pipeline chain, one refresh."""
    empty = DATA / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([groundswell_exe(), "ingest", str(empty), "--json"], capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@dataclass
class Profile:
    total: float  # profiled seconds (cProfile inflates Python-heavy code, not waiting)
    rows: list[tuple[str, int, float]]  # label, calls, cumulative seconds
    hot: list[tuple[str, int, float, float]]  # project functions by own time: where, calls, own, cumulative
    text: str  # pstats' top functions, for the console


def _profile_label(filename: str, func: str) -> str | None:
    f = filename.replace("\\", "/")
    if f.endswith("groundswell/ingest.py") and func == "read":
        return "read file + json.loads + to_mention (groundswell.ingest.read)"
    if "/pipelines/" in f and func in ("process_item", "process_batch"):
        return f"{f.rsplit('/', 1)[1]} {func}"
    if f.endswith("store/clusters.py") and func == "resolve":
        return "  cluster ids (clusters.ClusterResolver.resolve)"
    if f.endswith("store/writer.py") and func == "write":
        return "  mget + merge + bulk (writer.MentionWriter.write)"
    if f.endswith("elasticsearch/_sync/client/__init__.py") and func in {"bulk", "mget", "msearch", "search"}:
        return f"es.{func} requests: serialize, send, wait, parse"
    if f.endswith("groundswell/cli/ingest.py") and func == "ingest":
        return "the ingest command, after start-up"
    return None


PROFILE = DATA / "ingest.prof"


def profile_ingest(es: Elasticsearch, path: Path) -> Profile:
    """One more, untimed, ingest of the file under cProfile."""
    empty_prefix(es)
    shutil.rmtree(DATA / "home", ignore_errors=True)
    cmd = [sys.executable, "-m", "cProfile", "-o", str(PROFILE), "-m", "groundswell.cli.main", "ingest"]
    cmd.append(str(path))
    subprocess.run(cmd, capture_output=True, check=False)
    return read_profile(PROFILE)


def _project_file(filename: str) -> str | None:
    """`pipelines/x.py` for a file of the code under test, else None."""
    f = filename.replace("\\", "/")
    for pkg in snapshot.PACKAGES:
        if f"/{pkg}/" in f and "site-packages" not in f:
            return pkg + "/" + f.split(f"/{pkg}/", 1)[1]
    return None


def read_profile(out: Path, top: int = 25) -> Profile:
    """Where the profiled ingest's time goes: by step, the project's own hot spots, pstats' top lists."""
    import pstats
    from io import StringIO

    buf = StringIO()
    stats = pstats.Stats(str(out), stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    table: dict[str, tuple[int, float]] = {}
    hot: list[tuple[str, int, float, float]] = []
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    for (filename, line, func), (_cc, calls, own, cum, _callers) in raw.items():
        label = _profile_label(filename, func)
        if label:
            n, t = table.get(label, (0, 0.0))
            table[label] = (n + calls, t + cum)
        where = _project_file(filename)
        if where:
            hot.append((f"{where}:{line} {func}", calls, own, cum))
    hot = sorted(hot, key=lambda h: -h[2])[:8]
    def rank(label: str) -> int:
        order = ("the ingest", "read file", "", "elasticsearch.py", "  cluster", "  mget", "es.")
        return max(i for i, p in enumerate(order) if label.startswith(p))

    rows = sorted(((k, n, t) for k, (n, t) in table.items()), key=lambda r: (rank(r[0]), -r[2]))
    return Profile(float(stats.total_tt), rows, hot, buf.getvalue())  # type: ignore[attr-defined]


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
    bare: float  # docs/s, medians
    bare_bulk: float
    ingest: float
    ingest_warm: float
    startup: float
    build_share: float  # share of the bare run's wall time spent building documents
    stages: dict[str, float]  # median seconds per document-building step in the bare runs
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
    steps = list(dict.fromkeys(k for r in bare for k in (r.stages or {})))
    return Summary(
        bare=statistics.median(rate(n, r.seconds) for r in bare),
        bare_bulk=statistics.median(rate(n, r.bulk_seconds or 0.0) for r in bare),
        ingest=statistics.median(rate(n, r.seconds) for r in ing),
        ingest_warm=statistics.median(rate(n, r.seconds - startup) for r in ing),
        startup=startup,
        build_share=statistics.median((r.build_seconds or 0.0) / r.seconds for r in bare),
        stages={k: statistics.median((r.stages or {}).get(k, 0.0) for r in bare) for k in steps},
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
        "other processes used the machine or the node during some runs (last two columns), so differences "
        "of that order are noise" if s.noisy else "nothing else used the machine or the node noticeably"
    )
    top = sorted(((v, k) for k, v in s.stages.items() if k != "build stages"), reverse=True)[:2]
    heaviest = " and ".join(f"{k} ({v:.1f} s)" for v, k in top)
    return (
        f"Reading: `groundswell ingest` stores {s.ingest:,.0f} lines/s against {s.bare:,.0f} for a bare bulk "
        f"of the same documents built by the same code, a ratio of {s.ratio:.2f} ({verdict}). Both are "
        "single-threaded and synchronous, so building documents and waiting for Elasticsearch add up: in the "
        f"bare runs {s.build_share:.0%} of the wall time goes to building documents (most in {heaviest}), "
        f"and against the bare bulk calls alone ingest's ratio is {s.ratio_bulk:.2f}. On top of that shared "
        f"work, ingest pays its start-up ({s.startup:.1f} s: interpreter, imports, config, pipeline chain), "
        "the per-item chain, and the Elasticsearch stage's own work before each bulk (reading what is stored "
        "so that re-observed mentions merge their engagement history with create / if_seq_no writes, where "
        "the bare run just overwrites; and whatever else the stage resolves against the store, see the "
        f"profile below when present). Median CPU seconds: client {s.cpu_ingest:.1f} (ingest) vs "
        f"{s.cpu_bare:.1f} (bare), "
        f"Elasticsearch {s.es_cpu_ingest:.1f} vs {s.es_cpu_bare:.1f}, on {os.cpu_count()} CPUs shared by "
        "both. "
        f"Run-to-run spread (max-min over median) was {s.spread_bare:.0%} for bare and {s.spread_ingest:.0%} "
        f"for ingest; {noise}."
    )


def render(exp: Expected, runs: list[Run], startup: float, info: dict[str, str], path: Path,
           code: dict[str, Any], prof: Profile | None) -> str:
    n = exp.lines
    s = summarize(n, runs, startup)
    reps = sum(r.kind == "bare" for r in runs)
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    size = path.stat().st_size / 2**20
    bulk_median = statistics.median(r.bulk_seconds or 0.0 for r in runs if r.stages is not None)
    steps = ", ".join(exp.stages)
    lines = [
        SECTION,
        "",
        f"Measured {now} by `.venv/bin/python bench/ingest_bench.py`: {reps} runs of each, alternating "
        "(bare, ingest, bare, ...) after one untimed bare warm-up run; before each run the benchmark waits "
        "for other processes on the machine to go idle.",
        "",
        f"- Machine: nproc {info['nproc']} ({info['cpu']}), {info['memory']} RAM, {info['load']}.",
        f"- Store: {info['es']}; client {info['python']}.",
        f"- Data: `bench/generate.py` (seed {generate.SEED}), {n} lines ({size:.1f} MiB): {exp.unique} "
        f"unique mentions and {exp.reobservations} re-observations of earlier posts with higher counts"
        + (f"; {exp.dropped} lines dropped by a pipeline stage." if exp.dropped else "."),
        f"- Code: `bench/snapshot.py` copy of {', '.join(snapshot.PACKAGES)} taken {code['taken']} (sha256 "
        f"{code['digest'][:12]}; git HEAD {code['git_head']} + {code['uncommitted']} uncommitted files in "
        "those packages); both paths ran that copy.",
        f"- Item stages both paths run (GROUNDSWELL_STAGES before the Elasticsearch stage): {steps}.",
        "- Every run starts on an empty `gsbench` prefix (indices and template deleted by name) and is "
        f"checked after: the alias `gsbench-mentions` holds exactly {exp.unique} documents; for ingest also "
        f"its summary (read {n}, indexed {exp.unique}, updated + duplicates {exp.reobservations}, rejected + "
        f"dropped {exp.dropped}) and {exp.sampled} sampled documents (re-observed ones carry one history "
        "entry per line, the others equal the bare path's document).",
        "",
        "| | docs/s (median) | ingest / this | what is timed |",
        "|---|---:|---:|---|",
        f"| bare e2e | {s.bare:,.0f} | **{s.ratio:.2f}** | in this process: build the item stages, then "
        "json.loads + `to_mention` + stages + `to_document` streamed into `helpers.bulk` "
        f"(index, chunk {CHUNK}) after putting the template; then one refresh |",
        f"| bare bulk | {s.bare_bulk:,.0f} | {s.ratio_bulk:.2f} | the same runs minus the time spent "
        "building documents: template, bulk requests (incl. serializing), refresh |",
        f"| groundswell ingest | {s.ingest:,.0f} | 1.00 | `groundswell ingest FILE --json` subprocess, spawn "
        f"to exit, start-up included (batch {CHUNK}) |",
        "",
        f"docs/s = {n} input lines / seconds. Ingest start-up alone (`groundswell ingest` of an empty file, "
        f"median of 3): {startup:.2f} s; without it ingest would do {s.ingest_warm:,.0f} docs/s.",
        "",
        "Where the bare run's time goes (median seconds; ingest does the same per-line work):",
        "",
        "| step | seconds |",
        "|---|---:|",
        *(f"| {k} | {v:.2f} |" for k, v in s.stages.items()),
        f"| bulk requests + template + refresh | {bulk_median:.2f} |",
        "",
        "Per run, CPU seconds of the client (this process, or the ingest subprocess), of the Elasticsearch "
        "process, and of everything else on the machine meanwhile (noise); other index ops are other "
        "clients' writes to the node during the run.",
        "",
        "| run | kind | seconds | docs/s | building docs s | client CPU s | ES CPU s | other CPU s "
        "| other index ops |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i, r in enumerate(runs, 1):
        build = "" if r.build_seconds is None else f"{r.build_seconds:.2f}"
        lines.append(f"| {i} | {r.kind} | {r.seconds:.2f} | {rate(n, r.seconds):,.0f} | {build} | "
                     f"{r.client_cpu:.1f} | {r.es_cpu:.1f} | {r.other_cpu:.1f} | {r.other_ops} |")
    lines += ["", reading(s), ""]
    if prof is not None:
        lines += [
            f"Where ingest's time goes: one more, untimed, ingest of the same file under cProfile "
            f"({prof.total:.1f} s profiled; profiling inflates Python-heavy steps more than waiting on "
            "Elasticsearch). Cumulative seconds; indented rows are part of the row above them, and the es.* "
            "requests are part of those rows.",
            "",
            "| step | calls | seconds | share |",
            "|---|---:|---:|---:|",
            *(f"| {'&nbsp;' * 2 * (len(k) - len(k.lstrip()))}{k.strip()} | {n} | {t:.1f} | "
              f"{t / prof.total:.0%} |" for k, n, t in prof.rows),
            "",
            "The project's own functions with the most time spent in their own code (not in callees):",
            "",
            "| function | calls | own s | cumulative s |",
            "|---|---:|---:|---:|",
            *(f"| `{w}` | {n} | {own:.1f} | {cum:.1f} |" for w, n, own, cum in prof.hot),
            "",
        ]
    return "\n".join(lines)


def write_results(section: str) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    RESULTS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


LAST = DATA / "last_run.json"


def save_last(exp: Expected, runs: list[Run], startup: float, info: dict[str, str], path: Path,
              code: dict[str, Any]) -> None:
    facts = {"lines": exp.lines, "dropped": exp.dropped, "unique": exp.unique, "stages": exp.stages,
             "sampled": exp.sampled}
    LAST.write_text(json.dumps({"expected": facts, "runs": [asdict(r) for r in runs], "startup": startup,
                                "info": info, "path": str(path), "code": code}, indent=1), encoding="utf-8")


def render_last(write: bool) -> int:
    saved = json.loads(LAST.read_text(encoding="utf-8"))
    f = saved["expected"]
    exp = Expected(f["lines"], f["dropped"], f["unique"], Counter(), {}, f["stages"], f["sampled"])
    runs = [Run(**r) for r in saved["runs"]]
    prof = read_profile(PROFILE) if PROFILE.exists() else None
    section = render(exp, runs, saved["startup"], saved["info"], Path(saved["path"]), saved["code"], prof)
    print(section)
    if write:
        write_results(section)
    return 0


# --- main ---------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=100_000, help="mentions to generate (default 100000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each kind (default 3)")
    ap.add_argument("--es-url", default="http://127.0.0.1:9200")
    ap.add_argument("--no-write", action="store_true", help="print the section, leave RESULTS.md alone")
    ap.add_argument("--profile", action="store_true", help="then profile one ingest with cProfile, print it")
    ap.add_argument("--keep", action="store_true", help="leave the last run's gsbench indices in place")
    ap.add_argument("--render-only", action="store_true",
                    help=f"re-render RESULTS.md from {LAST.name} and {PROFILE.name}; measure nothing")
    ap.add_argument("--wait-quiet", type=float, default=180, metavar="SECONDS",
                    help="before each timed run, wait up to this long for other processes to go idle "
                         "(default 180; 0: don't wait)")
    args = ap.parse_args(argv)

    DATA.mkdir(parents=True, exist_ok=True)
    if args.render_only:
        return render_last(write=not args.no_write)
    ingest_like_environment(args.es_url)
    path = DATA / f"mentions-{args.n}.jsonl"
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        unique, reobs = generate.generate(f, args.n)
    print(f"generated {path}: {args.n} lines, {unique} posts, {reobs} re-observations", file=sys.stderr)

    es = Elasticsearch(args.es_url, request_timeout=120)
    try:
        es.cluster.health(wait_for_status="yellow", timeout="60s")
        info = machine(es)
        try:
            code = snapshot.info()
        except (KeyError, RuntimeError) as exc:
            raise BenchError(f"not running on a snapshot of the code: {exc}") from None
        exp = expected(path)
        if exp.lines != args.n or (exp.dropped == 0 and exp.unique != unique):
            raise BenchError(f"generator wrote {args.n} lines / {unique} posts, documents say "
                             f"{exp.lines} / {exp.unique}")
        print(f"expected: {exp.unique} unique, {exp.reobservations} re-observations, {exp.dropped} dropped",
              file=sys.stderr)
        gc.collect()
        gc.freeze()  # what is alive now (modules, the expectations) stays out of the collector's way

        warm = run_bare(es, path, None)
        print(f"warm-up bare: {warm.seconds:.2f} s", file=sys.stderr)
        startup = startup_seconds(3)
        print(f"ingest start-up (empty file): {startup:.2f} s", file=sys.stderr)
        runs: list[Run] = []
        for i in range(args.repeat):
            for kind in ("bare", "ingest"):
                waited = wait_quiet(es, args.wait_quiet) if args.wait_quiet > 0 else 0.0
                if waited > 3:
                    print(f"waited {waited:.0f} s for the machine to go quiet", file=sys.stderr)
                r = run_bare(es, path, exp) if kind == "bare" else run_ingest(es, path, exp)
                runs.append(r)
                built = "" if r.build_seconds is None else f" (building docs {r.build_seconds:.2f} s)"
                print(f"round {i + 1} {kind:6}: {r.seconds:6.2f} s {rate(exp.lines, r.seconds):8,.0f} docs/s"
                      f"{built}, CPU client {r.client_cpu:.1f} s ES {r.es_cpu:.1f} s "
                      f"other {r.other_cpu:.1f} s, "
                      f"other index ops {r.other_ops}", file=sys.stderr)

        save_last(exp, runs, startup, info, path, code)
        prof = profile_ingest(es, path) if args.profile else None
        if prof is None:
            PROFILE.unlink(missing_ok=True)  # a stale profile must not be rendered with these runs
        section = render(exp, runs, startup, info, path, code, prof)
        print(section)
        if prof is not None:
            print(prof.text)
        if not args.no_write:
            write_results(section)
            print(f"wrote {RESULTS}", file=sys.stderr)
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
