"""The fingerprint's fast paths give what the plain ones give. A batch's fingerprints by numpy (pipelines.gram_hashes,
near_duplicates.signatures): the same n-gram CRCs as zlib over each n-gram's UTF-8 bytes, the same signatures, on
texts of 1- to 4-byte characters, repeated n-grams, texts too short, and batches cut into several hashing chunks.
clean() skipping the patterns a text cannot match: the same text as running all of them."""

from __future__ import annotations

import zlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines import gram_hashes
from pipelines import near_duplicates as nd

_CHARS = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),  # one byte
    st.characters(min_codepoint=0xA0, max_codepoint=0x7FF),  # two
    st.characters(min_codepoint=0x4E00, max_codepoint=0x4E40),  # three (few: n-grams repeat)
    st.characters(min_codepoint=0x3000, max_codepoint=0xFFFD, exclude_categories=["Cs"]),
    st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF, exclude_categories=["Cs", "Co", "Cn"]),  # four
    st.sampled_from(["＃", "#话题#", "//@某人:", "@用户", "[哈哈]", "http://t.cn/x", "转发微博", "<b>", "&amp;"]),
)
_TEXTS = st.lists(st.lists(_CHARS, max_size=60).map("".join), max_size=30)


@settings(max_examples=300, deadline=None)
@given(_TEXTS, st.integers(min_value=1, max_value=4))
def test_the_distinct_crcs_are_zlibs_of_each_ngram(texts: list[str], n: int) -> None:
    owner, crcs = gram_hashes.distinct(texts, n)
    want = sorted((i, zlib.crc32(t[k:k + n].encode())) for i, t in enumerate(texts) for k in range(len(t) - n + 1))
    assert list(zip(owner.tolist(), crcs.tolist(), strict=True)) == sorted(set(want))


@settings(max_examples=300, deadline=None)
@given(_TEXTS, st.sampled_from([1, 7, 64, nd.HASHED_ROWS]))
def test_a_batch_gets_the_signatures_one_text_at_a_time_gets(texts: list[str], rows: int) -> None:
    default, nd.HASHED_ROWS = nd.HASHED_ROWS, rows  # chunks of one row up to the default
    try:
        many = nd.signatures(texts)
    finally:
        nd.HASHED_ROWS = default
    for text, sig in zip(texts, many, strict=True):
        one = nd.signature(text)
        assert (sig is None) == (one is None)
        if sig is not None and one is not None:
            assert sig.dtype == one.dtype and np.array_equal(sig, one)


def test_examples() -> None:
    # a text of one n-gram over and over has one shingle, however long: too few to fingerprint
    texts = ["哈" * 40, "小米手机用了三天就黑屏了，客服说让我等", "", None, "短", "𠀀𠀁𠀂𠀃𠀄𠀅𠀆𠀇𠀈𠀉𠀊𠀋𠀌"]
    many = nd.signatures(texts)
    assert many[0] is None and many[2] is None and many[3] is None and many[4] is None
    assert many[1] is not None and nd.band_keys(many[1]) == nd.fingerprint(texts[1]).bands  # type: ignore[union-attr]
    assert many[5] is not None and np.array_equal(many[5], nd.signature(texts[5]))  # type: ignore[arg-type]
    assert nd.signatures([]) == []
    owner, crcs = gram_hashes.distinct(["ab"], 3)
    assert len(owner) == len(crcs) == 0


@settings(max_examples=400, deadline=None)
@given(st.lists(_CHARS, max_size=60).map("".join))
def test_clean_skips_only_patterns_that_cannot_match(text: str) -> None:
    t = text
    for pattern in (nd._HTML, nd._URL, nd._HASHTAG, nd._REPOST, nd._MENTION, nd._EMOTICON):
        t = pattern.sub(" ", t)
    assert nd.clean(text) == nd._LEADING.sub("", nd._NOISE.sub("", nd.fold(t)))
