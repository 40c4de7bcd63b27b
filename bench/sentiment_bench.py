"""Sentiment: held-out accuracy, the cross-domain table, and `groundswell sentiment` speed against SnowNLP.

    nice -n 10 .venv/bin/python bench/sentiment_bench.py [accuracy|crossdomain|throughput|all] [--n 1500]

- accuracy: the shipped model on splits it never trained on (shopping held-out 10%, Weibo test 1,000), per
  shopping category, with SnowNLP's default model on the same texts; and the self-written sample (optimistic).
- crossdomain: the shipped DESIGN retrained without a domain and tested on that domain's held-out rows:
  leave-one-category-out over the 9 shopping categories (Weibo train posts stay in training), shopping -> Weibo
  and Weibo -> shopping; next to a plain character 1-3-gram logistic regression trained the same way.
- throughput: whole processes, start-up included, in the same run: a script doing `SnowNLP(t).sentiments` per
  line vs `python -m groundswell.cli.sentiment`, on 1,500 long reviews, 1,500 short reviews and Weibo posts.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines import sentiment as S  # noqa: E402
from pipelines.sentiment_model import corpora  # noqa: E402
from pipelines.sentiment_model import train as T  # noqa: E402

OOD = ROOT / "pipelines" / "sentiment_model" / "out_of_domain_sample.tsv"
PLAIN = """
import sys
from snownlp import SnowNLP
for line in sys.stdin.buffer.read().decode("utf-8").split("\\n")[:-1]:
    print(f"{SnowNLP(line).sentiments:.4f}" if line.strip() else "0.5000")
