"""The sentiment and complaint models' features computed for a whole batch at once (features.many_buckets, and
features.prefetch, which the stages call before their items) are the very arrays text_buckets gives one text at a
time, on real posts and reviews and on odd input."""

from __future__ import annotations

import numpy as np
import pytest
from scrapy.exceptions import DropItem

from pipelines.chain import run_stages
from pipelines.sentiment_model import corpora, features

ODD = ["", " ", "a", "ab", "[怒]", "[怒][允悲][doge]", "转发微博", "转发微博 //@甲: 小米手机黑屏了[怒] //@乙: 同",
       "//@x:", "我也是//@某人:", "<b>&amp;</b> http://x.y/z 小米", "很长" * 3000, "x\u0301y", "１２３ＡＢＣ abc 123",
       "\U0001F600好\U0001F600", "{%话题%}真香", "\t\n", "＠某某 你好"]


def reference(text: str) -> np.ndarray:
    """text_buckets as it was written first: np.unique over the parts' hashes."""
    p = features.split_parts(text)
    hs = [features.ngram_hashes(p.own, features.SALT_OWN)]
    if p.quoted:
        hs.append(features.ngram_hashes(p.quoted, features.SALT_QUOTED))
    if p.emoticons:
        hs.append(features.token_hashes([f"emo:{e}" for e in p.emoticons]))
    return np.unique(features.buckets(np.concatenate(hs)))


def sample() -> list[str]:
    shop, _ = corpora.reviews()
    weibo = corpora.weibo()["train"]
    return [d.text for d in shop[:1500]] + [d.text for d in weibo[:1500]] + ODD


@pytest.mark.parametrize("size", [500, 7, 1])
def test_a_batch_gives_every_text_its_own_buckets(size: int) -> None:
    texts = sample()
    for start in range(0, len(texts), size):
        chunk = texts[start:start + size]
        for text, got in zip(chunk, features.many_buckets(chunk), strict=True):
            want = reference(text)
            assert got.dtype == want.dtype and got.tolist() == want.tolist(), text[:60]


def test_prefetched_buckets_are_what_text_buckets_computes() -> None:
    texts = [t + " (prefetch)" for t in sample()[:600]]
    features.prefetch(texts)
    for text in texts:
        got = features.text_buckets(text)
        assert not got.flags.writeable and got.tolist() == reference(text).tolist()


def test_a_text_a_batch_cannot_take_is_left_to_the_text_itself() -> None:
    bad = "坏的\ud800"
    features.prefetch(["好的文本，小米", bad])  # a lone surrogate: the whole batch falls back, nothing raised
    with pytest.raises(UnicodeError):
        features.text_buckets(bad)
    assert features.text_buckets("好的文本，小米").tolist() == reference("好的文本，小米").tolist()


class _Stage:
    def __init__(self, fail_prepare: bool):
        self.fail_prepare, self.prepared, self.seen = fail_prepare, [], []

    def prepare_batch(self, items: list[str]) -> None:
        if self.fail_prepare:
            raise RuntimeError("preparation broke")
        self.prepared.append(list(items))

    def process_item(self, item: str) -> str:
        self.seen.append(item)
        return item.upper()


@pytest.mark.parametrize("fail", [False, True])
def test_a_stage_prepares_a_batch_then_takes_each_item(fail: bool) -> None:
    stage = _Stage(fail)
    out = run_stages([stage], ["a", "b", "c"])  # type: ignore[list-item]
    assert out == ["A", "B", "C"] and stage.seen == ["a", "b", "c"]
    assert stage.prepared == ([] if fail else [["a", "b", "c"]])


@pytest.mark.parametrize("size", [500, 7, 1])
def test_the_complaint_models_batch_probabilities_are_its_per_text_ones_to_the_bit(size: int) -> None:
    """complaint_model.many_probabilities (what the complaint stage's prepare_batch computes) against probabilities(),
    one text at a time: the same float64s, so the 0.9 threshold decides alike."""
    from pipelines import complaint_model

    model = complaint_model.load()
    texts = [t for t in sample() if t.strip()] + ["", "x"]
    for start in range(0, len(texts), size):
        chunk = texts[start:start + size]
        rows = model.many_probabilities(chunk)
        for text, got in zip(chunk, rows, strict=True):
            assert got.tobytes() == model.probabilities(text).tobytes(), text[:60]


def test_the_complaint_models_bucket_table_finds_what_a_search_of_its_keys_finds() -> None:
    """The dense bucket -> row table (ComplaintModel.rows) against a binary search of the sorted keys, on every key,
    buckets next to them, random ones, and values outside the features' range (the search then answers)."""
    import numpy as np

    from pipelines import complaint_model
    from pipelines.sentiment_model import features

    model = complaint_model.load()
    rng = np.random.default_rng(7)
    b = np.concatenate([model.keys, model.keys + 1, model.keys - 1, rng.integers(0, features.DIM, 50_000),
                        [0, features.DIM - 1]]).astype(np.int64)
    b = b[(b >= 0) & (b < features.DIM)]

    def searched(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        at = np.minimum(np.searchsorted(model.keys, values), len(model.keys) - 1)
        return at, model.keys[at] == values

    for values in (b, np.array([-1, 5, features.DIM], dtype=np.int64), np.array([], dtype=np.int64)):
        at, hit = model._lookup(values)
        want_at, want_hit = searched(values)
        assert hit.tolist() == want_hit.tolist() and at[hit].tolist() == want_at[want_hit].tolist()


def test_the_complaint_stage_tags_a_batch_as_it_tags_each_mention_alone() -> None:
    from core.mention import Mention
    from pipelines import complaint_model
    from pipelines.complaint_stage import ComplaintPipeline
    from pipelines.complaints import default_rules

    texts = [*sample()[:1200], "坏的\ud800 物流太慢了"]  # a lone surrogate: the batch's preparation steps aside for it

    def mentions() -> list[Mention]:
        return [Mention(platform="jd", text=t, brand="小米" if i % 3 else None, sentiment_score=0.1)
                for i, t in enumerate(texts)]

    def stage() -> ComplaintPipeline:
        return ComplaintPipeline(default_rules(), None, model=complaint_model.load())

    batched = run_stages([stage()], mentions())  # type: ignore[arg-type]
    alone = stage()
    one_by_one = [alone.process_item(m) for m in mentions()[:-1]]
    fields = ("complaint_categories", "complaint_phrases", "complaint_severity", "is_complaint")
    for got, want in zip(batched[:-1], one_by_one, strict=True):
        assert [getattr(got, f) for f in fields] == [getattr(want, f) for f in fields], want.text[:60]
    assert isinstance(batched[-1], DropItem)  # the text the features cannot take fails alone, as it would alone
    assert sum(bool(m.complaint_categories) for m in one_by_one) > 50  # the sample has complaints
