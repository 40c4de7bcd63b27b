"""Rule evaluation time against index size: the default rules' `evaluate_all` at several instants of the replay
(sites.replay), on indices of 10k, 100k (and, with --sizes, 1M) mentions, as a ratio to a plain `count` of the
same index measured in the same run.

Each index holds the replay (12k to 32k mentions over ~6 days, with the promotion, bad hour and viral complaint)
plus filler: copies of the replay's ordinary mentions with new ids, spread over the 60 days before the replay's end
(one engagement observation each), so history and density grow with the size as in a real index. Filler is
streamed into bulk requests of 5,000 documents.

    .venv/bin/python bench/rules_bench.py [--sizes 10000,100000,1000000] [--repeat 3] [--no-write]

Writes the "## Rule evaluation" section of bench/RESULTS.md, leaving the other sections alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, helpers

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts.rules.base import EvalContext  # noqa: E402
from alerts.rules.context import brands_in_index  # noqa: E402
from alerts.rules.defaults import DEFAULT_RULES  # noqa: E402
from alerts.rules.registry import evaluate, evaluate_all  # noqa: E402
from sites import replay  # noqa: E402
from store import mapping  # noqa: E402
from store.client import ensure_schema  # noqa: E402
from store.state import iso  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Rule evaluation"
SPAN = timedelta(days=60)
PREFIX = "gsbench-rules"


def filler(templates: list[dict[str, Any]], n: int, end: datetime, seed: int) -> Iterator[dict[str, Any]]:
    """`n` copies of ordinary replay mentions with new ids, published uniformly over the 60 days before `end`."""
    rng = random.Random(seed)
    start = end - SPAN
    span = SPAN.total_seconds()
    for i in range(n):
        t = templates[i % len(templates)]
        published = start + timedelta(seconds=rng.random() * span)
        crawled = min(published + timedelta(minutes=rng.uniform(1, 600)), end)
        source_id = f"fill{i:08d}"
        mid = mapping.doc_id(t["platform"], source_id)
        doc = dict(t)
        obs = {"crawled_at": iso(crawled), "likes": t["likes"], "reposts": t["reposts"], "comments": t["comments"]}
        doc.update(
            {
                "@timestamp": iso(published),
                "published_at": iso(published),
                "crawled_at": obs["crawled_at"],
                "first_seen_at": obs["crawled_at"],
                "source_id": source_id,
                "mention_id": mid,
                "cluster_id": mid,
                "repost_of": None,
                "author_id": f"{t['platform']}-f{rng.randrange(200_000)}",
                "engagement_history": [obs],
            }
        )
        yield doc


def delete(es: Elasticsearch, prefix: str) -> None:
    names = list(es.indices.get(index=f"{prefix}-*", allow_no_indices=True, ignore_unavailable=True).body)
    if names:
        es.indices.delete(index=",".join(names))
    if es.indices.exists_index_template(name=mapping.template_name(prefix)):
        es.indices.delete_index_template(name=mapping.template_name(prefix))


def build_index(es: Elasticsearch, prefix: str, size: int) -> tuple[replay.Scenario, float]:
    scenario, docs = replay.build(size=min(size, 30_000))  # ~12k mentions at the least (the story needs them)
    t0 = time.perf_counter()
    replay.index(es, prefix, docs)
    templates = [d for d in docs if d["cluster_id"] == d["mention_id"] and d["mention_id"] != scenario.viral_mention_id]
    rest = size - len(docs)
    if rest > 0:
        ensure_schema(es, prefix)
        actions = (
            {"_op_type": "index", "_index": mapping.index_of(d, prefix), "_id": d["mention_id"], "_source": d}
            for d in filler(templates, rest, scenario.end, seed=size)
        )
        _, errors = helpers.bulk(es, actions, chunk_size=5000, max_chunk_bytes=80 * 1024 * 1024, stats_only=True)
        if errors:
            raise RuntimeError(f"{errors} filler documents rejected")
    es.indices.refresh(index=mapping.alias(prefix))
    es.indices.forcemerge(index=mapping.alias(prefix), max_num_segments=1)
    return scenario, time.perf_counter() - t0


def instants(s: replay.Scenario) -> list[datetime]:
    return [
        s.start + timedelta(days=1, hours=3),
        s.start + timedelta(days=1, hours=12),
        s.promotion_start + timedelta(hours=2),
        s.bad_hour_end,
        s.viral_start - timedelta(hours=1),
        s.viral_start + timedelta(minutes=30),
        s.viral_start + timedelta(hours=1),
        s.end,
    ]


def measure(es: Elasticsearch, prefix: str, scenario: replay.Scenario, repeat: int) -> dict[str, Any]:
    alias = mapping.alias(prefix)
    count = es.count(index=alias)["count"]
    for _ in range(3):  # warm caches the same way for both
        es.count(index=alias)
    count_times: list[float] = []
    eval_times: list[float] = []
    per_rule: dict[str, list[float]] = {r.name: [] for r in DEFAULT_RULES}
    matches = 0
    for _ in range(repeat):
        for at in instants(scenario):
            t0 = time.perf_counter()
            es.count(index=alias)
            count_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ctx = EvalContext(es=es, prefix=prefix, at=at, brands=tuple(brands_in_index(es, prefix, at)))
            errors: list[str] = []
            found = evaluate_all(DEFAULT_RULES, ctx, errors)
            eval_times.append(time.perf_counter() - t0)
            if errors:
                raise RuntimeError(errors)
            matches += len(found)
            for rule in DEFAULT_RULES:
                t0 = time.perf_counter()
                evaluate(rule, ctx)
                per_rule[rule.name].append(time.perf_counter() - t0)
    return {
        "docs": count,
        "count_ms": statistics.median(count_times) * 1000,
        "eval_ms": statistics.median(eval_times) * 1000,
        "eval_max_ms": max(eval_times) * 1000,
        "rules_ms": {k: statistics.median(v) * 1000 for k, v in per_rule.items()},
        "matches": matches / repeat,
    }


def write_section(text: str) -> None:
    content = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    start = content.find(SECTION + "\n")
    if start == -1:
        content = content.rstrip("\n") + "\n\n" + text
    else:
        nxt = content.find("\n## ", start + len(SECTION))
        content = content[:start] + text + (content[nxt + 1 :] if nxt != -1 else "")
    RESULTS.write_text(content, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--url", default=os.environ.get("GROUNDSWELL_ES_URL", "http://127.0.0.1:9200"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    es = Elasticsearch(args.url, request_timeout=600)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    load = os.getloadavg()
    for size in sizes:
        prefix = f"{PREFIX}-{size}"
        delete(es, prefix)
        try:
            scenario, load_s = build_index(es, prefix, size)
            result = measure(es, prefix, scenario, args.repeat)
            result["load_s"] = load_s
            rows.append(result)
            print(size, result, flush=True)
        finally:
            delete(es, prefix)
    version = es.nodes.info(node_id="_local", filter_path="nodes.*.version").body["nodes"]
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `.venv/bin/python bench/rules_bench.py "
        f"--sizes {args.sizes} --repeat {args.repeat}` (Python {platform.python_version()}, Elasticsearch "
        f"{next(iter(version.values()))['version']}, one node on this machine; load average at start "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, 2 cores shared with other work).",
        "",
        "Each index: the replay of `sites/replay.py` (seed 20261116; 12k to 32k mentions over ~6 days) plus filler"
        " (copies of its ordinary mentions with new ids, spread over the 60 days before its end), force-merged to"
        " one segment. Timed: `evaluate_all` of the four default rules (viral spread, negative surge, new complaint"
        f" term, crawler health) with the brands lookup, at {len(instants(replay.build(size=1000)[0]))} instants"
        f" (quiet night, lunch, promotion, bad hour, before and during the viral complaint) x {args.repeat};"
        " baseline: a plain `count` of the same index right before each evaluation. Medians.",
        "",
        "| mentions | count (ms) | evaluate_all (ms) | evaluate_all / count | slowest evaluate_all (ms) |"
        " viral | surge | new term | health (ms) | matches per pass | index load (s) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        per = r["rules_ms"]
        lines.append(
            f"| {r['docs']:,} | {r['count_ms']:.1f} | {r['eval_ms']:.0f} | **{r['eval_ms'] / r['count_ms']:.0f}** |"
            f" {r['eval_max_ms']:.0f} | {per['viral-spread']:.0f} | {per['negative-surge']:.0f} |"
            f" {per['new-complaint-term']:.0f} | {per['crawler-health']:.0f} | {r['matches']:.0f} | {r['load_s']:.0f} |"
        )
    if len(rows) >= 2:
        growth = rows[-1]["eval_ms"] / rows[0]["eval_ms"]
        lines += [
            "",
            f"Reading: from {rows[0]['docs']:,} to {rows[-1]['docs']:,} mentions"
            f" ({rows[-1]['docs'] / rows[0]['docs']:.0f}x)"
            f" one evaluation of every default rule went from {rows[0]['eval_ms']:.0f} to {rows[-1]['eval_ms']:.0f} ms"
            f" ({growth:.1f}x). Every query is bounded by a time window (the last hours; the surge baseline reads"
            " the same hour of 14 previous days through one date_range aggregation), by size limits and by"
            " aggregations, and engagement as of the instant is computed client-side only for the candidate"
            " clusters' mentions, so the cost follows the mentions in those windows rather than the index size.",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
