"""Near-duplicate fingerprints and clustering (pure, no Elasticsearch).

The cases are the ways one complaint gets copied on Weibo and friends, plus the things that must stay apart.
The hard-coded band key guards the hashing: fingerprints are stored with every mention, so an accidental
change to cleaning, shingling or the hash functions would silently split every cluster across that change.
"""

from __future__ import annotations

import time

import pytest

from pipelines.near_duplicates import (
    BANDS,
    NUM_PERM,
    Fingerprint,
    LshIndex,
    clean,
    cluster_all,
    fingerprint,
    similarity,
)

EXPECTED_BAND_0 = "003ff69951"  # fingerprint("小米手机用了三天就黑屏了，客服说让我等").bands[0]
EXPECTED_SIGNATURE_HEAD = (249911246, 80981415)
ORIGINAL = "新买的小米手机用了3天就黑屏了，开不了机，客服只会说让我耐心等待。再也不会买小米的东西了！"


def same_cluster(a: str, b: str) -> bool:
    return len(set(cluster_all([a, b]))) == 1


def test_exact_copy_joins_and_cluster_id_is_first_member() -> None:
    other = "完全无关的一条关于天气的微博，今天北京下雨了"
    assert cluster_all([ORIGINAL, ORIGINAL, other], ids=["a", "b", "c"]) == ["a", "a", "c"]


@pytest.mark.parametrize(
    "copy",
    [
        f"转发微博//@数码老张:{ORIGINAL}",
        f"同感//@阿猫不是猫: 我也是!//@数码老张：{ORIGINAL}",
        f"{ORIGINAL}[怒][怒]😡😡",
        f"(╯‵□′)╯︵┻━┻ {ORIGINAL.replace('，', ',').replace('。', '!!!')}",
        f"#小米黑屏#{ORIGINAL} http://t.cn/A6abcdef",
        ORIGINAL.replace("，", "   "),
    ],
)
def test_reposts_emoji_punctuation_variants_join(copy: str) -> None:
    assert same_cluster(ORIGINAL, copy)


def test_full_width_and_traditional_join() -> None:
    full = ORIGINAL.replace("3", "３")
    trad = "新買的小米手機用了3天就黑屏了，開不了機，客服只會說讓我耐心等待。再也不會買小米的東西了！"
    assert fingerprint(full) == fingerprint(ORIGINAL)
    assert fingerprint(trad) == fingerprint(ORIGINAL)
    assert same_cluster(ORIGINAL, trad)


def test_light_paraphrase_joins() -> None:
    para = "刚买的小米手机用了3天就黑屏了，开不了机，售后只会说让我耐心等待。再也不会买小米的东西了！"
    assert same_cluster(ORIGINAL, para)


def test_truncated_copy_joins() -> None:
    assert same_cluster(ORIGINAL, ORIGINAL[: int(len(ORIGINAL) * 0.8)] + "…全文")


def test_different_complaint_about_same_product_stays_apart() -> None:
    other = "小米手机充电的时候发烫严重，烫到根本拿不住，在京东申请退货被拒，说是人为损坏。"
    other_black = "我的小米手机昨天升级系统以后黑屏重启了十几次，去武汉售后排队两个小时说要返厂。"
    assert cluster_all([ORIGINAL, other, other_black]) == ["m0", "m1", "m2"]


@pytest.mark.parametrize("text", ["太差了", "退款", "小米垃圾客服", "差评差评！！", "[怒][怒]😡", "//@abc: 转发"])
def test_too_short_has_no_fingerprint_and_is_never_merged(text: str) -> None:
    assert fingerprint(text) is None
    assert cluster_all([text, text]) == ["m0", "m1"]


@pytest.mark.parametrize("text", ["", None, "   \n\t", "http://t.cn/A6abcdef"])
def test_empty_has_no_fingerprint(text: str | None) -> None:
    assert fingerprint(text) is None


def test_long_text() -> None:
    long = (ORIGINAL * 250)[:10_000]
    start = time.perf_counter()
    fp = fingerprint(long)
    assert time.perf_counter() - start < 1.0
    assert fp is not None and len(fp.signature) == NUM_PERM and len(fp.bands) == BANDS
    assert fingerprint(long) == fp