"""


def _report(scores: list[float], gold: list[int]) -> str:
    s = np.array(scores)
    g = np.array(gold)
    acc = float(((s > 0.5) == (g == 1)).mean())
    rec = float((s[g == 0] <= 0.5).mean())
    lab = float((s[g == 0] < S.NEGATIVE_BELOW).mean())
    return f"{acc:.3f} | {rec:.2f} | {lab:.2f}"


def _snownlp_default(texts: list[str]) -> list[float]:
    from snownlp import SnowNLP

    return [SnowNLP(t).sentiments if t.strip() else 0.5 for t in texts]


def accuracy() -> None:
    _, held = corpora.reviews()
    test = corpora.weibo()["test"]
    with open(OOD, encoding="utf-8") as f:
        ood = list(csv.DictReader(f, delimiter="\t"))
    sets: dict[str, tuple[list[str], list[int]]] = {
        "shopping held-out (5,277)": ([d.text for d in held], [d.label for d in held]),
        "Weibo test split (1,000)": ([d.text for d in test], [d.label for d in test]),
    }
    for cat in sorted({d.group for d in held}):
        rows = [d for d in held if d.group == cat]
        sets[f"&nbsp;&nbsp;shopping held-out: {cat} ({len(rows)})"] = ([d.text for d in rows], [d.label for d in rows])
    sets["self-written sample (88, optimistic)"] = ([r["text"] for r in ood], [int(r["label"]) for r in ood])
    print("| set | Groundswell accuracy | neg. recall (score ≤ 0.5) | neg. labelled negative | "
          "SnowNLP default accuracy | neg. recall | neg. labelled negative |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, (texts, gold) in sets.items():
        ours = S.score_many(texts)
        default = _snownlp_default(texts)
        print(f"| {name} | {_report(ours, gold)} | {_report(default, gold)} |", flush=True)


def crossdomain() -> None:
    shop_tr, shop_ho = corpora.reviews()
    wb = corpora.weibo()
    docs = shop_tr + wb["train"] + shop_ho + wb["test"]
    data = T.Featurised.build(docs)
    n1, n2, n3 = len(shop_tr), len(shop_tr) + len(wb["train"]), len(shop_tr) + len(wb["train"]) + len(shop_ho)
    idx = np.arange(len(docs))
    group = data.group
    train_rows, held_rows = idx[:n2], idx[n2:]

    def plain(tr: np.ndarray) -> T.Linear:
        return T.fit(data, tr, c=1.0, nb=False, rules=0.0, balanced=False, weibo_weight=1.0)

    designs = {
        "plain char 1-3-gram LR": plain,
        "Groundswell (shipped design)": lambda tr: T.fit_calibrated(data, tr, T.ENSEMBLE),
    }
    cats = sorted(set(group[:n1].tolist()))
    cols = [f"LOCO {c}" for c in cats] + ["LOCO mean", "shopping -> Weibo test", "Weibo -> shopping held-out"]
    print("Accuracy (negative recall, score ≤ 0.5) on held-out rows of a domain left out of training:")
    print("| design | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name, fit in designs.items():
        cells = []
        accs = []
        for c in cats:
            m = fit(train_rows[group[train_rows] != c])
            te = held_rows[group[held_rows] == c]
            z = m.decision(data.x[te], data.shift[te])
            acc = float(((z > 0) == (data.y[te] == 1)).mean())
            accs.append(acc)
            cells.append(f"{acc:.3f} ({float((z[data.y[te] == 0] <= 0).mean()):.2f})")
        cells.append(f"{np.mean(accs):.3f}")
        for tr, te in ((idx[:n1], idx[n3:]), (idx[n1:n2], idx[n2:n3])):
            z = fit(tr).decision(data.x[te], data.shift[te])
            y = data.y[te]
            cells.append(f"{float(((z > 0) == (y == 1)).mean()):.3f} ({float((z[y == 0] <= 0).mean()):.2f})")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


def _timed(cmd: list[str], data: bytes) -> tuple[float, bytes]:
    t = time.perf_counter()
    out = subprocess.run(cmd, input=data, capture_output=True, check=True, cwd=ROOT).stdout
    return time.perf_counter() - t, out


def throughput(n: int) -> None:
    _, held = corpora.reviews()
    wb = corpora.weibo()
    one_line = [" ".join(d.text.split()) for d in held]
    posts = [" ".join(d.text.split()) for k in ("test", "complaint_a", "complaint_b") for d in wb[k]]
    sets = {
        "long reviews (held-out, first n)": one_line[:n],
        "short reviews (held-out, ≤ 30 characters)": [t for t in one_line if 0 < len(t) <= 30][:n],
        "Weibo posts (held-out splits)": posts[:n],
    }
    py = str(ROOT / ".venv" / "bin" / "python")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(PLAIN)
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f} at start")
    print("| texts | n | mean chars | SnowNLP script | groundswell sentiment | speed-up |")
    print("|---|---|---|---|---|---|")
    try:
        _timed([py, "-m", "groundswell.cli.sentiment"], "预热\n".encode())  # warm the page cache once
        for name, texts in sets.items():
            data = ("\n".join(texts) + "\n").encode("utf-8")
            plain_s, plain_out = _timed([py, f.name], data)
            ours_s, ours_out = _timed([py, "-m", "groundswell.cli.sentiment"], data)
            assert len(ours_out.splitlines()) == len(texts) == len(plain_out.splitlines())
            mean = sum(map(len, texts)) / len(texts)
            print(f"| {name} | {len(texts)} | {mean:.0f} | {plain_s:.2f} s | {ours_s:.2f} s | "
                  f"**{plain_s / ours_s:.1f}×** |", flush=True)  # fmt: skip
    finally:
        os.unlink(f.name)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", nargs="?", default="all", choices=["accuracy", "crossdomain", "throughput", "all"])
    ap.add_argument("--n", type=int, default=1500)
    a = ap.parse_args()
    if a.what in ("accuracy", "all"):
        accuracy()
    if a.what in ("crossdomain", "all"):
        crossdomain()
    if a.what in ("throughput", "all"):
        throughput(a.n)


if __name__ == "__main__":
    main()
