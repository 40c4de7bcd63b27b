"""What the founder search's cap (pipelines.clusters.MAX_CLUSTERS) changes: the cluster ids of new mentions resolved
against a large store with the shipped cap and order (the founders sharing the most band keys with a batch first),
with the newest first (before), a larger cap, and no cap at all, read-only.

    .venv/bin/python bench/stored_bench.py --keep [--repeat 1]      # loads the store this reads (prefix gsstfull)
    .venv/bin/python bench/founder_cap_bench.py [-n 5000] [--seed 1130] [--write]
        [--passes 1000/ranked,2000/ranked,2000/newest,10000/newest]   # cap/order of each pass; no cap comes last

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
HEADER = ("| cap, and which founders are compared when a batch matches more | founders compared per batch "
          "| mentions in a cluster | cluster differs from no cap | of which left on their own "
          "| of which in another cluster | resolve s |\n"
          "|---|---:|---:|---:|---:|---:|---:|")
BATCH = 500


def resolve_all(es: Any, docs: list[dict[str, Any]], cap: int, ranked: bool) -> tuple[dict[str, str], list[int], float]:
    """Cluster ids of `docs` resolved in batches with the cap at `cap`, the founders sharing the most bands with a
    batch first (`ranked`) or the newest; the founders each batch compared."""
    shipped = pc.MAX_CLUSTERS, pc.RANKED
    pc.MAX_CLUSTERS, pc.RANKED = cap, ranked
    try:
        resolver = pc.ClusterResolver(es, sb.FULL, lambda f, *a, **k: f(*a, **k), window=timedelta(days=30))
        counts: list[int] = []
        load = resolver._load_founders

        def counted(cluster_ids: list[str]) -> None:
            counts.append(len(cluster_ids))
            load(cluster_ids)

        resolver._load_founders = counted  # type: ignore[method-assign]
        mine = copy.deepcopy(docs)
        t0 = time.monotonic()
        for i in range(0, len(mine), BATCH):
            resolver.resolve(mine[i:i + BATCH])
        return {d["mention_id"]: d["cluster_id"] for d in mine}, counts, time.monotonic() - t0
    finally:
        pc.MAX_CLUSTERS, pc.RANKED = shipped


def real_posts(sample: int = 10_000, batch: int = BATCH, cap: int = pc.MAX_CLUSTERS) -> list[str]:
    """How often the band keys of real posts collide: for the hand-labelled Weibo posts and a sample of the shopping
    reviews the project keeps (pipelines/sentiment_model/data), the other posts sharing a band with a post, and how
    many founders a window must hold before a batch's search reaches the cap (a batch matches 1 - (1 - p)^batch
    of them, p being the share of pairs that share a band)."""
    import random

    from pipelines.near_duplicates import fingerprint
    from pipelines.sentiment_model import corpora

    rows = []
    for name, texts in (("Weibo posts", [d.text for d in corpora.read_weibo()]),
                        ("shopping reviews", [r[2] for r in corpora.read_rows()])):
        fps = [fp for t in texts if (fp := fingerprint(t)) is not None]
        random.Random(14).shuffle(fps)
        fps = fps[:sample]
        members: dict[str, list[int]] = {}
        for i, fp in enumerate(fps):
            for band in fp.bands:
                members.setdefault(band, []).append(i)
        pairs = sum(len({j for band in fp.bands for j in members[band]} - {i}) for i, fp in enumerate(fps))
        p = pairs / len(fps) / (len(fps) - 1)
        share = 1 - (1 - p) ** batch
        rows.append(f"| {name} | {len(fps):,} | {pairs / len(fps):.2f} | {share:.2%} | {cap / share:,.0f} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=5000, help="new lines resolved")
    ap.add_argument("--seed", type=int, default=1130)
    ap.add_argument("--passes", default=f"{pc.MAX_CLUSTERS}/ranked,2000/ranked,2000/newest,10000/newest",
                    help="cap/order pairs to compare with no cap (the shipped one first; order: ranked or newest)")
    ap.add_argument("--uncapped", type=int, default=100_000, help="a cap above what any search matches")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    cfg = gsconfig.load(None, env={k: v for k, v in os.environ.items() if k != "GROUNDSWELL_INDEX_PREFIX"})
    es = make_client(cfg.elasticsearch)
    stored = int(es.count(index=mapping.alias(sb.FULL), ignore_unavailable=True, allow_no_indices=True)["count"])
    if not stored:
        print(f"founder_cap_bench: no stored mentions under prefix {sb.FULL!r}: load them first with "
              "`bench/stored_bench.py --keep`", file=sys.stderr)
        return 2
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    path = sb.data("fresh", 20_000, args.seed, 2)
    sb._init()
    with open(path, encoding="utf-8") as f:
        docs = sb._analyse(list(islice(f, args.n)))
    passes = [(int(c), o == "ranked") for c, o in (p.split("/") for p in args.passes.split(",") if p.strip())]
    months = mapping.index_pattern(sb.FULL)
    es.indices.put_settings(index=months, settings={"index.max_result_window": args.uncapped})
    try:
        runs = [(cap, ranked, *resolve_all(es, docs, cap, ranked)) for cap, ranked in [*passes, (args.uncapped, True)]]
    finally:
        es.indices.put_settings(index=months, settings={"index.max_result_window": None})
    truth = runs[-1][2]
    rows = []
    for cap, ranked, ids, counts, seconds in runs:
        differ = [m for m in ids if ids[m] != truth[m]]
        alone = sum(1 for m in differ if ids[m] == m)
        label = ("no cap" if cap == args.uncapped else f"{cap:,}, most bands shared first" if ranked
                 else f"{cap:,}, the newest first")
        rows.append(f"| {label} | {min(counts):,} to {max(counts):,} | {sum(1 for m in ids if ids[m] != m):,} | "
                    f"{len(differ):,} | {alone:,} | {len(differ) - alone:,} | {seconds:.1f} |")
        print(rows[-1], flush=True)
    section = f"""{SECTION}

Measured {started} UTC by `.venv/bin/python bench/founder_cap_bench.py -n {args.n} --seed {args.seed} --passes \
{args.passes}` on a store loaded by `bench/stored_bench.py --keep` ({stored:,} mentions under `{sb.FULL}`).
The first {args.n:,} lines of a `bench/generate.py --seed {args.seed}` file over the last 2 days of the stored history
({len(truth):,} posts, some seen twice) resolved read-only in batches of {BATCH}, once per pass; "no cap" lifts it
above any search's matches. The counts are of posts.

{HEADER}
""" + "\n".join(rows) + f"""

The generator's posts collide far more often than real ones. The same band keys over real posts the project keeps
(other posts of the sample sharing at least one band with a post; the share of a window's founders a batch of {BATCH}
matches; the founders a window must hold before a batch reaches the cap of {pc.MAX_CLUSTERS:,}):

| posts | sample | others sharing a band, per post | matched by a batch | founders in the window to reach the cap |
|---|---:|---:|---:|---:|
""" + "\n".join(real_posts()) + "\n"
    print(section)
    if args.write:
        results.write_section(SECTION, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
