"""Sentiment of a mention: a linear model over hashed character n-grams and emoticons, plus rules on top.

The model (pipelines/sentiment_model/, rebuilt by its train.py from the corpora in the repository) was chosen by
cross-domain validation (train on shopping reviews, test on Weibo posts and on unseen shopping categories, and
the other way round), where it beats SnowNLP's word-level Bayes model: see bench/RESULTS.md. SnowNLP stays in
it as the trainer of the Bayes evidence that scales the n-gram features; its segmenter is not needed to score,
which is what makes scoring cheap (no 2 s segmenter load, no per-character Viterbi in Python).

The weights are one float32 array, memory-mapped: loading costs microseconds and processes share the pages.
Scoring a text is cleaning it, hashing its n-grams (numpy) and summing weights.

Score: probability that the text is positive, in [0, 1]. Labels: score < 0.4 negative, score > 0.6 positive,
otherwise neutral. Empty or symbol-only text scores exactly 0.5, neutral. Text without Chinese (the model only
learned Chinese) is scored by the rules alone.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pipelines import sentiment_rules as R
from pipelines.sentiment_model import features

MODEL_DIR = Path(__file__).parent / "sentiment_model"
NEGATIVE_BELOW = 0.4
POSITIVE_ABOVE = 0.6
PARALLEL_MIN = 2000  # below this many distinct texts, forking costs more than it saves
_CJK = re.compile("[\u4e00-\u9fff]")
_Z_CAP = 30.0  # exp() stays finite; a score this sure rounds to 0 or 1 anyway

rule_shift = R.rule_shift  # the trainer fits the rules' weight on the same shift the scorer uses


@dataclass(frozen=True)
class Sentiment:
    """One text's sentiment: P(positive) after rules, its label, and which rules fired (for audit and tuning)."""

    score: float
    label: str
    rules: tuple[str, ...] = ()


class _Model:
    """Weights per feature bucket (memory-mapped .npy) and the few scalars of model.json."""

    def __init__(self, folder: Path):
        meta: dict[str, Any] = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        if meta["bits"] != features.BITS:
            raise RuntimeError(f"{folder}/model.json: built for {meta['bits']}-bit features, code has {features.BITS}")
        # memory-mapped (shared between processes, loads in microseconds), seen as a plain array: np.memmap's
        # subclass bookkeeping on every fancy index would cost more than the sum itself
        self.weights: npt.NDArray[np.float32] = np.asarray(np.load(folder / "model.npy", mmap_mode="r"))
        self.bias = float(meta["bias"])
        self.rules = float(meta["rules"])
        self.normalise = bool(meta["normalise"])

    def log_odds(self, text: str) -> float:
        """The bare model's log-odds that the text is positive (no rules)."""
        b = features.text_buckets(text)
        if not len(b):
            return self.bias
        z = float(self.weights[b].sum(dtype=np.float64))
        return (z / math.sqrt(len(b)) if self.normalise else z) + self.bias


_models: dict[Path, _Model] = {}
_lock = threading.Lock()


def _model(folder: Path | None = None) -> _Model:
    """Lazy, once per process and model folder (fork workers inherit it)."""
    key = MODEL_DIR if folder is None else Path(folder)  # (a Path built per call cost 7 µs a mention)
    m = _models.get(key)
    if m is None:
        with _lock:
            m = _models.get(key)
            if m is None:
                m = _models[key] = _Model(key)
    return m


def _sigmoid(z: float) -> float:
    z = max(-_Z_CAP, min(_Z_CAP, z))
    return 1 / (1 + math.exp(-z))


def model_probability(text: str, model_dir: Path | None = None) -> float:
    """The bare model's P(positive), without the rules."""
    return _sigmoid(_model(model_dir).log_odds(text))


def label_for(score: float) -> str:
    if score < NEGATIVE_BELOW:
        return "negative"
    if score > POSITIVE_ABOVE:
        return "positive"
    return "neutral"


def analyse(text: str | None) -> Sentiment:
    """Score, label and fired rules for one text; never raises on odd input (None, empty, symbols, huge)."""
    if not text:
        return Sentiment(0.5, "neutral", ("empty",))
    text = R.clean(str(text))
    model_text, shift, fired = R.signals(text)
    if not R.MEANINGFUL.search(model_text):
        if not fired:
            return Sentiment(0.5, "neutral", ("empty",))
        z = shift  # emoji/emoticons only: the rules decide
    elif not _CJK.search(model_text):
        z = shift  # no Chinese: the model only learned Chinese, its n-grams of other scripts are noise
        fired.append("no-chinese")
    else:
        m = _model()
        z = m.log_odds(text) + m.rules * shift
    s = round(_sigmoid(z), 6)
    return Sentiment(s, label_for(s), tuple(fired))


def score(text: str | None) -> float:
    """P(positive) in [0, 1] after rules."""
    return analyse(text).score


def analyse_many(texts: Iterable[str | None], processes: int | None = None) -> list[Sentiment]:
    """analyse() over many texts; distinct texts are spread over all cores (fork pool) when there are enough."""
    items = list(texts)
    unique = list(dict.fromkeys(t or "" for t in items))
    procs = processes or os.cpu_count() or 1
    forkable = "fork" in multiprocessing.get_all_start_methods() and multiprocessing.parent_process() is None
    if procs > 1 and len(unique) >= PARALLEL_MIN and forkable:  # never a pool inside an analysis worker
        _model()  # load once in the parent; children inherit it
        with multiprocessing.get_context("fork").Pool(procs) as pool:
            results = pool.map(analyse, unique, chunksize=max(16, len(unique) // (procs * 8)))
    else:
        results = [analyse(t) for t in unique]
    by_text = dict(zip(unique, results, strict=True))
    return [by_text[t or ""] for t in items]


def score_many(texts: Iterable[str | None], processes: int | None = None) -> list[float]:
    """score() over many texts, both cores for large batches."""
    return [s.score for s in analyse_many(texts, processes)]


class SentimentPipeline:
    """Scrapy item pipeline: fills `sentiment_score` and `sentiment_label` on a Mention (model loaded lazily)."""

    PARALLEL_SAFE = True  # pure per item: pipelines.parallel may run it in a worker process

    def warm(self) -> None:
        """Map the model now, before pipelines.parallel forks its workers (they share the pages)."""
        _model()

    @classmethod
    def from_crawler(cls, crawler: Any) -> SentimentPipeline:
        return cls()

    def process_item(self, item: Any) -> Any:
        s = analyse(getattr(item, "text", "") or "")
        item.sentiment_score = s.score
        item.sentiment_label = s.label
        return item

    def process_batch(self, items: list[Any]) -> list[Any]:
        """Many items at once (`groundswell ingest` and batched crawls feed the chain in batches): the model's
        features of the whole batch computed together (features.prefetch), then each item as process_item."""
        texts = [getattr(i, "text", "") or "" for i in items]
        features.prefetch([R.clean(str(t)) for t in texts if t])  # the very strings analyse() hands the model
        for item, s in zip(items, analyse_many(texts), strict=True):
            item.sentiment_score = s.score
            item.sentiment_label = s.label
        return items
