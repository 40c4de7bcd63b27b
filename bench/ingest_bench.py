"""Ingest throughput: `groundswell ingest` against a bare bulk-index of the same documents, in one run.

    .venv/bin/python bench/ingest_bench.py [-n 100000] [--repeat 3] [--no-write] [--profile]

Generates N mentions once (bench/generate.py, seeded, ~5% re-observations) into bench/.data, then
alternates, on a freshly emptied index prefix (`gsbench`) each time:

- bare: in this process, read the file, json.loads + groundswell.ingest.to_mention + normalize +
  mapping.to_document (the very documents, ids and monthly indices ingest writes), install the index
  template, `elasticsearch.helpers.bulk` (`index` op, chunk 500), then one refresh. Timed end to end from
  opening the file ("bare e2e"); the bulk calls + refresh alone are timed too ("bare bulk").
- ingest: `groundswell ingest FILE --json` as a subprocess, wall clock from spawn to exit (interpreter
  and import start-up included; that start-up is measured on its own with an empty file).

docs/s is input lines per second for every column (N lines; the re-observation lines overwrite in the bare
run and merge in ingest). After every run the alias must hold exactly the number of unique mentions, and
ingest's summary must account for every line, or the benchmark stops with an error. The ratio is
ingest docs/s over bare docs/s, medians of the repeats; a speed target is such a ratio, never a timing.
Results replace the "## Ingest throughput" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
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
CHUNK = 500


class BenchError(Exception):
    """A run did not store what it should have: the numbers would be meaningless."""


@dataclass
class Expected:
    lines: int
    unique: int
    observations: Counter[str]  # mention_id -> lines that carry it
    docs: dict[str, dict[str, Any]]  # mention_id -> its last document, to compare with what was stored

    @property
    def reobservations(self) -> int:
        return self.lines - self.unique


@dataclass
class Run:
    kind: str  # "bare" or "ingest"
    seconds: float
    bulk_seconds: float | None = None  # bare only: bulk calls + refresh
    client_cpu: float = 0.0  # user+sys seconds of the client process (this one, or the ingest subprocess)
    other_ops: int = 0  # indexing ops on the node during the run that were not ours (concurrent users)
    summary: dict[str, Any] = field(default_factory=dict)


# --- Elasticsearch housekeeping -----------------------------------------------------------------------------


def our_indices(es: Elasticsearch) -> list[str]:
    found = es.indices.get(
        index=mapping.index_pattern(PREFIX), allow_no_indices=True, ignore_unavailable=True
    )
    return sorted(found.body)


def empty_prefix(es: Elasticsearch, *, template: bool = True) -> None:
    """Delete the prefix's indices by name (wildcard deletes are refused on this node) and its template."""
    names = our_indices(es)
    if names:
        es.indices.delete(index=",".join(names))
    if template:
        es.options(ignore_status=404).indices.delete_index_template(name=mapping.template_name(PREFIX))
    if our_indices(es):
        raise BenchError(f"could not empty prefix {PREFIX}: {our_indices(es)} still there")


def node_index_total(es: Elasticsearch) -> int:
    stats = es.nodes.stats(node_id="_local", metric="indices", index_metric="indexing")
    return sum(n["indices"]["indexing"]["index_total"] for n in stats["nodes"].values())


def our_index_total(es: Elasticsearch) -> int:
    names = our_indices(es)
    if not names:
        return 0
    stats = es.indices.stats(index=",".join(names), metric="indexing")
    return int(stats["_all"]["primaries"]["indexing"]["index_total"])


def check_stored(es: Elasticsearch, exp: Expected, kind: str) -> None:
    """The alias holds one document per unique mention; fail loudly otherwise."""
    alias = mapping.alias(PREFIX)
    es.indices.refresh(index=alias)
    count = es.count(index=alias)["count"]
    if count != exp.unique:
        raise BenchError(f"{kind}: {alias} holds {count} documents, expected {exp.unique} unique mentions")


