"""How often the near-duplicate band keys of unrelated posts collide: real posts the project keeps, one brand or
product kind at a time, against the benchmark generator's posts.

    .venv/bin/python bench/collisions_bench.py [--sample 10000] [--write]

The cost of resolving clusters against a large store grows with the stored founders a batch's band keys match
(pipelines.clusters: one search per batch, capped at MAX_CLUSTERS founders compared). That number is the founders in
the cluster window times the share a batch of 500 matches, 1 - (1 - p)^500, where p is the share of pairs of
unrelated posts that share at least one band key (32 bands of 4 MinHash rows over character 3-grams). This measures p
on:

- the hand-labelled Weibo posts and the shopping reviews kept in pipelines/sentiment_model/data (all categories
  mixed, as part 8 of issue 14 measured them);
- the reviews of each category alone: a brand-monitoring stream is about one brand and its products, so its posts
  share more words than a mixed sample (one category, 蒙牛, is a brand);
- posts of bench/generate.py (every benchmark's input), each text once, reposts and copies left out (they are meant
  to collide), once per `--text` form.

Texts are counted once (exact repeats are copies, not chance); a sample of at most `--sample` per set. `--write`
replaces the section below in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import generate  # noqa: E402
import results  # noqa: E402

from pipelines.clusters import MAX_CLUSTERS  # noqa: E402
from pipelines.near_duplicates import fingerprint  # noqa: E402
from pipelines.sentiment_model import corpora  # noqa: E402

SECTION = "## Band-key collisions of unrelated posts (issue 14)"
BATCH = 500  # the Elasticsearch stage's batch: one founder search each


def pair_share(texts: Iterable[str], sample: int, seed: int = 14) -> tuple[int, float]:
    """(posts compared, the share of their pairs that share at least one band key)."""
    fps = [fp for t in dict.fromkeys(texts) if (fp := fingerprint(t)) is not None]
    random.Random(seed).shuffle(fps)
    fps = fps[:sample]
    members: dict[str, list[int]] = defaultdict(list)
    for i, fp in enumerate(fps):
        for band in fp.bands:
            members[band].append(i)
    pairs = sum(len({j for band in fp.bands for j in members[band]} - {i}) for i, fp in enumerate(fps))
    n = len(fps)
    return n, pairs / n / (n - 1) if n > 1 else 0.0


def generated_texts(n: int, text: str, seed: int = 7) -> list[str]:
    """The texts of bench/generate.py's new posts (not reposts, not copies of an earlier post)."""
    buf = io.StringIO()
    generate.generate(buf, n, seed=seed, reobserve=0.0, copies=0.0, text=text)
    out = []
    for line in buf.getvalue().splitlines():
        rec = json.loads(line)
        if not rec.get("repost_of"):
            out.append(rec["text"])
    return out


def row(name: str, total: int, n: int, p: float) -> str:
    share = 1 - (1 - p) ** BATCH
    reach = f"{MAX_CLUSTERS / share:,.0f}" if share else "never"
    return f"| {name} | {total:,} | {n:,} | {p * 9_999:.3f} | {share:.2%} | {reach} |"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=int, default=10_000)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    rows: list[str] = []
    weibo = [d.text for d in corpora.read_weibo()]
    rows.append(row("Weibo posts, all topics", len(weibo), *pair_share(weibo, args.sample)))
    reviews = corpora.read_rows()
    rows.append(row("shopping reviews, 9 categories mixed", len(reviews),
                    *pair_share([r[2] for r in reviews], args.sample)))
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, _, review in reviews:
        by_kind[kind].append(review)
    for kind, texts in sorted(by_kind.items(), key=lambda kv: -len(kv[1])):
        rows.append(row(f"shopping reviews, {kind} alone", len(texts), *pair_share(texts, args.sample)))
    for text in generate.TEXT_FORMS:
        texts = generated_texts(args.sample + args.sample // 5, text)
        rows.append(row(f"bench/generate.py --text {text}", len(texts), *pair_share(texts, args.sample)))
    section = "\n".join([
        SECTION, "",
        f"Measured {started} UTC by `.venv/bin/python bench/collisions_bench.py --sample {args.sample}`. For each set "
        "of posts (each text once, at most a sample of that many): p, the share of pairs of posts that share at least "
        "one of their 32 band keys, given as the others a post shares a band with among 10,000; the share of a "
        f"window's founders one batch of {BATCH} matches, 1 - (1 - p)^{BATCH}; and the founders the cluster window "
        f"must hold before that batch's founder search reaches its cap of {MAX_CLUSTERS:,}.",
        "",
        "| posts | in the set | compared | others sharing a band, per 10,000 | matched by a batch | founders in the "
        "window to reach the cap |",
        "|---|---:|---:|---:|---:|---:|",
        *rows,
    ]) + "\n"
    print(section)
    if args.write:
        results.write_section(SECTION, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
