"""Rebuild the sentiment model (`model.npy` + `model.json`) from the corpora in the repository.

Run: `nice -n 10 .venv/bin/python -m pipelines.sentiment_model.train` (about a minute on 2 cores; needs
scikit-learn, which the scorer itself never imports). Trains on the train parts only (see corpora.py).

The model is linear over hashed features (features.py): a logistic regression over character n-grams whose
inputs are scaled by the log-count ratios of SnowNLP's own Bayes trainer (NBSVM-style: the Bayes evidence of each
feature, re-weighted discriminatively), plus the hand-written rules' log-odds shift with a fitted weight. Everything
folds into one float32 weight per bucket, so scoring is a sum of weights. The design was chosen by cross-domain
validation (bench/sentiment_select.py), not by in-domain accuracy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pipelines.sentiment_model import corpora, features
from pipelines.sentiment_model.corpora import REVIEWS as DATA  # noqa: F401  (kept for older callers)
from pipelines.sentiment_model.corpora import Doc, read_rows, split  # noqa: F401

OUT_DIR = Path(__file__).parent
_RULE_SCALE = 100.0
WEIBO_WEIGHT = 3.0  # a Weibo post counts this many reviews: posts are what spreads, and there are fewer of them


@dataclass
class Featurised:
    """Documents as a binary CSR matrix of feature buckets, with labels and the rules' shifts."""

    x: Any  # scipy.sparse.csr_matrix (n, DIM), binary
    y: npt.NDArray[np.int64]
    shift: npt.NDArray[np.float64]
    weibo: npt.NDArray[np.bool_]
    group: npt.NDArray[np.str_]  # review category or "weibo"

    @classmethod
    def build(cls, docs: Sequence[Doc], words: bool = False) -> Featurised:
        """`words`: add SnowNLP's segmentation (minus its stop words) as word tokens (bench only: slow)."""
        from scipy import sparse

        from pipelines.sentiment_rules import rule_shift

        if words:
            segmented = _snownlp_words([d.text for d in docs])
            pairs = zip(docs, segmented, strict=True)
            rows = [features.text_buckets(d.text, tuple(f"w:{w}" for w in ws)) for d, ws in pairs]
        else:
            rows = [features.text_buckets(d.text) for d in docs]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(r) for r in rows])
        idx = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
        x = sparse.csr_matrix((np.ones(len(idx), dtype=np.float32), idx, indptr), shape=(len(rows), features.DIM))
        y = np.array([d.label for d in docs], dtype=np.int64)
        shift = np.array([rule_shift(d.text) for d in docs], dtype=np.float64)
        weibo = np.array([d.group == "weibo" for d in docs])
        return cls(x, y, shift, weibo, np.array([d.group for d in docs]))


def _snownlp_handle(doc: str) -> list[str]:
    from snownlp.sentiment import Sentiment

    return list(Sentiment().handle(doc))


def _snownlp_words(texts: list[str]) -> list[list[str]]:
    """SnowNLP's own words for each text (its segmenter minus its stop words), on both cores. The 2 s segmenter
    load happens before the fork, so the workers share it."""
    import multiprocessing

    import snownlp.sentiment  # noqa: F401

    with multiprocessing.get_context("fork").Pool(2) as pool:
        return pool.map(_snownlp_handle, texts, chunksize=200)


@dataclass
class Linear:
    """z = scale(n) * sum(weights[buckets]) + bias + rules * shift, where scale is 1 or 1/sqrt(n)."""

    weights: npt.NDArray[np.float32]
    bias: float
    rules: float
    normalise: bool
    calibration: tuple[float, float] | None = None  # (a, b) of a*z + b, already folded into the numbers above

    def decision(self, x: Any, shift: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        raw = np.asarray(x @ self.weights.astype(np.float64)).ravel()
        if self.normalise:
            n = np.maximum(np.asarray(x.sum(axis=1)).ravel(), 1.0)
            raw = raw / np.sqrt(n)
        return raw + self.bias + self.rules * shift


def nb_ratios(x: Any, y: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.float64], float]:
    """Per-bucket log-count ratio and prior of SnowNLP's Bayes trainer (snownlp.classification.bayes with
    AddOneProb) on these binary features: count + 1 per class, class totals as SnowNLP sums them."""
    pos = np.asarray(x[y == 1].sum(axis=0)).ravel()
    neg = np.asarray(x[y == 0].sum(axis=0)).ravel()
    tot_pos = pos.sum() + np.count_nonzero(pos)
    tot_neg = neg.sum() + np.count_nonzero(neg)
    r = np.log1p(pos) - np.log1p(neg) - (np.log(tot_pos) - np.log(tot_neg))
    return r, float(np.log(tot_pos) - np.log(tot_neg))


