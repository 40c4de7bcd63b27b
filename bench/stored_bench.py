"""Ingest into an index already holding many mentions (with their clusters) against ingest into an empty one.

    .venv/bin/python bench/stored_bench.py [--stored 1000000] [-n 20000] [--repeat 2] [--workers 0] [--write]
                                           [--keep] [--reuse] [--history-days 365] [--recent-days 2]
                                           [--text clauses|real]

Issue 14's "flat in what is stored": the rate of `groundswell ingest FILE` (a subprocess, spawn to exit, as in
bench/throughput_bench.py) into prefix `gsstfull`, which holds `--stored` mentions, against the rate into the empty
prefix `gsstempty`; runs alternate (empty, stored, empty, stored...), each on a fresh input file (other seeds, so
each run brings new posts). What a stored run added is deleted after it, so that every pair meets the same store:
kept, each run's posts went to the same last days, and the later pairs searched a window denser by n posts a run
than the store the first pair met (`--accumulate` keeps them, as before).

The stored mentions are bulk-loaded directly, not through ingest: bench/generate.py lines (seed 7) run through the
same analysis stages as ingest (normalize, brands, fingerprints, sentiment, complaints; in two worker processes),
get their cluster ids from an in-memory band index of the most recent 20,000 (as one long ingest run would), and
are written as the documents the writer writes (store.mapping.to_document, cluster_band_ids on founders) into the
monthly indices of the prefix, with the template and mapping of the current version. `--keep` leaves both prefixes
on the node; `--reuse` skips loading when the stored prefix already holds every post of the --stored lines.

Time, as a deployment sees it: the stored mentions are a history of `--history-days` days (first seen over the year
before 2026-11-01 by default, in its monthly indices), and each run's new posts are the last `--recent-days` days
of it (what a crawl or a day's backlog brings). Clusters are searched within `clusters.window_days` (30) of a
mention, so a run reads the months of that window, not the year; `--recent-days 365` makes the new posts span the
whole history instead (every month is searched, and the store's size shows).

`--text` is bench/generate.py's: `clauses` (the default) composes posts whose near-duplicate band keys collide
20 to 1,000 times as often as real posts of one brand (bench/collisions_bench.py), so every batch's founder search
matches a third of the window's founders; `real` builds posts from real clauses, which collide like reviews of one
brand. Each form has its own stored prefix (`gsstfull`, `gsstreal`) and its own section in bench/RESULTS.md.

Each run records wall seconds, docs/s, Elasticsearch's CPU seconds and the load average before and after.
`--write` replaces the section below in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import results  # noqa: E402
import throughput_bench as tb  # noqa: E402

from store.compaction import compact  # noqa: E402

FULL, EMPTY = "gsstfull", "gsstempty"
REAL = "gsstreal"  # the stored side of --text real
SECTION = "## Ingest into many stored mentions against an empty index (issue 14)"
SECTION_REAL = "## Ingest into many stored mentions of real clauses against an empty index (issue 14)"
_CHAIN: Any = None


def _init() -> None:
    global _CHAIN
    from pipelines.chain import PipelineChain

    _CHAIN = PipelineChain.from_project({"GROUNDSWELL_CONFIG_PATH": None})


def _analyse(lines: list[str]) -> list[dict[str, Any]]:
    """One chunk of input lines as documents (cluster ids not set yet), in a worker process."""
    from groundswell.ingest import to_mention
    from pipelines.chain import run_stages
    from pipelines.elasticsearch import ElasticsearchPipeline
    from store import mapping

    stages = [s for s in _CHAIN.stages if not isinstance(s, ElasticsearchPipeline)]
    items: list[Any] = [to_mention(json.loads(line), "stored") for line in lines]
    return [mapping.to_document(m) for m in run_stages(stages, items) if not isinstance(m, Exception)]


def _chunks(path: Path, size: int = 1000) -> Iterator[list[str]]:
    with open(path, encoding="utf-8") as f:
        while chunk := list(islice(f, size)):
            yield chunk


def _bounded(pool: Any, chunks: Iterator[list[str]], depth: int = 6) -> Iterator[list[dict[str, Any]]]:
    """pool.imap in order, with at most `depth` chunks in flight (imap reads its whole input ahead)."""
    from collections import deque

    flight: deque[Any] = deque()
    for chunk in chunks:
        flight.append(pool.apply_async(_analyse, (chunk,)))
        if len(flight) >= depth:
            yield flight.popleft().get()
    while flight:
        yield flight.popleft().get()


def load(es: Any, path: Path, prefix: str) -> int:
    """Every line of `path` as stored documents of `prefix`; returns how many documents were written."""
    from elasticsearch import helpers

    from pipelines.near_duplicates import Fingerprint, LshIndex
    from store import mapping
    from store.client import ensure_schema

    ensure_schema(es, prefix)
    index = LshIndex(20_000)
    cluster_of: dict[str, str] = {}

    def actions(docs_of: Iterator[list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
        for docs in docs_of:
            for d in docs:
                mid = d["mention_id"]
                if mid in cluster_of:
                    continue  # a re-observation: the stored document is the first one (no history merge here)
                cluster = mid
                if d.get("minhash"):
                    fp = Fingerprint(Fingerprint.decode(d["minhash"]), tuple(d["lsh_bands"]))
                    best = index.best(fp, exclude=mid, group=d.get("brand"))
                    cluster = best[0] if best else mid
                    index.add(mid, cluster, fp, d.get("brand"))
                cluster_of[mid] = cluster
                d["cluster_id"] = cluster
                mapping.mark_founder(d)
                yield {"_op_type": "create", "_index": mapping.index_of(d, prefix), "_id": mid,
                       "_source": mapping.stored_form(d)}

    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2, initializer=_init) as pool:
        ok = 0
        for done, _ in helpers.streaming_bulk(es, actions(_bounded(pool, _chunks(path))), chunk_size=1000,
                                              raise_on_error=True):
            ok += int(done)
            if ok % 100_000 == 0:
                print(f"  stored {ok:,} ({tb.loadavg()})", flush=True)
    es.indices.refresh(index=mapping.alias(prefix))
    return ok


def run_ids(path: Path) -> list[str]:
    """The document ids of a file's posts (store.mapping.doc_id of platform and source id), each once."""
    from store import mapping

    with open(path, encoding="utf-8") as f:
        return list(dict.fromkeys(mapping.doc_id(r["platform"], r["source_id"]) for r in map(json.loads, f)))


