"""What the founder search's cap (pipelines.clusters.MAX_CLUSTERS) changes: the cluster ids of new mentions resolved
against a large store with the shipped cap and order (the founders sharing the most band keys with a batch first),
with the newest first (before), a larger cap, and no cap at all, read-only.

    .venv/bin/python bench/stored_bench.py --keep [--repeat 1]      # loads the store this reads (prefix gsstfull)
    .venv/bin/python bench/founder_cap_bench.py [-n 5000] [--seed 1130] [--write] [--text clauses|real]
        [--passes 1000/ranked,2000/ranked,2000/newest,10000/newest]   # cap/order[/batch] of each pass; no cap last

The stored side is stored_bench's (~1M generated mentions over a year, founders carrying their band keys). A fresh
`bench/generate.py` file published over the last 2 days of that history goes through ingest's analysis stages
(stored_bench's workers), then through a new ClusterResolver in batches of 500, as the Elasticsearch stage resolves
them, once per pass; nothing is written, so every pass sees the same store. "Uncapped" lifts the cap above the most
founders any search matches (the node's max_result_window is raised on the stored months for the run and put back).
Each pass counts the mentions that joined a cluster, the founders each batch compared, and its seconds; the
mentions whose cluster differs from the uncapped pass are sorted into: left on their own cluster (a similar founder
was not among those compared), or put into another cluster (a less similar one among those compared).

`--write` replaces the section below in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import results  # noqa: E402
import stored_bench as sb  # noqa: E402

import pipelines.clusters as pc  # noqa: E402
from groundswell import config as gsconfig  # noqa: E402
from store import mapping  # noqa: E402
from store.client import make_client  # noqa: E402

SECTION = "## The founder search's cap against no cap (issue 14)"
SECTION_REAL = "## The founder search's cap against no cap, posts of real clauses (issue 14)"
HEADER = ("| cap, and which founders are compared when a batch matches more | founders compared per batch "
          "| mentions in a cluster | cluster differs from no cap | of which left on their own "
          "| of which in another cluster | resolve s |\n"
          "|---|---:|---:|---:|---:|---:|---:|")
BATCH = 500


def resolve_all(
    es: Any, docs: list[dict[str, Any]], cap: int, ranked: bool, batch: int = BATCH, prefix: str = sb.FULL
) -> tuple[dict[str, str], list[int], float]:
    """Cluster ids of `docs` resolved in batches of `batch` with the cap at `cap`, the founders sharing the most bands
    with a batch first (`ranked`) or the newest; the founders each batch compared."""
    shipped = pc.MAX_CLUSTERS, pc.RANKED
    pc.MAX_CLUSTERS, pc.RANKED = cap, ranked
    try:
        resolver = pc.ClusterResolver(es, prefix, lambda f, *a, **k: f(*a, **k), window=timedelta(days=30))
        counts: list[int] = []
        load = resolver._load_founders

        def counted(cluster_ids: list[str]) -> None:
            counts.append(len(cluster_ids))
            load(cluster_ids)

        resolver._load_founders = counted  # type: ignore[method-assign]
        mine = copy.deepcopy(docs)
        t0 = time.monotonic()
        for i in range(0, len(mine), batch):
            resolver.resolve(mine[i:i + batch])
        return {d["mention_id"]: d["cluster_id"] for d in mine}, counts, time.monotonic() - t0
    finally:
        pc.MAX_CLUSTERS, pc.RANKED = shipped


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=5000, help="new lines resolved")
    ap.add_argument("--seed", type=int, default=1130)
    ap.add_argument("--passes", default=f"{pc.MAX_CLUSTERS}/ranked,2000/ranked,2000/newest,10000/newest",
                    help="cap/order[/batch] of each pass compared with no cap (the shipped one first; order: ranked or "
                         f"newest; batch: documents per founder search, {BATCH} when left out)")
    ap.add_argument("--text", choices=("clauses", "real"), default="clauses",
                    help="the stored side and new posts of bench/stored_bench.py --text (its prefix)")
    ap.add_argument("--uncapped", type=int, default=100_000, help="a cap above what any search matches")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    cfg = gsconfig.load(None, env={k: v for k, v in os.environ.items() if k != "GROUNDSWELL_INDEX_PREFIX"})
    es = make_client(cfg.elasticsearch)
    prefix = sb.REAL if args.text == "real" else sb.FULL
    stored = int(es.count(index=mapping.alias(prefix), ignore_unavailable=True, allow_no_indices=True)["count"])
    if not stored:
        print(f"founder_cap_bench: no stored mentions under prefix {prefix!r}: load them first with "
              f"`bench/stored_bench.py --keep --text {args.text}`", file=sys.stderr)
        return 2
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    path = sb.data("fresh", 20_000, args.seed, 2, args.text)
    sb._init()
    with open(path, encoding="utf-8") as f:
        docs = sb._analyse(list(islice(f, args.n)))
    passes = [(int(f[0]), f[1] == "ranked", int(f[2]) if len(f) > 2 else BATCH)
              for f in (p.split("/") for p in args.passes.split(",") if p.strip())]
    months = mapping.index_pattern(prefix)
    es.indices.put_settings(index=months, settings={"index.max_result_window": args.uncapped})
    try:
        runs = [(cap, ranked, batch, *resolve_all(es, docs, cap, ranked, batch, prefix))
                for cap, ranked, batch in [*passes, (args.uncapped, True, BATCH)]]
    finally:
        es.indices.put_settings(index=months, settings={"index.max_result_window": None})
    truth = runs[-1][3]
    rows = []
    for cap, ranked, batch, ids, counts, seconds in runs:
        differ = [m for m in ids if ids[m] != truth[m]]
        alone = sum(1 for m in differ if ids[m] == m)
        label = ("no cap" if cap == args.uncapped else f"{cap:,}, most bands shared first" if ranked
                 else f"{cap:,}, the newest first") + f", batches of {batch:,}"
        rows.append(f"| {label} | {min(counts):,} to {max(counts):,} | {sum(1 for m in ids if ids[m] != m):,} | "
                    f"{len(differ):,} | {alone:,} | {len(differ) - alone:,} | {seconds:.1f} |")
        print(rows[-1], flush=True)
    section = f"""{SECTION_REAL if args.text == "real" else SECTION}

Measured {started} UTC by `.venv/bin/python bench/founder_cap_bench.py -n {args.n} --seed {args.seed} --passes \
{args.passes} --text {args.text}` on a store loaded by `bench/stored_bench.py --keep --text {args.text}` \
({stored:,} mentions under `{prefix}`).
The first {args.n:,} lines of a `bench/generate.py --seed {args.seed} --text {args.text}` file over the last 2 days of
the stored history ({len(truth):,} posts, some seen twice) resolved read-only in batches, once per pass; "no cap" lifts
it above any search's matches. The counts are of posts.

{HEADER}
""" + "\n".join(rows) + """

How often real posts reach the cap: the section on band-key collisions (bench/collisions_bench.py).
"""
    print(section)
    if args.write:
        results.write_section(SECTION_REAL if args.text == "real" else SECTION, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
