"""Weak supervision for complaint categories: a linear model per top category, trained on the taxonomy's own hits.

Why: the phrase, proximity and duration rules are precise but only know the wording someone wrote down. Trained
on the unlabelled corpora in the repository (the train parts of the shopping reviews and Weibo posts), with the
rules' categories as labels and the matched phrases blanked out of the positive texts, the model has to learn the
CONTEXT that goes with each category ("骑手", "三天", "包装盒" ...), which lets it tag complaints worded in ways
no rule lists. It only ever adds a top-level category to what the rules found, and only above a high threshold.

Features are the sentiment model's hashed character n-grams (sentiment_model/features.py). Weights are kept only
for buckets with a non-zero weight (L1), as two memory-mappable .npy files: sorted bucket ids and a weight row
per id. Rebuild: `nice -n 10 .venv/bin/python -m pipelines.complaint_model` (needs scikit-learn).
"""

from __future__ import annotations

import functools
import json
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pipelines.complaints import SEVERITIES, Rules, TagResult, default_rules, has_commerce_context, tag
from pipelines.sentiment_model import features

MODEL_DIR = Path(__file__).parent / "complaint_model_data"
THRESHOLD = 0.9  # set before evaluation, for precision: a wrong category costs a service team's time
C = 0.5  # L1 strength: few, telling n-grams per category


