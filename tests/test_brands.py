"""Brand matching: aliases, products, exclusions, word boundaries, width/case/script folding, the pipeline."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from scrapy.exceptions import DropItem

from core.brands import BrandMatch, match
from core.config import Brand
from core.mention import Mention
from core.textfold import fold
from pipelines.brands import BrandMatchPipeline

XIAOMI = Brand(name="小米", aliases=("Xiaomi", "MI"), products=("Redmi K70", "小米14"), exclusions=("小米粥", "小米椒"))
APPLE = Brand(name="苹果", aliases=("Apple",), products=("iPhone",), exclusions=("apple pie", "苹果醋"))
MENGNIU = Brand(name="蒙牛", aliases=("Mengniu",), exclusions=("菜谱",))
BRANDS = (XIAOMI, APPLE, MENGNIU)


def test_alias_and_name() -> None:
    assert match("小米的售后太差", None, BRANDS) == BrandMatch("小米", None, "小米")
    assert match("xiaomi support never replied", None, BRANDS) == BrandMatch("小米", None, "Xiaomi")


def test_product_identifies_brand() -> None:
    assert match("redmi k70 发热严重", None, BRANDS) == BrandMatch("小米", "Redmi K70", None)
    found = match("小米14 屏幕坏点", None, BRANDS)
    assert found is not None and found.product == "小米14" and found.brand == "小米"


def test_chinese_exclusion_inside_a_word() -> None:
    assert match("早上喝了一碗小米粥", None, BRANDS) is None
    assert match("小米椒炒肉", None, BRANDS) is None
    found = match("喝着小米粥刷小米手机", None, BRANDS)
    assert found is not None and found.brand == "小米"


def test_latin_exclusion_and_word_boundary() -> None:
    assert match("I baked an apple pie", None, BRANDS) is None
    assert match("Apple refused my refund", None, BRANDS) == BrandMatch("苹果", None, "Apple")
    assert match("MILK is cheaper today", None, BRANDS) is None
    assert match("my MI band broke", None, BRANDS) == BrandMatch("小米", None, "MI")
    assert match("pineapple juice", None, BRANDS) is None
    assert match("iPhone15 overheats", None, BRANDS) == BrandMatch("苹果", "iPhone", None)


def test_context_exclusion_rules_out_the_brand() -> None:
    assert match("蒙牛菜谱：牛奶布丁", None, BRANDS) is None


def test_case_width_and_traditional_folding() -> None:
    assert match("ＸＩＡＯＭＩ 客服", None, BRANDS) == BrandMatch("小米", None, "Xiaomi")
    assert match("APPLE store", None, BRANDS) == BrandMatch("苹果", None, "Apple")
    assert match("蘋果手機壞了", None, BRANDS) == BrandMatch("苹果", None, "苹果")
    assert fold("蘋果ＡＢＣ") == "苹果abc"


def test_title_wins_then_counts() -> None:
    found = match("小米不错，小米也行，苹果一般", "苹果客服态度差", BRANDS)
    assert found is not None and found.brand == "苹果"
    found = match("小米不错，小米也行，苹果一般", None, BRANDS)
    assert found is not None and found.brand == "小米"


@pytest.mark.parametrize("text", ["", "😀😀", "<p></p>", "x" * 10_000])
def test_nothing_to_find(text: str) -> None:
    assert match(text, None, BRANDS) is None


def test_long_mixed_html_text() -> None:
    text = "<div>" + "随便说说 random words " * 500 + "<b>Xiaomi</b> 发货太慢</div>"
    assert match(text, None, BRANDS) == BrandMatch("小米", None, "Xiaomi")


def test_no_brands() -> None:
    assert match("小米", None, ()) is None


class _Stats:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc_value(self, key: str) -> None:
        self.values[key] = self.values.get(key, 0) + 1


def test_pipeline_sets_brand_and_product() -> None:
    pipe = BrandMatchPipeline(BRANDS, _Stats())
    item = pipe.process_item(Mention(platform="weibo", text="Redmi K70 发热严重"))
    assert (item.brand, item.product) == ("小米", "Redmi K70")


def test_pipeline_drops_unmatched_and_counts() -> None:
    stats = _Stats()
    pipe = BrandMatchPipeline(BRANDS, stats)
    with pytest.raises(DropItem, match="no configured brand mentioned"):
        pipe.process_item(Mention(platform="weibo", text="今天喝了小米粥"))
    assert stats.values["groundswell/dropped/no_brand"] == 1


def test_pipeline_keeps_explicit_brand() -> None:
    pipe = BrandMatchPipeline(BRANDS, _Stats())
    item = pipe.process_item(Mention(platform="jd", text="快递太慢", brand="蒙牛"))
    assert item.brand == "蒙牛" and item.product is None
    item = pipe.process_item(Mention(platform="jd", text="iPhone 屏幕坏了", brand="小米"))
    assert (item.brand, item.product) == ("小米", None)  # another brand's product is not borrowed


def test_pipeline_without_configured_brands_passes_everything() -> None:
    pipe = BrandMatchPipeline((), _Stats())
    m = Mention(platform="weibo", text="随便什么")
    assert pipe.process_item(m) is m and m.brand is None


def test_from_crawler_reads_config(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "gs.yaml"
    path.write_text("brands:\n  - name: 小米\n    aliases: [Xiaomi]\n    exclusions: [小米粥]\n", encoding="utf-8")
    crawler = SimpleNamespace(settings={"GROUNDSWELL_CONFIG_PATH": str(path)}, stats=_Stats())
    pipe = BrandMatchPipeline.from_crawler(crawler)
    assert pipe.process_item(Mention(platform="x", text="xiaomi 好")).brand == "小米"
    with pytest.raises(DropItem):
        pipe.process_item(Mention(platform="x", text="小米粥"))


def test_reposts_and_replies_of_a_matched_mention_keep_its_brand() -> None:
    from core.config import Brand
    from core.mention import Mention
    from pipelines.brands import BrandMatchPipeline

    stage = BrandMatchPipeline([Brand(name="小米", aliases=("Xiaomi",), exclusions=("小米粥",))], None)
    original = stage.process_item(Mention(platform="weibo", source_id="1", text="小米手机黑屏了"))
    assert original.brand == "小米"
    repost = stage.process_item(Mention(platform="weibo", source_id="2", text="转发微博", repost_of="1"))
    reply = stage.process_item(Mention(platform="weibo", source_id="3", text="同感", reply_to="2"))
    assert repost.brand == "小米" and reply.brand == "小米"
    with pytest.raises(DropItem):
        stage.process_item(Mention(platform="weibo", source_id="4", text="转发微博", repost_of="999"))


def test_a_batch_asks_the_store_once_for_parents_it_does_not_remember() -> None:
    """A repost of a post matched long ago, or in an earlier run, keeps its brand: the parents memory no longer
    holds (nor the batch itself) are looked up, once per batch, and only those."""
    asked: list[list[str]] = []

    def lookup(ids: list[str]) -> dict[str, tuple[str, str | None]]:
        asked.append(ids)
        from store.mapping import doc_id

        return {doc_id("weibo", "old"): ("小米", "小米14")}

    stage = BrandMatchPipeline([XIAOMI], _Stats(), lookup)
    out = stage.process_batch([
        Mention(platform="weibo", source_id="a", text="小米手机黑屏了"),
        Mention(platform="weibo", source_id="b", text="转发微博", repost_of="a"),  # its parent is in the batch
        Mention(platform="weibo", source_id="c", text="转发微博", repost_of="old"),  # stored in an earlier run
        Mention(platform="weibo", source_id="d", text="同感", reply_to="gone"),  # nowhere: dropped, as before
        Mention(platform="weibo", source_id="e", text="小米售后差", repost_of="other"),  # matched itself: not asked
    ])
    from store.mapping import doc_id

    assert asked == [sorted([doc_id("weibo", "old"), doc_id("weibo", "gone")])]
    assert [getattr(o, "brand", None) for o in out] == ["小米", "小米", "小米", None, "小米"]
    assert isinstance(out[3], DropItem) and getattr(out[2], "product", None) == "小米14"
    stage.process_batch([Mention(platform="weibo", source_id="f", text="转发微博", repost_of="a")])
    assert len(asked) == 1  # remembered: no second question


@pytest.mark.es
def test_a_repost_crawled_after_its_original_was_stored_keeps_the_brand(es: object, prefix: str) -> None:
    from elasticsearch import Elasticsearch

    from pipelines.brands import stored_brands
    from store import mapping
    from store.client import ensure_schema

    assert isinstance(es, Elasticsearch)
    ensure_schema(es, prefix)
    seen = datetime(2026, 10, 5, tzinfo=UTC)
    original = mapping.to_document(Mention(platform="weibo", source_id="1", text="小米手机黑屏了", brand="小米",
                                           product="小米14", published_at=seen, crawled_at=seen))
    es.index(index=mapping.index_of(original, prefix), id=original["mention_id"], document=original, refresh=True)
    stage = BrandMatchPipeline([XIAOMI], _Stats(), lambda ids: stored_brands(es, prefix, ids))  # a new run
    (repost,) = stage.process_batch([Mention(platform="weibo", source_id="2", text="转发微博", repost_of="1")])
    assert isinstance(repost, Mention) and (repost.brand, repost.product) == ("小米", "小米14")
