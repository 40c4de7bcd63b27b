"""Post wording: brand complaints and praise in Chinese and English, plus look-alike posts about something else
(小米粥 recipes, apple pie) that a brand monitor must learn to ignore."""

from __future__ import annotations

import random

# Chinese <-> English brand names, so a Chinese keyword can still surface an English post and vice versa.
BRANDS: dict[str, str] = {"小米": "Xiaomi", "苹果": "Apple", "华为": "Huawei"}
_EN_TO_ZH = {en.lower(): zh for zh, en in BRANDS.items()}

NEGATIVE_ZH = (
    "#{kw}售后#买的{kw}手机用了三天就黑屏，客服一直推脱，太失望了[怒]",
    "在京东买的{kw}耳机，快递五天才到，外包装破损，申请退货一直不处理[怒]",
    "{kw}新机发热严重，玩十分钟游戏烫手，这品控真的不行[衰]",
    "#{kw}#充电器用了一个月就坏了，保修还要我自己寄回去，再也不买了",
    "{kw}客服电话根本打不通，维修拖了两周还没消息[怒]\n有同样遭遇的吗",
    "刚买的{kw}平板屏幕有坏点，换货流程太麻烦了[泪]",
)
POSITIVE_ZH = (
    "{kw}新品体验不错，续航很给力，推荐！[赞]",
    "#{kw}#拍照效果惊艳，夜景比上一代好太多了[心]",
    "用了半年{kw}手环，质量很好，物流也快，好评",
    "{kw}售后这次很给力，两天就修好寄回来了[赞]",
)
NEUTRAL_ZH = (
    "{kw}发布会定在下周，有人关注吗？",
    "纠结要不要换{kw}，求推荐\n预算三千左右",
    "#{kw}#新品参数整理：处理器、屏幕、电池一览",
)
NEGATIVE_EN = (
    "My {en} phone keeps rebooting and support won't help. Never again.",
    "Ordered {en} earbuds, arrived two weeks late with a broken box. Refund still pending.",
    "{en} battery drains overnight after the latest update. Anyone else?",
    "Third {en} charger that died in a month. Warranty process is a joke.",
)
POSITIVE_EN = (
    "Really impressed with the new {en} phone, battery lasts two days.",
    "{en} support replaced my screen in 48 hours. Great service!",
    "The {en} camera is stunning in low light, highly recommend.",
)
NEUTRAL_EN = (
    "Is the new {en} worth upgrading to from last year's model?",
    "{en} event announced for next week, what are you expecting?",
)
UNRELATED: dict[str, tuple[str, ...]] = {
    "小米": ("今天熬了一锅小米粥，加点红枣，暖胃又养人", "小米南瓜粥做法分享：小米洗净，南瓜切块，小火慢炖四十分钟",
             "家里的小鹦鹉最爱吃小米了[哈哈]"),
    "xiaomi": ("Xiaomi means 'millet' — made millet porridge (xiaomi zhou) for breakfast today",),
    "苹果": ("秋天的苹果真甜，果园现摘的[馋嘴]", "苹果派做法：苹果切丁加黄油和肉桂，烤二十五分钟"),
    "apple": ("Baked an apple pie with cinnamon today, family loved it", "Apple picking season at the orchard!"),
    "华为": ("路过华为路的小吃街，煎饼果子真好吃",),
    "huawei": ("Walked down Huawei Road for street food, the jianbing was great",),
}
UNRELATED_GENERIC_ZH = ("今天在路上看到一只叫{kw}的小猫，好可爱", "{kw}这个词今天怎么上热搜了？吃瓜中")
UNRELATED_GENERIC_EN = ("Named my new cat {en}, she is adorable", "Why is '{en}' trending today?")

COMMENTS = {
    "negative": ("我也遇到了，一模一样[怒]", "售后真的太差了", "已经投诉到12315了", "同款问题，求解决办法",
                 "Same here, support ignored me", "避雷了，谢谢提醒"),
    "positive": ("确实好用[赞]", "我也买了，很满意", "求链接", "Agreed, love mine"),
    "neutral": ("蹲一个", "等评测", "坐等降价", "Following"),
    "unrelated": ("看起来好好吃[馋嘴]", "收藏了", "学到了", "Looks delicious"),
}

ZH_NAMES = ("小鱼", "阿杰", "橙子", "豆豆", "木木", "七七", "晴天", "大白", "团子", "柚子", "阿宁", "糖糖")
ZH_PREFIX = ("", "爱吃", "一只", "不想上班的", "快乐", "数码")
EN_NAMES = ("otter", "fox", "panda", "dev", "gamer", "maker", "nomad", "owl")
EN_PREFIX = ("quiet", "happy", "tech", "blue", "lazy", "night", "retro")


def english_name(keyword: str) -> str:
    """The name an English post would use for this keyword's brand."""
    return BRANDS.get(keyword, keyword)


def chinese_name(keyword: str) -> str:
    return _EN_TO_ZH.get(keyword.lower(), keyword)


def compose(rng: random.Random, keyword: str, kind: str, lang: str) -> str:
    """One post body (plain text; `#话题#`, `[表情]` and newlines are rendered per platform)."""
    en = english_name(keyword)
    zh = chinese_name(keyword)
    if kind == "unrelated":
        own = UNRELATED.get(keyword.lower()) or UNRELATED.get(keyword)
        pool = own or (UNRELATED_GENERIC_ZH if lang == "zh" else UNRELATED_GENERIC_EN)
        return rng.choice(pool).format(kw=zh, en=en)
    table = {
        ("negative", "zh"): NEGATIVE_ZH, ("positive", "zh"): POSITIVE_ZH, ("neutral", "zh"): NEUTRAL_ZH,
        ("negative", "en"): NEGATIVE_EN, ("positive", "en"): POSITIVE_EN, ("neutral", "en"): NEUTRAL_EN,
    }
    return rng.choice(table[kind, lang]).format(kw=zh, en=en)


def title_of(text: str, limit: int = 24) -> str:
    """A title cut from the body (videos and notes have titles; posts do not)."""
    first = text.replace("#", "").split("\n")[0]
    return first if len(first) <= limit else first[:limit] + "…"


def author_name(rng: random.Random, lang: str) -> str:
    if lang == "zh":
        return f"{rng.choice(ZH_PREFIX)}{rng.choice(ZH_NAMES)}{rng.randrange(10, 9999)}"
    return f"{rng.choice(EN_PREFIX)}_{rng.choice(EN_NAMES)}{rng.randrange(10, 999)}"
