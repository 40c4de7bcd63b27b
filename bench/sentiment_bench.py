"""Sentiment: accuracy (held-out reviews, hand-written out-of-domain sample) and CLI throughput vs plain SnowNLP.

Run: `.venv/bin/python bench/sentiment_bench.py [accuracy|throughput|all] [--n 1500]`. Throughput times whole
processes, start-up included: `python -m groundswell.cli.sentiment` vs a script doing `SnowNLP(t).sentiments`,
on the same texts (held-out reviews), in the same run.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines import sentiment as S  # noqa: E402
from pipelines.sentiment_model import train  # noqa: E402

OOD = ROOT / "pipelines" / "sentiment_model" / "out_of_domain_sample.tsv"
PLAIN = """
import sys
from snownlp import SnowNLP
for line in sys.stdin.buffer.read().decode("utf-8").split("\\n")[:-1]:
    print(f"{SnowNLP(line).sentiments:.4f}" if line.strip() else "0.5000")
"""


def _acc(pred: list[float], gold: list[int]) -> float:
    return sum((p > 0.5) == bool(g) for p, g in zip(pred, gold, strict=True)) / len(gold)


def accuracy() -> None:
    rows = train.read_rows()
    _, valid = train.split(rows)
    texts = [rows[i][2] for i in valid]
    gold = [rows[i][1] for i in valid]
    default = S._snownlp_dir() / "sentiment" / "sentiment.marshal.3"
    with open(OOD, encoding="utf-8") as f:
        ood = list(csv.DictReader(f, delimiter="\t"))
    ood_t = [r["text"] for r in ood]
    ood_g = [int(r["label"]) for r in ood]
    for name, fn in (
        ("default SnowNLP model", lambda t: S.model_probability(t, default)),
        ("retrained model", S.model_probability),
        ("retrained model + rules", S.score),
    ):
        v = _acc([fn(t) for t in texts], gold)
        o = _acc([fn(t) for t in ood_t], ood_g)
        print(f"{name:26s} validation {v:.4f} (n={len(gold)})   out-of-domain {o:.4f} (n={len(ood_g)})")
    wrong = [
        (r["domain"], r["label"], r["text"])
        for r, t in zip(ood, ood_t, strict=True)
        if (S.score(t) > 0.5) != bool(int(r["label"]))
    ]
    for w in wrong:
        print("  ood miss:", *w)


def _timed(cmd: list[str], data: bytes) -> tuple[float, bytes]:
    t = time.perf_counter()
    out = subprocess.run(cmd, input=data, capture_output=True, check=True, cwd=ROOT).stdout
    return time.perf_counter() - t, out


def throughput(n: int) -> None:
    rows = train.read_rows()
    _, valid = train.split(rows)
    texts = [" ".join(rows[i][2].split()) for i in valid[:n]]
    data = ("\n".join(texts) + "\n").encode("utf-8")
    py = str(ROOT / ".venv" / "bin" / "python")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(PLAIN)
    try:
        _timed([py, "-m", "groundswell.cli.sentiment"], data[:2000])  # warm the page cache / segmenter cache once
        plain_s, plain_out = _timed([py, f.name], data)
        ours_s, ours_out = _timed([py, "-m", "groundswell.cli.sentiment"], data)
    finally:
        os.unlink(f.name)
    assert len(ours_out.splitlines()) == len(texts) == len(plain_out.splitlines())
    print(f"texts {len(texts)}, cpus {os.cpu_count()}")
    print(f"plain SnowNLP script   {plain_s:6.2f} s  {len(texts) / plain_s:7.1f} texts/s")
    print(f"groundswell sentiment  {ours_s:6.2f} s  {len(texts) / ours_s:7.1f} texts/s")
    print(f"speed-up               {plain_s / ours_s:6.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", nargs="?", default="all", choices=["accuracy", "throughput", "all"])
    ap.add_argument("--n", type=int, default=1500)
    a = ap.parse_args()
    if a.what in ("accuracy", "all"):
        accuracy()
    if a.what in ("throughput", "all"):
        throughput(a.n)


if __name__ == "__main__":
    main()