def check_merged(es: Elasticsearch, exp: Expected, sample: int = 200) -> None:
    """After ingest: re-observed mentions carry one history entry per line, the others equal to_document."""
    reobserved = [i for i, n in exp.observations.items() if n > 1][:sample]
    single = [i for i, n in exp.observations.items() if n == 1][:sample]
    docs = [{"_index": mapping.index_of(exp.docs[i], PREFIX), "_id": i} for i in reobserved + single]
    got = {d["_id"]: d.get("_source") for d in es.mget(docs=docs)["docs"]}
    for i in reobserved:
        src = got.get(i) or {}
        history = src.get("engagement_history") or []
        if len(history) != exp.observations[i] or src.get("likes") != exp.docs[i]["likes"]:
            raise BenchError(
                f"ingest: {i} has {len(history)} observations and likes={src.get('likes')}, "
                f"expected {exp.observations[i]} and likes={exp.docs[i]['likes']}"
            )
    for i in single:
        if got.get(i) != exp.docs[i]:
            raise BenchError(f"ingest: stored {i} differs from mapping.to_document of its line")


# --- the two contenders -------------------------------------------------------------------------------------


def documents(path: Path, now: datetime) -> Iterator[dict[str, Any]]:
    """The project's own record -> Mention -> normalized -> document path, without the pipeline chain."""
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            m = to_mention(json.loads(raw), f"{path}:line {number}")
            yield mapping.to_document(normalize(m, now))


def actions(path: Path, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "_op_type": "index",
            "_index": mapping.index_of(doc, PREFIX),
            "_id": doc["mention_id"],
            "_source": doc,
        }
        for doc in documents(path, now)
    ]


def expected(path: Path) -> Expected:
    obs: Counter[str] = Counter()
    docs: dict[str, dict[str, Any]] = {}
    for doc in documents(path, datetime.now(UTC)):
        obs[doc["mention_id"]] += 1
        docs[doc["mention_id"]] = doc
    return Expected(lines=sum(obs.values()), unique=len(obs), observations=obs, docs=docs)


def run_bare(es: Elasticsearch, path: Path, exp: Expected) -> Run:
    empty_prefix(es)
    before = node_index_total(es)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    acts = actions(path, datetime.now(UTC))
    t1 = time.perf_counter()
    ensure_schema(es, PREFIX)
    ok, errors = helpers.bulk(es, acts, chunk_size=CHUNK, max_chunk_bytes=100 * 1024 * 1024, refresh=False)
    es.indices.refresh(index=mapping.alias(PREFIX))
    t2 = time.perf_counter()
    cpu = time.process_time() - cpu0
    if ok != exp.lines or errors:
        raise BenchError(f"bare: bulk reported {ok} ok of {exp.lines}, errors: {errors!r:.500}")
    other = node_index_total(es) - before - our_index_total(es)
    check_stored(es, exp, "bare")
    return Run("bare", t2 - t0, bulk_seconds=t2 - t1, client_cpu=cpu, other_ops=max(other, 0))


def ingest_env(es_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDSWELL_")}
    env.update(
        GROUNDSWELL_INDEX_PREFIX=PREFIX,
        GROUNDSWELL_ES_URL=es_url,
        GROUNDSWELL_HOME=str(DATA / "home"),  # its own spool, so nothing from another prefix or run replays
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
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [groundswell_exe(), "ingest", str(path), "--json"],
        env=ingest_env(es_url),
        cwd=DATA,
        capture_output=True,
        text=True,
        check=False,
    )
    t1 = time.perf_counter()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    if proc.returncode != 0:
        raise BenchError(
            f"ingest exited {proc.returncode}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}"
        )
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    want = {
        "read": exp.lines,
        "indexed": exp.unique,
        "updated": exp.reobservations,
        "duplicates": 0,
        "rejected": 0,
        "spooled": 0,
        "replayed": 0,
    }
    wrong = {k: (summary.get(k), v) for k, v in want.items() if summary.get(k) != v}
    if wrong:
        raise BenchError(f"ingest summary off (got, expected): {wrong}\nfull summary: {summary}")
    other = node_index_total(es) - before - our_index_total(es)
    check_stored(es, exp, "ingest")
    check_merged(es, exp)
    return Run("ingest", t1 - t0, client_cpu=cpu, other_ops=max(other, 0), summary=summary)


def startup_seconds(es_url: str, repeat: int) -> float:
    """`groundswell ingest` of an empty file: interpreter, imports, config, pipeline chain, one refresh."""
    empty = DATA / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(
            [groundswell_exe(), "ingest", str(empty), "--json"],
            env=ingest_env(es_url),
            cwd=DATA,
            capture_output=True,
            check=True,
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def profile_ingest(es: Elasticsearch, path: Path, es_url: str, top: int = 30) -> str:
    """One untimed ingest under cProfile; the top functions by own time and by cumulative time."""
    import pstats
    from io import StringIO

    empty_prefix(es)
    shutil.rmtree(DATA / "home", ignore_errors=True)
    out = DATA / "ingest.prof"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cProfile",
            "-o",
            str(out),
            "-m",
            "groundswell.cli.main",
            "ingest",
            str(path),
            "--json",
        ],
        env=ingest_env(es_url),
        cwd=DATA,
        capture_output=True,
        check=True,
    )
    buf = StringIO()
    stats = pstats.Stats(str(out), stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


# --- reporting ----------------------------------------------------------------------------------------------


def machine(es: Elasticsearch) -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    heap = es.nodes.info(node_id="_local", metric="jvm", filter_path="nodes.*.jvm.mem.heap_max_in_bytes")
    heap_bytes = next(iter(heap["nodes"].values()))["jvm"]["mem"]["heap_max_in_bytes"]
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    import elasticsearch

    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "memory": f"{mem / 2**30:.0f} GiB",
        "es": f"Elasticsearch {server_version(es)} (single node on the same machine, heap {heap_bytes / 2**30:.1f} GiB)",
        "python": f"Python {platform.python_version()}, elasticsearch-py {'.'.join(map(str, elasticsearch.__version__))}",
        "load": "load average {:.2f} {:.2f} {:.2f} at start".format(*os.getloadavg()),
    }


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("nan")