def snownlp_nb_ratios(x: Any, y: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.float64], float]:
    """The same ratios, computed by SnowNLP's own trainer (slow: pure Python; used to check nb_ratios)."""
    from snownlp.classification.bayes import Bayes

    b = Bayes()
    b.train([(x.indices[x.indptr[i] : x.indptr[i + 1]].tolist(), "pos" if y[i] else "neg") for i in range(len(y))])
    pos, neg = b.d["pos"], b.d["neg"]
    r = np.zeros(x.shape[1])
    for key in set(pos.d) | set(neg.d):
        r[key] = np.log(pos.get(key)[1]) - np.log(neg.get(key)[1])
    r -= np.log(pos.getsum()) - np.log(neg.getsum())
    return r, float(np.log(pos.getsum()) - np.log(neg.getsum()))


def fit(
    data: Featurised,
    rows: npt.NDArray[np.int64],
    *,
    c: float = 1.0,
    nb: bool = True,
    rules: float | str = 0.0,
    normalise: bool = True,
    weibo_weight: float = WEIBO_WEIGHT,
    balanced: bool = True,
) -> Linear:
    """Fit on the given rows; returns the folded linear model."""
    from sklearn.linear_model import LogisticRegression

    x, y = data.x[rows], data.y[rows]
    r = nb_ratios(x, y)[0] if nb else np.ones(x.shape[1])
    xs = x.multiply(r.astype(np.float32)).tocsr() if nb else x
    if normalise:
        n = np.maximum(np.asarray(x.sum(axis=1)).ravel(), 1.0)
        xs = xs.multiply((1 / np.sqrt(n)).astype(np.float32)[:, None]).tocsr()
    sw = np.where(data.weibo[rows], weibo_weight, 1.0)
    if balanced:  # both classes weigh the same in total: negative recall must not depend on a corpus's mix
        totals = [sw[y == k].sum() for k in (0, 1)]
        for k in (0, 1):
            sw[y == k] *= sw.sum() / (2 * totals[k]) if totals[k] else 1.0
    learned = rules == "learned"
    if learned:
        # the rules' shift as one more column, scaled up so its weight is practically unregularised
        from scipy import sparse

        xs = sparse.hstack([xs, sparse.csr_matrix(data.shift[rows][:, None] * _RULE_SCALE)]).tocsr()
    lr = LogisticRegression(C=c, solver="liblinear", max_iter=200, random_state=0)  # same model every rebuild
    lr.fit(xs, y, sample_weight=sw)
    coef = lr.coef_.ravel()
    w = coef[: x.shape[1]] * r
    rule_weight = float(coef[-1] * _RULE_SCALE) if learned else float(rules)
    return Linear(w.astype(np.float32), float(lr.intercept_[0]), rule_weight, normalise)


def fit_ensemble(data: Featurised, rows: npt.NDArray[np.int64], members: Sequence[dict[str, Any]]) -> Linear:
    """The mean of several linear designs' log-odds is itself linear: one folded weight vector."""
    fitted = [fit(data, rows, **kw) for kw in members]
    if len({m.normalise for m in fitted}) != 1:
        raise ValueError("ensemble members must share the normalisation")
    n = len(fitted)
    w = sum(m.weights.astype(np.float64) for m in fitted) / n
    return Linear(
        np.asarray(w, dtype=np.float32),
        sum(m.bias for m in fitted) / n,
        sum(m.rules for m in fitted) / n,
        fitted[0].normalise,
    )


