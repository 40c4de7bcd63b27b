"""Sentiment model selection by cross-domain validation (never by in-domain accuracy).

Protocols, all on the TRAIN parts of the corpora only (the held-out splits stay unread until the final report):
- leave-one-category-out (LOCO): train on 8 shopping categories (+ the Weibo train part), test on the 9th;
- shopping -> Weibo and Weibo -> shopping.
Variants are features x learners; the printed table is what `pipelines/sentiment_model/train.py` was chosen by.

    nice -n 10 .venv/bin/python bench/sentiment_select.py [--variants a,b,...] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.sentiment_model import corpora  # noqa: E402
from pipelines.sentiment_model import train as T  # noqa: E402


def _metrics(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    pred = z > 0
    return float((pred == (y == 1)).mean()), float((~pred[y == 0]).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="")
    ap.add_argument("--words", action="store_true", help="add SnowNLP word tokens to the features (slow)")
    ap.add_argument("--quick", action="store_true", help="3 LOCO folds instead of 9")
    args = ap.parse_args()
    shop, _ = corpora.reviews()
    wb = corpora.weibo()["train"]
    t0 = time.perf_counter()
    data = T.Featurised.build(shop + wb, words=args.words)
    print(f"featurised {len(shop) + len(wb)} texts in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    groups = np.array([d.group for d in shop + wb])
    cats = sorted(set(groups) - {"weibo"})
    if args.quick:
        cats = cats[::3]
    variants: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = T.variants(data)
    chosen = [v for v in args.variants.split(";") if v] or list(variants)
    print("| variant | " + " | ".join(f"LOCO {c} (neg rec)" for c in cats) + " | LOCO mean | LOCO min | neg recall min"
          " | shop->weibo | (neg rec) | weibo->shop | (neg rec) | shop+weibo -> weibo (3-fold) | (neg rec) |")
    print("|---" * (len(cats) + 10) + "|")
    for name in chosen:
        fit = variants[name] if name in variants else T.spec_variant(data, name)
        accs: list[float] = []
        recs: list[float] = []
        for c in cats:
            tr = np.flatnonzero(groups != c)
            te = np.flatnonzero(groups == c)
            a, r = _metrics(fit(tr, te), data.y[te])
            accs.append(a)
            recs.append(r)
        is_wb = groups == "weibo"
        sw = _metrics(fit(np.flatnonzero(~is_wb), np.flatnonzero(is_wb)), data.y[is_wb])
        ws = _metrics(fit(np.flatnonzero(is_wb), np.flatnonzero(~is_wb)), data.y[~is_wb])
        wb_idx = np.flatnonzero(is_wb)
        fold = np.arange(len(wb_idx)) % 3
        zs = np.zeros(len(wb_idx))
        for k in range(3):
            te = wb_idx[fold == k]
            zs[fold == k] = fit(np.concatenate([np.flatnonzero(~is_wb), wb_idx[fold != k]]), te)
        wcv = _metrics(zs, data.y[wb_idx])
        cells = " | ".join(f"{a:.3f} ({r:.2f})" for a, r in zip(accs, recs, strict=True))
        print(f"| {name} | {cells} | {np.mean(accs):.3f} | {min(accs):.3f} | {min(recs):.2f} | {sw[0]:.3f} | "
              f"{sw[1]:.2f} | {ws[0]:.3f} | {ws[1]:.2f} | {wcv[0]:.3f} | {wcv[1]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
