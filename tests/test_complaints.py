"""Complaint tagging: every category family, exclusions and negations, odd inputs, the pipeline adapter."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from core.mention import Mention
from pipelines.complaint_stage import ComplaintPipeline
from pipelines.complaints import (
    BrandKeywords,
    TagResult,
    TaxonomyError,
    compile_rules,
    default_rules,
    expand,
    is_complaint,
    load_taxonomy,
    parse_taxonomy,
    tag,
)


@pytest.mark.parametrize(
    ("text", "sub"),
    [
        ("快递太慢了，三天才到", "logistics.late_delivery"),
        ("外包装破损，杯子压坏了", "logistics.damaged_parcel"),
        ("一直没收到货，快递丢了", "logistics.lost_parcel"),
        ("没收到却显示签收", "logistics.signing_anomaly"),
        ("用了两天就坏了，开不了机", "product_quality.defect"),
        ("面料很差，不是纯棉", "product_quality.material_mismatch"),
        ("与描述不符，色差很大", "product_quality.description_mismatch"),
        ("专柜验过，是假货", "product_quality.counterfeit"),
        ("牛奶过期了还有异味，变质", "food_safety.spoiled"),
        ("吃了他家的烧烤，全家食物中毒", "food_safety.poisoning"),
        ("孩子喝了食物中毒住院", "product_quality.safety_hazard"),
        ("客服一直不回复", "service_attitude.slow_response"),
        ("客服答非所问，互相推诿", "service_attitude.unclear_answers"),
        ("客服态度恶劣还骂人", "service_attitude.rudeness"),
        ("商家拒绝退款", "after_sales.refund"),
        ("换货很麻烦，不给换", "after_sales.exchange"),
        ("不支持七天无理由退货", "after_sales.return_7day"),
        ("被扣款两次，重复扣款", "payment.double_charge"),
        ("支付失败但是钱扣了", "payment.failed_payment"),
        ("虚假宣传，夸大宣传", "false_advertising.misleading_claims"),
        ("先涨后降，假打折", "false_advertising.fake_discount"),
        ("账号被盗了", "security_fraud.account_stolen"),
        ("信用卡被盗刷", "security_fraud.unauthorised_charge"),
        ("刚买就降价，不给价保", "price_disputes.price_drop"),
        ("The parcel arrived late and the box was crushed", "logistics.late_delivery"),
        ("I was charged twice for one order", "payment.double_charge"),
        ("Customer service never replied, so rude", "service_attitude.slow_response"),
        ("This is a counterfeit, not genuine", "product_quality.counterfeit"),
    ],
)
def test_every_family(text: str, sub: str) -> None:
    result = tag(text)
    assert sub in result.subcategories
    assert sub.split(".")[0] in result.categories
    assert result.phrases


@pytest.mark.parametrize(
    "text",
    [
        "物流很快，没有破损",
        "物流很快",
        "发货一点也不慢",
        "颜色和图片没色差，大小正合适",
        "洗了之后也不会褪色，也没有缩水的问题",
        "包装严实，完好无损",
        "不是假货，放心",
        "客服态度很好，回复很快",
        "退款很快，很满意",
        "趁降价买的，很划算",
        "It was not late and there was no damage",
        "chocolate cake, delicious",
        "乐坏了，高兴坏了",
    ],
)
def test_exclusions_and_negations_cancel(text: str) -> None:
    assert tag(text) == TagResult()


def test_negation_does_not_hide_a_real_complaint_elsewhere() -> None:
    result = tag("物流很快，没有破损，但是质量太差了")
    assert result.categories == ("product_quality",)


def test_severity_is_the_worst_matched() -> None:
    assert tag("快递太慢").severity == "notice"
    assert tag("买到假货").severity == "urgent"
    assert tag("快递太慢，而且信用卡被盗刷").severity == "crisis"


@pytest.mark.parametrize("text", ["", "   ", "😀😀🎉", "👍" * 50, "\n\t"])
def test_empty_and_emoji_only(text: str) -> None:
    assert tag(text) == TagResult()
    assert not is_complaint(tag(text), 0.0)


def test_none_text() -> None:
    assert tag(None) == TagResult()


def test_long_text_is_tagged_quickly() -> None:
    text = ("今天天气不错，" * 1500)[:9990] + "快递太慢了"
    assert len(text) == 9995
    assert tag(text).subcategories == ("logistics.late_delivery",)


def test_full_width_case_and_traditional() -> None:
    assert "product_quality.counterfeit" in tag("ＦＡＫＥ!!").subcategories
    assert "logistics.late_delivery" in tag("DELIVERED LATE").subcategories
    assert "product_quality.counterfeit" in tag("買到假貨了").subcategories
    assert "service_attitude.rudeness" in tag("客服態度很差").subcategories


def test_mixed_scripts() -> None:
    result = tag("iPhone 15 到手就坏了, screen is broken, 客服不回复")
    assert set(result.categories) == {"product_quality", "service_attitude"}


def test_html_left_in_text() -> None:
    result = tag("<p>快递<b>太慢</b></p><br/>包装破损&nbsp;")
    assert "logistics.damaged_parcel" in result.subcategories


def test_latin_word_boundaries() -> None:
    assert tag("chocolate") == TagResult()
    assert tag("the fakes") == TagResult()  # "fake" inside "fakes" is not the word "fake"
    assert "product_quality.counterfeit" in tag("fake!").subcategories


def test_is_complaint_needs_negative_sentiment_and_a_category() -> None:
    bad = tag("快递太慢了，包装也破损了")
    assert is_complaint(bad, 0.05)
    assert not is_complaint(bad, 0.9)
    assert not is_complaint(tag("物流很快，没有破损"), 0.95)
    assert not is_complaint(tag("太差劲了，再也不买了"), 0.01)  # unhappy, but nothing to act on
    assert is_complaint(bad, None)
    crisis = tag("热水器漏电")
    assert crisis.severity == "crisis"
    assert is_complaint(crisis, 0.5)
    assert not is_complaint(bad, 0.5)


def test_brand_extras_only_for_that_brand() -> None:
    rules = compile_rules(
        load_taxonomy(), [BrandKeywords("小米", {"product_quality.defect": ("{续航|电池}尿崩",)}, {})]
    )
    assert "product_quality.defect" in tag("续航尿崩", rules, brand="小米").subcategories
    assert tag("续航尿崩", rules, brand="华为") == TagResult()
    assert tag("续航尿崩", rules) == TagResult()


def test_brand_extras_naming_unknown_category_fail_clearly() -> None:
    with pytest.raises(TaxonomyError, match=r"brand '小米': keywords.nope: no such category"):
        compile_rules(load_taxonomy(), [BrandKeywords("小米", {"nope": ("x",)})])


def test_expand() -> None:
    assert expand("{物流|快递}{太|}慢") == ["物流太慢", "物流慢", "快递太慢", "快递慢"]
    assert expand("plain") == ["plain"]


def test_taxonomy_errors_name_file_key_and_value(tmp_path: Path) -> None:
    bad = {"categories": {"logistics": {"severity": "panic", "subcategories": {"late": {"keywords": ["慢"]}}}}}
    with pytest.raises(TaxonomyError, match=r"f\.yaml: categories\.logistics\.severity: .*'panic'"):
        parse_taxonomy(bad, "f.yaml")
    bad2 = {"categories": {"logistics": {"subcategories": {"late": {"keywords": {"zh": ["ok", 3]}}}}}}
    with pytest.raises(TaxonomyError, match=r"subcategories\.late\.keywords\.zh\[1\]: .*3"):
        parse_taxonomy(bad2, "f.yaml")
    path = tmp_path / "t.yaml"
    path.write_text("categories: [unclosed", encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"t\.yaml: line 1"):
        load_taxonomy(path)


def test_packaged_taxonomy_has_all_families() -> None:
    ids = [c.id for c in default_rules().taxonomy.categories]
    assert ids == [
        "logistics", "product_quality", "food_safety", "service_attitude", "after_sales",
        "payment", "false_advertising", "security_fraud", "price_disputes",
    ]  # fmt: skip


class _Stats:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc_value(self, key: str) -> None:
        self.values[key] = self.values.get(key, 0) + 1


def _crawler(settings: dict[str, object]) -> SimpleNamespace:
    class S(dict):  # type: ignore[type-arg]
        def getfloat(self, key: str, default: float) -> float:
            return float(self.get(key, default))

    return SimpleNamespace(settings=S(settings), stats=_Stats())


def test_pipeline_fills_complaint_fields() -> None:
    crawler = _crawler({})
    pipe = ComplaintPipeline.from_crawler(crawler)
    m = Mention(platform="weibo", text="收到包装破损，客服还不回复", title="差评", sentiment_score=0.1)
    out = pipe.process_item(m)
    assert out.is_complaint is True
    assert out.complaint_categories[:2] == ["logistics", "service_attitude"]
    assert "logistics.damaged_parcel" in out.complaint_categories
    assert "破损" in out.complaint_phrases
    assert out.complaint_severity == "notice"
    assert crawler.stats.values["groundswell/complaints"] == 1
    happy = pipe.process_item(Mention(platform="weibo", text="物流很快，没有破损", sentiment_score=0.95))
    assert happy.is_complaint is False
    assert happy.complaint_categories == []
    assert happy.complaint_severity is None


# ---------------------------------------------------------------- ordinary wording (issue 12)


@pytest.mark.parametrize(
    ("text", "sub"),
    [
        ("送餐太慢了，等了两个小时", "logistics.late_delivery"),
        ("饭里有头发，恶心", "food_safety.foreign_object"),
        ("少送了一份米饭", "logistics.wrong_or_missing_items"),
        ("外卖送得也太慢了吧", "logistics.late_delivery"),  # object ... problem, words between
        ("下单一个半小时了还没到", "logistics.late_delivery"),  # a duration with a cue and an object
        ("骑手把汤洒了一半", "logistics.damaged_parcel"),
        ("筷子勺子都没给", "logistics.wrong_or_missing_items"),
        ("点的鸡腿饭送错了", "logistics.wrong_or_missing_items"),
        ("汤里有一只苍蝇", "food_safety.foreign_object"),
        ("昨晚吃完他家的外卖，今天拉肚子", "food_safety.illness"),
        ("米饭是馊的", "food_safety.spoiled"),
        ("后厨太脏了，还有老鼠", "food_safety.hygiene"),
        ("服务员态度很差，爱理不理", "service_attitude.rudeness"),
        ("给了差评，老板打电话骂我", "service_attitude.rudeness"),
        ("房间隔音太差了", "product_quality.room_facilities"),
        ("床单上还有别人的头发", "product_quality.room_facilities"),
        ("一份面就几根，分量太少了", "product_quality.food_taste"),
        ("开瓶费要两百，流氓收费", "price_disputes.overpricing"),
        ("团购的套餐到店说不能用", "false_advertising.fake_discount"),
    ],
)
def test_ordinary_wording(text: str, sub: str) -> None:
    result = tag(text)
    assert sub in result.subcategories, result
    assert sub.split(".")[0] in result.categories


@pytest.mark.parametrize(
    "text",
    [
        "没有少送，东西都齐全",
        "送餐一点都不慢",
        "从没吃出过头发，干净放心",
        "汤一点没洒，包装很严实",
        "等了两个小时终于抢到了演唱会门票",  # a long wait, but nothing was delivered
        "只晚了五分钟，能理解",  # a short wait
        "头发太长了今天去剪了，顺便点了个外卖",  # hair and a takeaway, far apart
        "骑手很快。菜很慢慢品",  # no sentence boundary crossed, and 慢慢 is not slow
        "吃完没有任何不舒服",
    ],
)
def test_negated_or_innocent_forms_stay_untagged(text: str) -> None:
    assert tag(text) == TagResult(), tag(text)


def test_wait_needs_a_long_enough_duration() -> None:
    assert "logistics.late_delivery" in tag("外卖等了五十分钟").subcategories
    assert tag("外卖等了二十分钟") == TagResult()
    assert any("两个小时" in p for p in tag("外卖等了两个小时才送到").phrases)


def test_context_gate_for_unbranded_posts() -> None:
    """A post that names no brand and is no review needs commerce words for short generic keywords."""
    assert tag("我妈老骂我不会穿衣服", require_context=True) == TagResult()
    assert tag("在微博乱说你是骗子", require_context=True) == TagResult()
    assert "service_attitude" in tag("客服还骂我", require_context=True).categories
    assert "logistics" in tag("外卖送得太慢了", require_context=True).categories  # near rules carry their object
    assert "service_attitude" in tag("我妈老骂我不会穿衣服").categories  # without the gate: as before


def test_pipeline_applies_the_gate_only_to_unbranded_unrated_mentions() -> None:
    pipe = ComplaintPipeline.from_crawler(_crawler({}))
    plain = pipe.process_item(Mention(platform="weibo", text="被骗子坑了", sentiment_score=0.1))
    branded = pipe.process_item(Mention(platform="weibo", text="被骗子坑了", brand="北辰", sentiment_score=0.1))
    review = pipe.process_item(Mention(platform="jd", text="被骗子坑了", rating=1, sentiment_score=0.1))
    assert plain.complaint_categories == []
    assert "false_advertising" in branded.complaint_categories and "false_advertising" in review.complaint_categories


def test_near_and_wait_rules_validate(tmp_path: Path) -> None:
    base = {"categories": {"logistics": {"subcategories": {"late": {"near": [{"objects": ["外卖"]}]}}}}}
    with pytest.raises(TaxonomyError, match=r"near\[0\]: needs both objects and problems"):
        parse_taxonomy(base, "f.yaml")
    near = [{"objects": ["a"], "problems": ["b"], "window": -1}]
    bad_window = {"categories": {"l": {"subcategories": {"s": {"near": near}}}}}
    with pytest.raises(TaxonomyError, match=r"window: expected a whole number"):
        parse_taxonomy(bad_window, "f.yaml")
    waits = {"categories": {"l": {"subcategories": {"s": {"waits": {"min_minutes": 30, "cues": ["等了"]}}}}}}
    with pytest.raises(TaxonomyError, match=r"waits: needs cues and context"):
        parse_taxonomy(waits, "f.yaml")


def test_durations() -> None:
    from pipelines.complaint_quantities import chinese_number, durations

    got = {d.text: d.minutes for d in durations("等了一个半小时，又过了四十五分钟，快递3天才到，半小时")}
    assert got == {"一个半小时": 90, "四十五分钟": 45, "3天": 4320, "半小时": 30}
    assert chinese_number("二十") == 20 and chinese_number("十五") == 15 and chinese_number("两") == 2


def test_weak_supervision_model_adds_only_confident_top_categories() -> None:
    from pipelines import complaint_model

    model = complaint_model.load()
    assert model.categories == tuple(c.id for c in default_rules().taxonomy.categories)
    p = model.probabilities("快递三天了还在路上，物流信息一直不更新")
    assert p.shape == (len(model.categories),) and ((p >= 0) & (p <= 1)).all()
    rules_only = tag("物流很快，没有破损")
    assert complaint_model.tag_with_model("物流很快，没有破损") == rules_only == TagResult()
    result = complaint_model.tag_with_model("送餐太慢了，等了两个小时")
    assert "logistics" in result.categories and "logistics.late_delivery" in result.subcategories


def test_demo_viral_complaints_are_tagged_and_flagged() -> None:
    from pipelines.sentiment import score
    from sites.replay import VIRAL_COPY_ZH, VIRAL_ZH

    viral = VIRAL_ZH[0].format(b="北辰")
    result = tag(viral, brand="北辰")
    assert "product_quality.safety_hazard" in result.subcategories and result.severity == "crisis"
    assert is_complaint(result, score(viral))
    for text in (t.format(b="北辰") for t in VIRAL_COPY_ZH[:1]):
        assert is_complaint(tag(text, brand="北辰"), score(text))
    world = "#小米质量问题#新买的小米手机开机就黑屏，客服说是人为损坏拒绝保修，大家评评理[怒]"  # sites/world.py
    result = tag(world, brand="小米")
    assert {"product_quality", "after_sales"} <= set(result.categories)
    assert is_complaint(result, score(world))


def test_pipeline_uses_the_model_unless_told_not_to() -> None:
    assert ComplaintPipeline.from_crawler(_crawler({})).model is not None
    assert ComplaintPipeline.from_crawler(_crawler({"GROUNDSWELL_COMPLAINT_MODEL": False})).model is None