def test_html_leftovers_are_cleaned() -> None:
    html = ORIGINAL.replace("，", "<br/>", 1).replace("。", "&nbsp;") + '<a href="https://weibo.cn/x">网页链接</a>'
    assert "br" not in clean(html) and "nbsp" not in clean(html) and "href" not in clean(html)
    assert same_cluster(ORIGINAL, html)


def test_signature_is_stable() -> None:
    """Stored fingerprints must stay comparable: this breaks on any change to cleaning, n-grams or hashing."""
    fp = fingerprint("小米手机用了三天就黑屏了，客服说让我等")
    assert fp is not None
    assert fp.bands[0] == EXPECTED_BAND_0
    assert fp.signature[:2] == EXPECTED_SIGNATURE_HEAD


def test_encode_decode_roundtrip() -> None:
    fp = fingerprint(ORIGINAL)
    assert fp is not None
    assert Fingerprint.decode(fp.encode()) == fp.signature
    assert similarity(Fingerprint.decode(fp.encode()), fp.signature) == 1.0


def test_similarity_of_unequal_lengths_is_zero() -> None:
    assert similarity((1, 2, 3), (1, 2)) == 0.0
    assert similarity((), ()) == 0.0


def test_index_eviction_drops_oldest_from_its_buckets() -> None:
    index = LshIndex(capacity=2)
    fps = [fingerprint(f"{ORIGINAL}{i}号") for i in range(3)]
    for i, fp in enumerate(fps):
        assert fp is not None
        index.add(f"m{i}", f"m{i}", fp)
    assert list(index.entries) == ["m1", "m2"]
    assert all(e.mention_id != "m0" for band in index.by_band for e in index.members(band))
    assert all(index.members(band) for band in index.by_band)  # no empty bucket left behind
    assert fps[0] is not None
    found = index.best(fps[0])
    assert found is not None and found[0] in {"m1", "m2"}


def test_index_evicts_in_first_insertion_order_over_many_evictions() -> None:
    """The oldest entry goes first however many went before it (eviction reads a queue of ids, not the front of a
    dict emptied from the front), and a mention added again keeps its place and takes its new cluster id."""
    import numpy as np

    index = LshIndex(capacity=50)
    rng = np.random.default_rng(3)
    for i in range(2_000):
        sig = rng.integers(0, 2**32, 128, dtype=np.uint64).astype(np.uint32)
        index.add_signature(f"m{i}", f"m{i}", sig, [f"{b:02d}{i:08x}" for b in range(32)])
        if i % 7 == 0 and i >= 10:  # seen again within the run: a new cluster id, not a new place
            index.add_signature(f"m{i - 10}", "c", sig, [])
    assert list(index.entries) == [f"m{i}" for i in range(1_950, 2_000)]
    assert list(index.order) == list(index.entries)
    assert len(index.by_band) == 50 * 32
    assert index.entries["m1985"].cluster_id == "c"  # re-added at i = 1995


def test_same_wording_about_two_brands_is_two_complaints() -> None:
    text = "客服一直不回复，退款申请提交了半个月还没处理，太失望了，再也不会买了"
    ids = cluster_all([text, text, text], groups=["小米", "华为", "小米"])
    assert ids[0] == ids[2] and ids[1] != ids[0]
    assert len(set(cluster_all([text, text]))) == 1  # without brands, copies are copies


def test_a_batch_gets_the_keys_and_signatures_one_text_at_a_time_gets() -> None:
    """NearDuplicatePipeline.process_batch (band keys of the whole batch at once, many_band_keys) stores what
    process_item stores, on real posts and reviews, titles, and texts too short to fingerprint."""
    import numpy as np

    from core.mention import Mention
    from pipelines.near_duplicates import NearDuplicatePipeline, band_keys, many_band_keys
    from pipelines.sentiment_model import corpora

    shop, _ = corpora.reviews()
    texts = [d.text for d in shop[:800]] + [d.text for d in corpora.weibo()["train"][:800]]
    texts += ["短", "", "小米手机用了三天就黑屏了，客服说让我等", ORIGINAL * 40]
    rng = np.random.default_rng(7)
    sigs = rng.integers(0, 1 << 32, size=(50, NUM_PERM), dtype=np.uint64).astype(np.uint32)
    assert many_band_keys(sigs) == [band_keys(s) for s in sigs] and many_band_keys(sigs[:0]) == []

    def items() -> list[Mention]:
        return [Mention(platform="weibo", source_id=str(i), text=t, title="标题党" if i % 3 == 0 else None)
                for i, t in enumerate(texts)]

    one, many = items(), items()
    stage = NearDuplicatePipeline(None)
    for item in one:
        stage.process_item(item)
    for start in range(0, len(many), 300):
        stage.process_batch(many[start:start + 300])
    assert [(i.minhash, i.lsh_bands) for i in one] == [(i.minhash, i.lsh_bands) for i in many]
    assert fingerprint("小米手机用了三天就黑屏了，客服说让我等").bands[0] == EXPECTED_BAND_0  # type: ignore[union-attr]