def located(es: Any, prefix: str, ids: list[str]) -> dict[str, set[str]]:
    """Those of `ids` stored under `prefix`, with the indices they are in (store.lookup's ids search)."""
    from store.lookup import stored_copies

    out: dict[str, set[str]] = {}
    for i in range(0, len(ids), 4_000):  # its answer leaves room for two copies of each: within 10,000 hits
        out.update(stored_copies(es, prefix, ids[i:i + 4_000], ["mention_id"]).where)
    return out


def forget(es: Any, prefix: str, ids: list[str], before: set[str]) -> int:
    """Delete the documents of `ids` that a run added (not among `before`); returns how many."""
    from elasticsearch import helpers

    from store import mapping

    gone = [{"_op_type": "delete", "_index": index, "_id": i}
            for i, indices in located(es, prefix, ids).items() if i not in before for index in indices]
    helpers.bulk(es, gone, chunk_size=5_000)
    es.indices.refresh(index=mapping.alias(prefix))
    return len(gone)


def count(es: Any, prefix: str) -> int:
    from store import mapping

    resp = es.count(index=mapping.alias(prefix), ignore_unavailable=True, allow_no_indices=True)
    return int(resp["count"])


def wipe(es: Any, prefix: str) -> None:
    from elasticsearch import NotFoundError

    for name in list(es.indices.get(index=f"{prefix}-*", allow_no_indices=True, ignore_unavailable=True).body):
        es.indices.delete(index=name)
    with contextlib.suppress(NotFoundError):
        es.indices.delete_index_template(name=f"{prefix}-mentions")


END = date(2026, 11, 1)  # the stored history ends here, and the new posts with it