def render(
    exp: Expected, runs: list[Run], startup: float, info: dict[str, str], chunk: int, path: Path
) -> str:
    bare = [r for r in runs if r.kind == "bare"]
    ing = [r for r in runs if r.kind == "ingest"]
    n = exp.lines
    bare_e2e = statistics.median(rate(n, r.seconds) for r in bare)
    bare_bulk = statistics.median(rate(n, r.bulk_seconds or 0.0) for r in bare)
    ingest = statistics.median(rate(n, r.seconds) for r in ing)
    ingest_warm = statistics.median(rate(n, r.seconds - startup) for r in ing)
    ratio, ratio_bulk = ingest / bare_e2e, ingest / bare_bulk
    cpu_bare = statistics.median(r.client_cpu for r in bare)
    cpu_ing = statistics.median(r.client_cpu for r in ing)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        SECTION,
        "",
        f"Run {now} by `.venv/bin/python bench/ingest_bench.py` ({len(bare)} runs each, alternating, bare first).",
        "",
        f"- Machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory']} RAM; {info['load']}.",
        f"- Store: {info['es']}.",
        f"- Client: {info['python']}.",
        f"- Data: `{path.relative_to(ROOT)}` from `bench/generate.py` (seed {generate_seed()}): {n} lines, "
        f"{exp.unique} unique mentions, {exp.reobservations} re-observations of earlier posts with higher counts, "
        f"{path.stat().st_size / 2**20:.1f} MiB.",
        "- Each run starts on an empty `gsbench` prefix (indices and template deleted by name) and is checked "
        "afterwards: the alias `gsbench-mentions` holds exactly the unique mentions, ingest's summary says "
        f"read {n} / indexed {exp.unique} / updated {exp.reobservations} / rejected 0, sampled re-observed "
        "mentions carry one history entry per line, and sampled single mentions equal `mapping.to_document`.",
        "",
        "| | docs/s (median) | ratio ingest / this | what is timed |",
        "|---|---:|---:|---|",
        f"| bare e2e | {bare_e2e:,.0f} | **{ratio:.2f}** | in-process: read file, `json.loads` + `to_mention` + "
        f"`normalize` + `to_document`, put template, `helpers.bulk` (index, chunk {chunk}), refresh |",
        f"| bare bulk | {bare_bulk:,.0f} | {ratio_bulk:.2f} | only the template, `helpers.bulk` calls and "
        "refresh of the run above (documents prebuilt) |",
        f"| groundswell ingest | {ingest:,.0f} | 1.00 | `groundswell ingest FILE --json` subprocess, spawn to "
        f"exit (start-up included; batch {chunk}) |",
        "",
        f"docs/s = {n} input lines / seconds. Ingest start-up alone (empty file): {startup:.2f} s; without it "
        f"ingest would do {ingest_warm:,.0f} docs/s. Client CPU (user+sys, median): bare {cpu_bare:.1f} s, "
        f"ingest {cpu_ing:.1f} s.",
        "",
        "| run | kind | seconds | docs/s | bulk-only s | client CPU s | other clients' index ops |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for i, r in enumerate(runs, 1):
        bulk = f"{r.bulk_seconds:.2f}" if r.bulk_seconds is not None else ""
        lines.append(
            f"| {i} | {r.kind} | {r.seconds:.2f} | {rate(n, r.seconds):,.0f} | {bulk} | "
            f"{r.client_cpu:.1f} | {r.other_ops} |"
        )
    spread_b = _spread([rate(n, r.seconds) for r in bare])
    spread_i = _spread([rate(n, r.seconds) for r in ing])
    lines += [
        "",
        reading(ratio, ratio_bulk, bare_e2e, ingest, startup, cpu_bare, cpu_ing, spread_b, spread_i, runs),
        "",
    ]
    return "\n".join(lines)