class _ListBuckets(LshIndex):
    """The index as it was before single-entry buckets: every bucket a list (the reference for the test below)."""

    def add_signature(self, mention_id, cluster_id, signature, bands, group=None):  # type: ignore[no-untyped-def]
        super().add_signature(mention_id, cluster_id, signature, bands, group)
        for band in bands:  # every bucket back to a list, as the old index kept them
            bucket = self.by_band.get(band)
            if bucket is not None and not isinstance(bucket, list):
                self.by_band[band] = [bucket]


def test_single_entry_buckets_answer_as_lists_did() -> None:
    """The index keeps a band of one mention as the entry itself (~2 KB a mention less than a list of one): over a
    stream of copies, variants and unrelated posts, with evictions, brands and an `allow`, it answers exactly as
    the same index with every bucket a list, and leaves no bucket empty."""
    import numpy as np

    from pipelines.sentiment_model import corpora

    shop, _ = corpora.reviews()
    base = [d.text for d in shop[:300]]
    rng = np.random.default_rng(11)
    texts = []
    for i in range(1500):
        t = base[int(rng.integers(0, 60 if i % 2 else len(base)))]  # the first 60 come back often
        if i % 3 == 0:
            t = t + "！！" if i % 2 else "转发：" + t
        texts.append(t)
    fast, ref = LshIndex(capacity=200), _ListBuckets(capacity=200)
    joined = 0
    for i, t in enumerate(texts):
        fp = fingerprint(t)
        if fp is None:
            continue
        sig = np.asarray(fp.signature, dtype=np.uint32)
        group = "小米" if i % 5 else "华为"
        allow = (lambda c: not c.endswith("7")) if i % 4 == 0 else None
        a = fast.best_signature(sig, fp.bands, exclude=f"m{i}", group=group, allow=allow)
        b = ref.best_signature(sig, fp.bands, exclude=f"m{i}", group=group, allow=allow)
        assert a == b, i
        joined += a is not None
        cid = a[0] if a else f"m{i}"
        fast.add_signature(f"m{i}", cid, sig, fp.bands, group)
        ref.add_signature(f"m{i}", cid, sig.copy(), fp.bands, group)
    assert joined > 300 and list(fast.entries) == list(ref.entries)
    assert {b: [e.mention_id for e in fast.members(b)] for b in fast.by_band} == {
        b: [e.mention_id for e in ref.members(b)] for b in ref.by_band}
    assert all(fast.members(b) for b in fast.by_band)


def test_minhash_folds_the_modulo_into_the_numbers_numpys_division_gives() -> None:
    """minhash's modulo by folding (low 61 bits plus the top two) against `%`, on the largest values a hash can take
    and on shingles of real posts: stored signatures must not move."""
    import numpy as np

    from pipelines import near_duplicates as nd
    from pipelines.near_duplicates import minhash, shingles
    from pipelines.sentiment_model import corpora

    def by_division(grams: set[str]) -> np.ndarray:
        import zlib

        hv = np.fromiter((zlib.crc32(g.encode()) for g in grams), dtype=np.uint64)
        return (((np.outer(hv, nd._A) + nd._B) % nd._MERSENNE) & nd._MAX32).min(axis=0)

    texts = [d.text for d in corpora.weibo()["train"][:1500]]
    grams = [g for g in (shingles(clean(t)) for t in texts) if g]
    grams.append({"\U0010ffff" * 3, "zzz", "\x00\x00\x00"})
    for g in grams:
        assert minhash(g).tolist() == by_division(g).tolist()
    # the largest a*x + b: no overflow past 2^63, and the fold reaches the modulus's edge
    x = np.full(1, 0xFFFFFFFF, dtype=np.uint64)
    assert int((x * nd._A.max() + nd._B.max())[0]) < 2**63