def data(name: str, n: int, seed: int, days: float | None = None, text: str = "clauses") -> Path:
    """bench/generate.py's lines published over the `days` days before END, or over its own default span when
    `days` is None, in its `text` form (cached by all of these)."""
    span: list[str] = []
    form = "" if text == "clauses" else f"-{text}"
    path = tb.DATA / f"{name}-{n}-{seed}{form}.jsonl"
    if days is not None:
        start = END - timedelta(days=days)
        span = ["--start", start.isoformat(), "--days", f"{days:g}"]
        path = tb.DATA / f"{name}-{n}-{seed}-{start.isoformat()}-{days:g}d{form}.jsonl"
    if not path.exists():
        subprocess.run([sys.executable, str(BENCH / "generate.py"), str(path), "-n", str(n), "--seed", str(seed),
                        "--text", text, *span], check=True)
    return path


def render(args: argparse.Namespace, stored: int, load_s: float, load_load: tuple[str, str],
           runs: list[tuple[str, int, tb.Run]], started: str, compacted: tuple[list[str], float]) -> str:
    loaded = (f"in {load_s:.0f} s (load {load_load[0]} -> {load_load[1]})" if load_s
              else "by an earlier run of this script (--reuse)")
    reuse = " --reuse" if args.reuse else ""
    empty = [r.rate for k, _, r in runs if k == "empty"]
    full = [r.rate for k, _, r in runs if k == "stored"]
    ratio = statistics.median(full) / statistics.median(empty)
    rows = "\n".join(
        f"| {i} | {kind} | {before:,} | {r.seconds:.1f} | {r.rate:,.0f} | {r.es_cpu:.1f} | "
        f"{1000 * r.es_cpu / r.lines:.2f} | {r.main_rss_mb:.0f} | {r.load_before} | {r.load_after} |"
        for i, (kind, before, r) in enumerate(runs, 1))
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    real = args.text == "real"
    text = " --text real" if real else ""
    accumulate = " --accumulate" if args.accumulate else ""
    forgotten = ("; each stored run's posts stay in the store (--accumulate)" if args.accumulate else
                 "; each stored run's new posts are deleted after it, so every pair meets the same store")
    posts = ("The posts are bench/generate.py's `--text real`: bodies of real clauses, whose band keys collide like "
             "reviews of one brand (bench/collisions_bench.py).\n" if real else "")
    return f"""{SECTION_REAL if real else SECTION}

Measured {started} UTC by `.venv/bin/python bench/stored_bench.py --stored {args.stored} -n {args.n} --repeat \
{args.repeat} --workers {args.workers} --seed-base {args.seed_base} --history-days {args.history_days:g} \
--recent-days {args.recent_days:g}{reuse}{text}{accumulate}` on committed code (git {git.strip()}),
under `nice -n 10`; 2 cores shared
with other engineers' CI and test runs (see the load columns), Elasticsearch 8.19 (1 GB heap) on this machine.
{posts}Stored side: {stored:,} mentions of `bench/generate.py --seed 7{text}` published over the \
{args.history_days:g} days before {END} (with their cluster ids; founders carry `cluster_band_ids`), bulk-loaded \
directly {loaded}. Each run
ingests a fresh `bench/generate.py -n {args.n}{text}` file (seed {args.seed_base} + run pair) published over the last
{args.recent_days:g} days of that history, so its posts are new to both sides{forgotten}. The months that ended 7 days \
before
{END} or earlier were merged into one segment each, as the service's compaction job does
(`scheduler.compact_after_days`; {len(compacted[0])} merged by this run in {compacted[1]:.0f} s, any others by an
earlier one).

| | docs/s (median) | / empty |
|---|---:|---:|
| into an empty index | {statistics.median(empty):,.0f} | **1.00** |
| into {stored:,} stored mentions | {statistics.median(full):,.0f} | **{ratio:.2f}** |

| run | into | stored before | s | docs/s | ES CPU s | ES CPU ms / mention | ingest RSS MB | load before \
| load after |
|---:|---|---:|---:|---:|---:|---:|---:|---|---|
{rows}
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stored", type=int, default=1_000_000)
    ap.add_argument("-n", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workers", default="0")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--keep", action="store_true", help="leave both prefixes on the node")
    ap.add_argument("--reuse", action="store_true", help="keep a stored prefix holding the --stored lines' posts")
    ap.add_argument("--seed-base", type=int, default=1000,
                    help="run pair k ingests generate.py --seed SEED_BASE+k (another base after --reuse: new posts)")
    ap.add_argument("--history-days", type=float, default=365, help="the stored mentions span this many days")
    ap.add_argument("--recent-days", type=float, default=2, help="each run's new posts span the last this many")
    ap.add_argument("--text", choices=("clauses", "real"), default="clauses", help="bench/generate.py's text form")
    ap.add_argument("--accumulate", action="store_true",
                    help="leave each stored run's posts in the store (the next pair meets a denser window)")
    args = ap.parse_args(argv)
    full = REAL if args.text == "real" else FULL
    from elasticsearch import Elasticsearch

    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    tb.DATA.mkdir(exist_ok=True)
    es = Elasticsearch(tb.ES_URL, request_timeout=300)
    load_s, load_load = 0.0, (tb.loadavg(), tb.loadavg())
    path = data("stored", args.stored, 7, args.history_days, args.text)
    # what a load of that file leaves: its distinct posts (its ~5% re-observations are not stored twice), fewer than
    # --stored lines, which --reuse compared the count with, so that it never reused
    if not (args.reuse and count(es, full) >= len(run_ids(path))):
        wipe(es, full)
        t = time.perf_counter()
        written = load(es, path, full)
        load_s, load_load = time.perf_counter() - t, (load_load[0], tb.loadavg())
        print(f"stored {written:,} mentions in {load_s:.0f} s", flush=True)
    # what the service's compaction job (store.compaction, scheduler.compact_after_days) did to the finished months
    # over that year, as of the history's end
    t = time.perf_counter()
    compacted = compact(es, full, datetime.combine(END, datetime.min.time(), UTC), timedelta(days=7))
    compact_s = time.perf_counter() - t
    print(f"compacted {len(compacted)} finished months in {compact_s:.0f} s", flush=True)
    stored = count(es, full)
    exe = str(Path(sys.executable).parent / "groundswell")
    runs: list[tuple[str, int, tb.Run]] = []
    try:
        for rep in range(args.repeat):
            path = data("fresh", args.n, args.seed_base + rep, args.recent_days, args.text)
            for kind, prefix in (("empty", EMPTY), ("stored", full)):
                if prefix == EMPTY:
                    wipe(es, EMPTY)
                before = count(es, prefix)
                ids = run_ids(path) if prefix == full and not args.accumulate else []
                there = set(located(es, prefix, ids)) if ids else set()
                env = {**tb.environment(), "GROUNDSWELL_INDEX_PREFIX": prefix}
                run = tb.timed(f"ingest into {kind}", [exe, "ingest", str(path), "--json", "--workers",
                                                       args.workers], args.n, env)
                s = run.summary
                if s["read"] != args.n or s["indexed"] + s["updated"] + s["duplicates"] != args.n:
                    raise SystemExit(f"ingest did not store every line: {s}")
                runs.append((kind, before, run))
                print(f"{kind} ({before:,} stored): {run.rate:,.0f} docs/s, ES CPU {run.es_cpu:.1f} s, "
                      f"load {run.load_before} -> {run.load_after}", flush=True)
                if ids:
                    removed = forget(es, prefix, ids, there)
                    left = count(es, prefix)
                    print(f"  forgot the run's {removed:,} new posts: {left:,} stored"
                          + ("" if left == before else f" (not the {before:,} before it)"), flush=True)
    finally:
        if not args.keep:
            wipe(es, EMPTY)
    section = render(args, stored, load_s, load_load, runs, started, (compacted, compact_s))
    print(section)
    if args.write:
        results.write_section(SECTION_REAL if args.text == "real" else SECTION, section)
    if not args.keep:
        wipe(es, full)
    return 0


if __name__ == "__main__":
    sys.exit(main())