def _spread(values: list[float]) -> float:
    """(max - min) / median, as a rough noise figure."""
    return (max(values) - min(values)) / statistics.median(values) if values else 0.0


def reading(
    ratio: float,
    ratio_bulk: float,
    bare: float,
    ingest: float,
    startup: float,
    cpu_bare: float,
    cpu_ing: float,
    spread_b: float,
    spread_i: float,
    runs: list[Run],
) -> str:
    verdict = (
        "well below a quarter of the bare rate: the ingest path costs far more than the documents' bulk writes"
        if ratio < 0.25
        else "within a factor of two of the bare rate"
        if ratio >= 0.5
        else "between a quarter and a half of the bare rate"
    )
    noisy = any(r.other_ops > 1000 for r in runs)
    return (
        f"Reading: `groundswell ingest` stores {ingest:,.0f} lines/s against {bare:,.0f} for a bare bulk of the "
        f"same documents built the same way, a ratio of {ratio:.2f} ({verdict}); against the bulk calls alone "
        f"the ratio is {ratio_bulk:.2f}. The extra work in ingest is the interpreter and Scrapy import start-up "
        f"({startup:.1f} s, fixed per invocation), the pipeline chain per item, and, per batch of {CHUNK}, an mget "
        "of the batch's ids before the bulk (to merge engagement history), with create/if_seq_no writes; the bare "
        "run just overwrites. Client CPU was "
        f"{cpu_ing:.1f} s for ingest vs {cpu_bare:.1f} s for bare, so the difference in wall time not covered by "
        "client CPU is time spent waiting on Elasticsearch round trips. Run-to-run spread (max-min over median) "
        f"was {spread_b:.0%} for bare and {spread_i:.0%} for ingest"
        + (
            "; other clients were indexing on the same node during some runs (last column), so treat small "
            "differences as noise."
            if noisy
            else "; no other client indexed on the node during the runs."
        )
    )


def generate_seed() -> int:
    return int(generate.generate.__defaults__[1])  # type: ignore[index]


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
    ap.add_argument(
        "--profile", action="store_true", help="also profile one ingest with cProfile and print it"
    )
    ap.add_argument("--keep", action="store_true", help="leave the last run's gsbench indices in place")
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
        if exp.unique != unique:
            raise BenchError(f"generator says {unique} posts, documents have {exp.unique} distinct ids")

        # warm-up, untimed: the JVM and this process's code paths, on a slice of the data
        warm = DATA / "warmup.jsonl"
        with open(path, encoding="utf-8") as src, open(warm, "w", encoding="utf-8") as dst:
            dst.writelines(line for _, line in zip(range(min(args.n, 20_000)), src, strict=False))
        empty_prefix(es)
        ensure_schema(es, PREFIX)
        helpers.bulk(es, actions(warm, datetime.now(UTC)), chunk_size=CHUNK)

        startup = startup_seconds(args.es_url, 3)
        print(f"ingest start-up (empty file): {startup:.2f} s", file=sys.stderr)
        runs: list[Run] = []
        for i in range(args.repeat):
            for kind in ("bare", "ingest"):
                r = run_bare(es, path, exp) if kind == "bare" else run_ingest(es, path, exp, args.es_url)
                runs.append(r)
                print(
                    f"round {i + 1} {kind:6}: {r.seconds:6.2f} s  {rate(exp.lines, r.seconds):8,.0f} docs/s"
                    + (f"  (bulk only {r.bulk_seconds:.2f} s)" if r.bulk_seconds else "")
                    + f"  client CPU {r.client_cpu:.1f} s  other ops {r.other_ops}",
                    file=sys.stderr,
                )

        section = render(exp, runs, startup, info, CHUNK, path)
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