def _two_domains(data: Featurised, rows: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Weibo posts vs shopping reviews; with only one corpus among `rows`, its categories cut in two halves."""
    wb = data.weibo[rows]
    if wb.any() and not wb.all():
        return rows[wb], rows[~wb]
    groups = sorted(set(data.group[rows].tolist()))
    if len(groups) < 2:  # one domain only: halves of it (then calibration is in-domain, and says so here)
        return rows[::2], rows[1::2]
    half = set(groups[::2])
    mask = np.array([g in half for g in data.group[rows]])
    return rows[mask], rows[~mask]


def calibrate(data: Featurised, rows: npt.NDArray[np.int64], members: Sequence[dict[str, Any]]) -> tuple[float, float]:
    """Platt scaling (z -> a*z + b) fitted on CROSS-DOMAIN decisions among `rows`: a model trained on the shopping
    reviews scoring the Weibo posts and the other way round. A score of 0.5 then means the same on a domain the
    model never saw, and both classes weigh the same, so negative recall does not hang on a domain's mix."""
    from sklearn.linear_model import LogisticRegression

    first, second = _two_domains(data, rows)
    z = np.concatenate([
        fit_ensemble(data, second, members).decision(data.x[first], data.shift[first]),
        fit_ensemble(data, first, members).decision(data.x[second], data.shift[second]),
    ])  # fmt: skip
    y = np.concatenate([data.y[first], data.y[second]])
    lr = LogisticRegression(C=1e4, class_weight="balanced").fit(z[:, None], y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def fit_calibrated(data: Featurised, rows: npt.NDArray[np.int64], members: Sequence[dict[str, Any]]) -> Linear:
    """The ensemble on `rows`, its log-odds rescaled by calibrate() (folded into the weights)."""
    a, b = calibrate(data, rows, members)
    m = fit_ensemble(data, rows, members)
    return Linear((m.weights * a).astype(np.float32), m.bias * a + b, m.rules * a, m.normalise, (a, b))


def variants(data: Featurised) -> dict[str, Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], Any]]:
    """Named designs for bench/sentiment_select.py: each fits on rows `tr` and returns decisions on rows `te`."""

    def make(**kw: Any) -> Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], Any]:
        def run(tr: npt.NDArray[np.int64], te: npt.NDArray[np.int64]) -> Any:
            return fit(data, tr, **kw).decision(data.x[te], data.shift[te])

        return run

    def nb_only(tr: npt.NDArray[np.int64], te: npt.NDArray[np.int64]) -> Any:
        r, prior = nb_ratios(data.x[tr], data.y[tr])
        return np.asarray(data.x[te] @ r).ravel() + prior

    def rules_only(tr: npt.NDArray[np.int64], te: npt.NDArray[np.int64]) -> Any:
        return data.shift[te] + 1e-9

    def ensemble(tr: npt.NDArray[np.int64], te: npt.NDArray[np.int64]) -> Any:
        return fit_ensemble(data, tr, ENSEMBLE).decision(data.x[te], data.shift[te])

    def calibrated(tr: npt.NDArray[np.int64], te: npt.NDArray[np.int64]) -> Any:
        return fit_calibrated(data, tr, ENSEMBLE).decision(data.x[te], data.shift[te])

    return {
        "ensemble": ensemble,
        "ensemble, calibrated": calibrated,
        "rules only": rules_only,
        "SnowNLP-trainer Bayes (n-grams)": nb_only,
        "LR": make(nb=False),
        "LR, C=4": make(nb=False, c=4.0),
        "NB-LR": make(nb=True),
        "NB-LR, C=0.25": make(nb=True, c=0.25),
        "LR, C=0.25": make(nb=False, c=0.25),
        "LR + rules (weight fitted)": make(nb=False, rules="learned"),
        "LR + rules x1": make(nb=False, rules=1.0),
        "NB-LR, C=4": make(nb=True, c=4.0),
        "NB-LR unnormalised": make(nb=True, normalise=False),
        "NB-LR + rules x0.5": make(nb=True, rules=0.5),
        "NB-LR + rules x1": make(nb=True, rules=1.0),
        "NB-LR + rules (weight fitted)": make(nb=True, rules="learned"),
        "NB-LR, weibo x1": make(nb=True, weibo_weight=1.0),
        "NB-LR, unbalanced": make(nb=True, balanced=False),
    }


def spec_variant(data: Featurised, spec: str) -> Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], Any]:
    """A design written as "c=4 nb=1 rules=1 normalise=1 weibo_weight=3 balanced=1" (bench use)."""
    kw: dict[str, Any] = {}
    for part in spec.split():
        k, v = part.split("=", 1)
        kw[k] = v if v == "learned" else (bool(int(v)) if k in ("nb", "normalise", "balanced") else float(v))

    def run(tr: npt.NDArray[np.int64], te: npt.NDArray[np.int64]) -> Any:
        return fit(data, tr, **kw).decision(data.x[te], data.shift[te])

    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    args = ap.parse_args(argv)
    shop, _ = corpora.reviews()
    wb = corpora.weibo()["train"]
    t0 = time.perf_counter()
    data = Featurised.build(shop + wb)
    print(f"{len(shop)} reviews + {len(wb)} posts featurised in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    model = fit_calibrated(data, np.arange(len(data.y)), ENSEMBLE)
    np.save(args.out / "model.npy", model.weights)
    meta = {"bias": model.bias, "rules": model.rules, "normalise": model.normalise, "bits": features.BITS,
            "calibration": model.calibration, "trained_on": {"reviews": len(shop), "weibo": len(wb)},
            "design": ENSEMBLE}  # fmt: skip
    (args.out / "model.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(f"saved {args.out / 'model.npy'} and model.json", file=sys.stderr)
    return 0


ENSEMBLE: list[dict[str, Any]] = [{"c": 4.0, "nb": True, "rules": 1.0}, {"c": 16.0, "nb": False, "rules": 1.0}]

if __name__ == "__main__":
    sys.exit(main())
