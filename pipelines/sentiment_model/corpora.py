"""The labelled corpora in the repository and their fixed splits (a fresh clone needs nothing beside it).

- `data/ecommerce_reviews_9cats.csv.gz`: 52,773 shopping reviews, 9 categories (`cat,label,review`).
- `data/weibo_posts_10k.txt.gz`: 10,000 hand-labelled Weibo posts (`mid,label,text`, no header).

Splits are fixed by seed so every run rebuilds the same model and the held-out parts are never trained on.
The Weibo split is made on the post ids alone, before any text is read: `test` (sentiment held-out) and the two
complaint-evaluation pools are never used to train, tune or write rules.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
REVIEWS = DATA_DIR / "ecommerce_reviews_9cats.csv.gz"
WEIBO = DATA_DIR / "weibo_posts_10k.txt.gz"
REVIEW_SEED = 20240601
REVIEW_VALIDATION_SHARE = 0.10
WEIBO_SEED = 20261129
WEIBO_HELD_OUT = {"test": 1000, "complaint_a": 400, "complaint_b": 400}  # the rest is "train"


@dataclass(frozen=True)
class Doc:
    """One labelled text: `label` 1 positive, 0 negative; `group` is the review category or "weibo"."""

    id: str
    group: str
    label: int
    text: str


def read_rows(path: Path = REVIEWS) -> list[tuple[str, int, str]]:
    """(category, label, review) in file order; label 1 = positive, 0 = negative."""
    with gzip.open(path, "rb") as raw:
        reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8-sig"))
        return [(r["cat"], int(r["label"]), r["review"] or "") for r in reader]


def split(
    rows: list[tuple[str, int, str]], seed: int = REVIEW_SEED, share: float = REVIEW_VALIDATION_SHARE
) -> tuple[list[int], list[int]]:
    """Train and validation row indices of the reviews, stratified by (category, label), fixed by the seed."""
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


def reviews() -> tuple[list[Doc], list[Doc]]:
    """The shopping reviews as (train, held-out) documents."""
    rows = read_rows()
    tr, va = split(rows)
    docs = [Doc(f"r{i}", cat, label, text) for i, (cat, label, text) in enumerate(rows)]
    return [docs[i] for i in tr], [docs[i] for i in va]


def read_weibo(path: Path = WEIBO) -> list[Doc]:
    """Every post in file order (text may contain commas: split on the first two only)."""
    out: list[Doc] = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            line = line.rstrip("\n")
            if not line:
                continue
            parts = line.split(",", 2)
            if len(parts) != 3 or parts[1] not in ("0", "1"):
                raise ValueError(f"{path}: line {n}: expected mid,label,text (got {line[:40]!r})")
            out.append(Doc(parts[0], "weibo", int(parts[1]), parts[2]))
    return out


def weibo_split_ids(mids: list[str], seed: int = WEIBO_SEED) -> dict[str, set[str]]:
    """Post ids per split, from the ids alone (sorted, then shuffled by the seed): never looks at a text."""
    order = sorted(mids)
    random.Random(seed).shuffle(order)
    out: dict[str, set[str]] = {}
    at = 0
    for name, n in WEIBO_HELD_OUT.items():
        out[name] = set(order[at : at + n])
        at += n
    out["train"] = set(order[at:])
    return out


def weibo() -> dict[str, list[Doc]]:
    """The Weibo posts by split: "train", "test", "complaint_a", "complaint_b" (file order within each)."""
    docs = read_weibo()
    ids = weibo_split_ids([d.id for d in docs])
    return {name: [d for d in docs if d.id in members] for name, members in ids.items()}