@dataclass(frozen=True)
class ComplaintModel:
    categories: tuple[str, ...]
    keys: npt.NDArray[np.int64]  # sorted feature buckets that carry weight
    weights: npt.NDArray[np.float32]  # (len(keys), len(categories))
    bias: npt.NDArray[np.float64]  # (len(categories),)
    threshold: float = THRESHOLD

    @functools.cached_property
    def rows(self) -> npt.NDArray[np.signedinteger[Any]]:
        """Every feature bucket's row among the weighted keys, -1 for none: one gather finds a batch's ~130,000
        buckets (a binary search of the ~14,000 keys took 10 ms a batch of 1,000). 2 MB (int16), built where the
        model is loaded, before the analysis workers fork."""
        table: npt.NDArray[np.signedinteger[Any]] = np.full(
            features.DIM, -1, dtype=np.int16 if len(self.keys) < 2**15 else np.int32)
        table[self.keys] = np.arange(len(self.keys))
        return table

    def _lookup(self, b: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        """Where each bucket of `b` is among the weighted keys, and whether it is one of them."""
        if len(b) and int(b.min()) >= 0 and int(b.max()) < features.DIM:
            at = self.rows[b].astype(np.intp)
            hit = at >= 0
            return np.maximum(at, 0), hit
        at = np.minimum(np.searchsorted(self.keys, b), len(self.keys) - 1)
        return at, self.keys[at] == b

    def probabilities(self, text: str) -> npt.NDArray[np.float64]:
        """P(category) for each category, from the text's n-grams (no rules)."""
        b = features.text_buckets(text)
        z = self.bias.copy()
        if len(b) and len(self.keys):
            at, hit = self._lookup(b)
            z += self.weights[at[hit]].sum(axis=0, dtype=np.float64)
        return _logistic(z)

    def many_probabilities(self, texts: list[str]) -> npt.NDArray[np.float64]:
        """probabilities() of many texts, one row each, the same numbers: their buckets looked up and their weights
        summed in a few numpy passes over all of them (one text at a time, ~8 small numpy calls cost more than their
        arithmetic: a fifth of the complaint stage)."""
        rows = [features.text_buckets(t) for t in texts]
        z = np.tile(self.bias, (len(texts), 1))
        if rows and len(self.keys):
            at, hit = self._lookup(np.concatenate(rows))
            at, owner = at[hit], np.repeat(np.arange(len(texts)), [len(r) for r in rows])[hit]
            if len(at):
                # each text's weights summed in order, in float64, as probabilities() sums them (owners ascend)
                starts = np.flatnonzero(np.concatenate(([True], owner[1:] != owner[:-1])))
                z[owner[starts]] += np.add.reduceat(self.weights[at].astype(np.float64), starts, axis=0)
        return _logistic(z)


def _logistic(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The model's scores as probabilities (clipped: exp overflows past ~700)."""
    out: npt.NDArray[np.float64] = 1 / (1 + np.exp(-np.clip(z, -30, 30)))
    return out


_lock = threading.Lock()
_loaded: dict[Path, ComplaintModel] = {}


def load(folder: Path = MODEL_DIR) -> ComplaintModel:
    """The shipped model, once per process (arrays memory-mapped)."""
    m = _loaded.get(folder)
    if m is None:
        with _lock:
            m = _loaded.get(folder)
            if m is None:
                meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
                if meta["bits"] != features.BITS:
                    raise RuntimeError(f"{folder}/model.json: {meta['bits']}-bit features, code has {features.BITS}")
                m = _loaded[folder] = ComplaintModel(
                    tuple(meta["categories"]),
                    # memory-mapped, seen as plain arrays: np.memmap's subclass overhead triples the per-text cost
                    np.asarray(np.load(folder / "keys.npy", mmap_mode="r")),
                    np.asarray(np.load(folder / "weights.npy", mmap_mode="r")),
                    np.array(meta["bias"], dtype=np.float64),
                    float(meta.get("threshold", THRESHOLD)),
                )
                m.rows  # noqa: B018 - built now: before a fork, the workers share it
    return m


def tag_with_model(
    text: str | None,
    rules: Rules | None = None,
    model: ComplaintModel | None = None,
    brand: str | None = None,
    require_context: bool = False,
    probabilities: npt.NDArray[np.float64] | None = None,
) -> TagResult:
    """The rules' result, plus any top-level category the model is sure of that the rules did not find.
    Under `require_context` (no brand, no review) the model adds nothing to a text without commerce words.
    `probabilities`: the model's for this text, when a batch computed them already (many_probabilities)."""
    result = tag(text, rules, brand, require_context)
    if not text:
        return result
    rules = rules or default_rules()
    if require_context and not result.categories and not has_commerce_context(text, rules):
        return result
    model = model or load()
    probs = model.probabilities(text) if probabilities is None else probabilities
    sure = [c for c, p in zip(model.categories, probs, strict=True) if p >= model.threshold]
    extra = [c for c in sure if c not in result.categories]
    if not extra:
        return result
    order = [c.id for c in rules.taxonomy.categories]
    cats = tuple(c for c in order if c in result.categories or c in extra)
    default_sev = {c.id: c.severity for c in rules.taxonomy.categories}
    sev = [s for s in (result.severity, *(default_sev[c] for c in extra)) if s]
    return TagResult(cats, result.subcategories, result.phrases, max(sev, key=SEVERITIES.index))


def _masked(text: str, result: TagResult) -> str:
    """The text with the rules' matched phrases blanked, so the model learns their context, not them."""
    from core.textfold import fold

    out = fold(text)
    for p in result.phrases:
        for part in p.split("…"):
            out = out.replace(part, " ")
    return out


def train(out: Path = MODEL_DIR) -> dict[str, Any]:
    """Fit one L1 logistic regression per category on rule-labelled texts; write keys.npy, weights.npy, model.json."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    from pipelines.sentiment_model import corpora

    rules = default_rules()
    cats = [c.id for c in rules.taxonomy.categories]
    shop, _ = corpora.reviews()
    texts = [d.text for d in shop] + [d.text for d in corpora.weibo()["train"]]
    results = [tag(t, rules) for t in texts]
    rows = [features.text_buckets(_masked(t, r)) for t, r in zip(texts, results, strict=True)]
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(r) for r in rows])
    x = sparse.csr_matrix((np.ones(int(indptr[-1]), dtype=np.float32), np.concatenate(rows), indptr),
                          shape=(len(rows), features.DIM))  # fmt: skip
    w = np.zeros((features.DIM, len(cats)), dtype=np.float32)
    bias = []
    stats = {}
    for j, c in enumerate(cats):
        y = np.array([c in r.categories for r in results], dtype=np.int64)
        lr = LogisticRegression(
            l1_ratio=1.0, C=C, solver="liblinear", class_weight="balanced", max_iter=200, random_state=0
        )
        lr.fit(x, y)
        w[:, j] = lr.coef_.ravel()
        bias.append(float(lr.intercept_[0]))
        stats[c] = {"positives": int(y.sum()), "weights": int(np.count_nonzero(lr.coef_))}
        print(f"{c}: {y.sum()} rule-labelled texts, {stats[c]['weights']} weights", file=sys.stderr)
    keys = np.flatnonzero(np.any(w != 0, axis=1)).astype(np.int64)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "keys.npy", keys)
    np.save(out / "weights.npy", w[keys])
    meta = {"categories": cats, "bias": bias, "bits": features.BITS, "threshold": THRESHOLD, "C": C,
            "trained_on": len(texts), "per_category": stats}  # fmt: skip
    (out / "model.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return meta


if __name__ == "__main__":
    train()
