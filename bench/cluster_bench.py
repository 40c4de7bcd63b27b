"""Near-duplicate clustering bench: pairwise precision/recall of `cluster_all` on a seeded synthetic feed.

Real labelled copy families do not exist yet, so a seeded generator writes short Chinese (and some English)
complaint posts about e-commerce brands, and for each one a family of copies made the ways copies happen on
Weibo and friends (reposts with `//@name:` chains, emoji, hashtags, URLs, width/traditional variants,
truncation, light paraphrases). Hard negatives are other complaints of the same brand, product and category
(they share topic words and numbers-free templates) and generic short posts that must not be merged.
Mentions are shuffled before clustering, so a copy often arrives before its original.

Writes the "## Near-duplicate clusters" section of bench/RESULTS.md, leaving the other sections alone.

    .venv/bin/python bench/cluster_bench.py [--no-write] [--families 2000] [--grid]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pipelines.near_duplicates as nd

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Near-duplicate clusters"
SEED = 20261125

# --------------------------------------------------------------------------------------------- vocabulary

BRANDS = {
    "小米": ["手机", "扫地机器人", "电视", "手环", "路由器", "空气净化器"],
    "华为": ["手机", "平板", "耳机", "手表", "笔记本"],
    "苹果": ["iPhone", "AirPods", "MacBook", "iPad", "手表"],
    "海尔": ["冰箱", "洗衣机", "热水器", "空调"],
    "格力": ["空调", "电风扇", "加湿器"],
    "美的": ["电饭煲", "微波炉", "洗碗机", "空调"],
    "OPPO": ["手机", "耳机", "充电器"],
    "vivo": ["手机", "耳机", "平板"],
    "联想": ["笔记本", "平板", "显示器"],
    "戴森": ["吹风机", "吸尘器", "卷发棒"],
    "安踏": ["跑鞋", "羽绒服", "运动裤"],
    "李宁": ["篮球鞋", "卫衣", "跑鞋"],
    "三只松鼠": ["坚果礼盒", "零食大礼包", "牛肉干"],
    "完美日记": ["口红", "粉底液", "眼影盘"],
}
SHOPS = ["京东", "淘宝", "天猫", "拼多多", "抖音商城", "唯品会", "苏宁", "官方旗舰店"]
COURIERS = ["顺丰", "中通", "圆通", "韵达", "京东物流", "极兔", "申通", "EMS"]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "西安", "南京", "重庆", "长沙", "郑州", "沈阳"]
NAMES = ["小王爱吃鱼", "阿猫不是猫", "数码老张", "吃瓜群众001", "Momo_li", "今天也要加油", "北漂小陈",
         "一只柠檬精", "老李说事", "Tony_zhang", "奶茶续命", "深夜食堂", "路人甲乙丙", "维权小分队"]

# Openers by category: each fixes what went wrong; details and closings are shared pools. `[a|b|c]` is
# expanded per complaint, so two people with the same problem do not write the same sentence word for word
# (without it, complaints that differ only in brand are verbatim twins no text method could tell apart).
OPENERS = {
    "logistics": [
        "[{date}|上周|前几天]在{shop}[下单的|买的|拍的]{brand}{product}，[{days}天了还没发货|等了{days}天都没发货|"
        "过了{days}天还显示待发货]",
        "[订单号{order}，|我的]{brand}{product}物流[信息|记录]{days}天[没更新了|没有动静|一动不动]，[一直卡在|"
        "停在]{city}[转运中心|分拣中心]",
        "{brand}{product}[说好|承诺]{n}天[内送到|到货]，[结果|最后]{courier}[拖了|磨蹭了]{days}天才到{city}",
        "{courier}[把我的|居然把]{brand}{product}[送丢了|弄丢了]，[订单{order}|物流]显示已签收[但我根本没收到|"
        "可我连影子都没见到]",
        "[买的|下单的]{brand}{product}显示派送中[已经{days}天了|整整{days}天]，{courier}[快递员|小哥][电话一直打不通|"
        "电话永远关机]",
        "{brand}{product}[外包装|快递箱]被{courier}[压得稀烂|压扁了]，[盒子都破了|箱子破了个大洞]，[里面的东西也磕坏了|"
        "东西都变形了]",
    ],
    "quality": [
        "[新买的|刚到手的|{date}买的]{brand}{product}[用了|才用]{days}天就黑屏了，[开不了机|怎么按都没反应|"
        "充电也没用]",
        "{brand}{product}[到手第{days}天|用到第{days}天][屏幕就出现一条绿线|屏幕出现绿线|屏幕闪个不停]，"
        "[{amount}块钱买了个寂寞|花了{amount}元就这质量]",
        "{brand}{product}[充电的时候|一充电就][发烫严重|烫得吓人]，[烫到根本拿不住|手都不敢碰]，[担心会爆炸|"
        "怕哪天炸了]",
        "[刚收到的|今天拿到的]{brand}{product}有[明显划痕|好几道划痕]，[而且有使用痕迹|还有指纹和灰]，[怀疑是翻新机|"
        "这是二手的吧]",
        "{brand}{product}用了不到{n}个月就坏了，[拿去{city}售后|送到{city}维修点][说是人为损坏不给保修|非说是进水不保]",
        "{brand}{product}[频繁死机重启|动不动就重启]，[一天能重启{n}次|一天重启{n}回]，[升级系统也没用|恢复出厂也不行]",
        "{brand}{product}[异味特别大|一股刺鼻的味道]，[放在阳台散了{days}天|通风{days}天了][味道还是很冲|还是熏得头疼]",
    ],
    "service": [
        "{brand}客服[态度太差了|什么态度]，[问了{n}遍|咨询了{n}次]{product}的问题[都是机器人回复|全是自动回复]",
        "联系{brand}客服[说{product}的问题|反映{product}的情况，说]{n}个工作日内回电，[到现在{days}天了没人理|"
        "{days}天过去了电话都没来]",
        "{brand}{shop}店的客服[直接把我拉黑了|把我拉黑了]，[就因为我问{product}能不能开发票|只是问了一句{product}的发票]",
        "打{brand}的[客服热线|400电话]打了{n}次，[每次排队半小时然后自动挂断|每次等半天就断线]，{product}的事[到现在|"
        "至今]没解决",
        "{brand}售后[上门修|约了上门维修]{product}，[约了{date}|说好{date}来][结果师傅没来也没通知|师傅放鸽子连个电话都没有]，"
        "[白请了一天假|我在家白等一天]",
    ],
    "refund": [
        "{brand}{product}[申请退款|退款申请提交]{days}天了[还没到账|钱还没退回来]，[{amount}元就这么没了|{amount}块不是小钱]",
        "{brand}{product}七天无理由[退货|退]，[商家收到货后拒绝退款|店家签收后不给退钱]，[说影响二次销售|理由是影响二次销售]",
        "在{shop}买{brand}{product}[被多扣了|多收了我]{amount}元，[申请退款一直显示处理中|退款一直卡在审核中]",
        "{brand}{product}降价了{amount}元[申请价保|找客服保价]，[客服说活动商品不参与|说活动款不保价]，"
        "[之前明明写着保价{n}天|页面上写的保价{n}天是摆设吗]",
        "退回去的{brand}{product}{courier}显示已签收{days}天，[商家一直说没收到|店家坚称没收到货][不给退钱|拒绝退款]",
    ],
}
DETAILS = [
    "[客服只会说让我耐心等待|客服就一句耐心等待]",
    "[打了{n}次电话都没有人接|电话打了{n}次没人接]",
    "[在线客服每次都是复制粘贴的回复|在线客服只会复制粘贴]",
    "问商家商家说找快递，问快递快递说找商家",
    "[我是{date}付的款|{date}就付款了]，{amount}块钱不是小数目",
    "[家里老人等着用|孩子等着用]，现在只能干着急",
    "本来是买来送人的，现在[完全没法送了|送不出手了]",
    "[已经在{shop}上投诉了{n}次都没有结果|在{shop}投诉了{n}次没用]",
    "给的解决方案是补偿{n}元优惠券，这不是打发叫花子吗",
    "售后让我自己寄回{city}检测，来回运费还要我自己出",
    "评论区好多人都遇到了一样的情况",
    "[问就是系统问题|每次都说系统问题]，让我再等{n}天",
]
CLOSINGS = [
    "再也不会买{brand}的东西了",
    "已经打了12315投诉",
    "[大家避雷吧|姐妹们避雷]",
    "要求全额退款{amount}元，不然就起诉",
    "希望{brand}官方能出来给个说法",
    "这就是所谓的大品牌？",
    "真的太让人失望了",
    "有没有人知道该怎么维权",
    "@{brand}官方微博 出来解决问题",
]

EN_BRANDS = {
    "Xiaomi": ["phone", "robot vacuum", "smart band"],
    "Apple": ["iPhone", "AirPods", "MacBook"],
    "Samsung": ["Galaxy phone", "TV", "washing machine"],
    "Amazon": ["Kindle", "Echo speaker"],
    "Dyson": ["hair dryer", "vacuum"],
    "Nike": ["running shoes", "hoodie"],
}
EN_OPENERS = {
    "logistics": [
        "[Ordered|Bought|Purchased] a {brand} {product} {days} days ago and it [still has not shipped|"
        "is still not shipped|has not even left the warehouse]",
        "My {brand} {product} has been [stuck in|sitting in] {city} for {days} days, tracking [has not updated since|"
        "shows nothing new]",
        "{courier} marked my {brand} {product} as delivered but [nothing arrived|it never showed up], order {order}",
    ],
    "quality": [
        "My new {brand} {product} [died after|stopped working after] {days} days, [the screen just went black|"
        "it will not turn on]",
        "The {brand} {product} I got [overheats so badly|gets so hot] I cannot even hold it while charging",
        "[Received|Got] a {brand} {product} with scratches all over it, [clearly a used unit sold as new|"
        "obviously a refurb sold as new]",
    ],
    "service": [
        "[Contacted|Messaged] {brand} support {n} times about my {product} and [only got canned replies|"
        "got the same script every time]",
        "{brand} support promised a callback about my {product} within {n} days, it has been {days} days",
    ],
    "refund": [
        "Returned my {brand} {product} {days} days ago and still no refund of ${amount}",
        "{brand} [refused to refund|will not refund] my {product} even though it arrived [broken|cracked]",
    ],
}
EN_DETAILS = [
    "support keeps telling me to wait",
    "I have called {n} times and nobody picks up",
    "the seller blames the courier and the courier blames the seller",
    "this was supposed to be a gift",
    "they offered a ${n} coupon which is a joke",
]
EN_CLOSINGS = [
    "never buying {brand} again",
    "avoid at all costs",
    "filing a complaint with the consumer agency",
    "absolutely unacceptable from a big brand",
    "anyone know how to escalate this?",
]
EN_CITIES = ["Chicago", "Dallas", "Memphis", "Louisville", "Newark", "Ontario CA"]
EN_COURIERS = ["UPS", "FedEx", "USPS", "DHL"]
EN_NAMES = ["techguy88", "jen_w", "dealhunter", "mark_r", "sarah_k"]

# Light paraphrase: a few word substitutions people make when retelling a complaint in their own words.
SYNONYMS = {
    "客服": "售后", "一直": "始终", "快递": "物流", "退款": "退钱", "已经": "都", "问题": "毛病",
    "商家": "卖家", "投诉": "举报", "真的": "实在", "太": "非常", "没有": "没", "根本": "压根",
    "买": "购买", "收到": "拿到", "发货": "寄出", "坏了": "出问题了", "态度": "服务", "到现在": "至今",
    "结果": "最后", "明显": "很明显的", "严重": "厉害", "特别": "十分", "说": "表示", "东西": "产品",
    "新买的": "刚买的", "希望": "请", "大家": "各位", "让人": "令人", "不会": "不",
}
EN_SYNONYMS = {
    "Ordered": "Bought", "still": "yet", "support": "customer service", "nobody": "no one", "days": "days now",
    "refund": "money back", "never": "not", "broken": "damaged", "canned": "copy-paste", "gift": "present",
    "promised": "said I'd get", "avoid": "stay away", "absolutely": "totally", "clearly": "obviously",
}
FILLERS = ["真的", "简直", "居然", "竟然", "就", "都", "也", "啊", "呢", "哎"]
COMMENTS = ["转发微博", "转发", "同感", "我也是!", "一样一样", "太真实了", "+1", "蹲一个后续", "避雷", "抱抱",
            "我也遇到了", "同款遭遇", "帮转", "气死了"]
EMOJI = ["[怒]", "[哭]", "[抓狂]", "[生病]", "[失望]", "[吐]", "😡", "😤", "😭", "🙄", "💢", "(╯‵□′)╯︵┻━┻", "T_T"]
GENERIC = ["太差了", "退款", "垃圾", "差评", "无语", "客服呢？", "避雷", "坑人", "还我钱", "再也不买了", "服了",
           "什么破质量", "快递太慢了", "太差了！！", "垃圾客服", "退钱！", "气死我了", "差评差评", "怎么还不发货",
           "太坑了吧", "一星都不想给"]
EN_GENERIC = ["worst ever", "refund", "terrible", "scam!!", "never again", "so slow", "avoid", "trash"]

_T2S: Any = None


def _trad(text: str) -> str:
    """Simplified -> traditional with OpenCC's phrase converter (slow, generator only)."""
    global _T2S
    if _T2S is None:
        import opencc

        _T2S = opencc.OpenCC("s2t")
    return str(_T2S.convert(text))


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text)


# --------------------------------------------------------------------------------------------- generator


@dataclass
class Post:
    text: str
    family: int
    kind: str  # "original", a transformation name, "generic"
    group: int  # (brand, product, category) group: hard negatives share it


_CHOICE = re.compile(r"\[([^\[\]]*\|[^\[\]]*)\]")


def _fill(rng: random.Random, template: str, slots: dict[str, str]) -> str:
    """Expand `[a|b]` choices, then the slots."""
    return _CHOICE.sub(lambda m: rng.choice(m.group(1).split("|")), template).format(**slots)


def _slots_zh(rng: random.Random, brand: str, product: str) -> dict[str, str]:
    return {
        "brand": brand, "product": product, "shop": rng.choice(SHOPS), "courier": rng.choice(COURIERS),
        "city": rng.choice(CITIES), "days": str(rng.randint(2, 40)), "n": str(rng.randint(2, 12)),
        "amount": str(rng.choice([rng.randint(39, 999), rng.randint(1000, 12999)])),
        "order": str(rng.randint(10**11, 10**12 - 1)), "date": f"{rng.randint(1, 12)}月{rng.randint(1, 28)}号",
    }


def _slots_en(rng: random.Random, brand: str, product: str) -> dict[str, str]:
    return {
        "brand": brand, "product": product, "courier": rng.choice(EN_COURIERS), "city": rng.choice(EN_CITIES),
        "days": str(rng.randint(2, 40)), "n": str(rng.randint(2, 12)), "amount": str(rng.randint(19, 1999)),
        "order": f"#{rng.randint(10**6, 10**7 - 1)}",
    }


def seed_zh(rng: random.Random, brand: str, product: str, opener: str) -> str:
    """One complaint: opener + 0–2 details + optional closing, with fresh specifics."""
    s = _slots_zh(rng, brand, product)
    parts = [_fill(rng, opener, s)]
    parts += [_fill(rng, d, s) for d in rng.sample(DETAILS, rng.choice([0, 1, 1, 2]))]
    end = rng.choice(["。", "！", "！！", "…", "?"])
    if rng.random() < 0.75:
        return "，".join(parts) + end + _fill(rng, rng.choice(CLOSINGS), s) + rng.choice(["", "！", "。"])
    return "，".join(parts) + end


def seed_en(rng: random.Random, brand: str, product: str, opener: str) -> str:
    s = _slots_en(rng, brand, product)
    parts = [_fill(rng, opener, s)] + [d.format(**s) for d in rng.sample(EN_DETAILS, rng.choice([0, 1, 1, 2]))]
    text = ", ".join(parts) + rng.choice([". ", "! ", "... "])
    if rng.random() < 0.75:
        closing = rng.choice(EN_CLOSINGS).format(**s)
        text += closing[0].upper() + closing[1:] + rng.choice([".", "!", ""])
    return text.strip()


_CLAUSES = re.compile(r"([^，。！？!?…,.]+)([，。！？!?…,.]*)")


def paraphrase(rng: random.Random, text: str, english: bool) -> str:
    """A light retelling: 2–3 synonym swaps, maybe two clauses swapped, maybe 1–2 filler words."""
    table = EN_SYNONYMS if english else SYNONYMS
    present = [w for w in table if w in text]
    for w in rng.sample(present, min(len(present), rng.randint(2, 3))):
        text = text.replace(w, table[w], 1)
    clauses = _CLAUSES.findall(text)
    if len(clauses) >= 3 and rng.random() < 0.5:
        i = rng.randrange(len(clauses) - 1)
        (a, pa), (b, pb) = clauses[i], clauses[i + 1]
        clauses[i], clauses[i + 1] = (b.strip(), pa), (a.strip(), pb)
        text = "".join(c + p + (" " if english else "") for c, p in clauses).strip()
    if not english:
        for _ in range(rng.randint(0, 2)):  # fillers go where people put them: at a clause start
            starts = [0] + [m.end() for m in re.finditer(r"[，。！？!?…]+", text) if m.end() < len(text)]
            pos = rng.choice(starts)
            text = text[:pos] + rng.choice(FILLERS) + text[pos:]
    return text


def transform(rng: random.Random, kind: str, text: str, brand: str, english: bool) -> str:
    """A copy of text made the way `kind` names."""
    names = EN_NAMES if english else NAMES
    if kind == "exact":
        return text
    if kind == "repost":
        chain = f"//@{rng.choice(names)}:{text}" if rng.random() < 0.5 else f"//@{rng.choice(names)}: {text}"
        for _ in range(rng.randint(0, 2)):
            chain = f"//@{rng.choice(names)}:{rng.choice(COMMENTS)}{chain}"
        return (rng.choice(["RT", "+1", "same here", "this!"]) if english else rng.choice(COMMENTS)) + chain
    if kind == "emoji":
        out = text
        for _ in range(rng.randint(1, 3)):
            e = rng.choice(EMOJI)
            out = out + e if rng.random() < 0.6 else e + out
        return out
    if kind == "hashtag":
        topic = rng.choice(["避雷", "售后", "维权", "黑屏", "质量问题", "客服"])
        tag = f"#{brand}Fail" if english else f"#{brand}{topic}#"
        return f"{tag}{text}" if rng.random() < 0.6 else f"{text} {tag}"
    if kind == "url":
        url = rng.choice([
            f"http://t.cn/A6{rng.randint(10**5, 10**6)}x",
            f"https://m.weibo.cn/status/{rng.randint(10**8, 10**9)}",
            f"https://b23.tv/{rng.randint(10**4, 10**5)}ab",
        ])
        return f"{text} {url}" if rng.random() < 0.7 else f"{text}\n网页链接 {url}"
    if kind == "punct":
        out = text
        for a, b in [("，", rng.choice([" ", ",", "、", "，，"])), ("。", rng.choice(["!", "。。。", "~"])),
                     ("！", rng.choice(["!!!", "！！！", "!?"]))]:
            out = out.replace(a, b)
        return "  ".join(out.split(" ")) if english else out
    if kind == "width_trad":
        return _trad(text) if not english and rng.random() < 0.6 else _full_width(text)
    if kind == "case":
        return text.lower() if rng.random() < 0.5 else text.upper()
    if kind == "truncated":
        cut = max(1, int(len(text) * rng.uniform(0.7, 0.9)))
        return text[:cut] + rng.choice(["...", "…全文", "…", ""])
    if kind == "paraphrase":
        return paraphrase(rng, text, english)
    if kind == "para+repost":
        return f"{rng.choice(COMMENTS)}//@{rng.choice(names)}:{paraphrase(rng, text, english)}"
    raise ValueError(kind)


ZH_KINDS = ["exact", "repost", "emoji", "hashtag", "url", "punct", "width_trad", "truncated", "paraphrase",
            "paraphrase", "para+repost"]
EN_KINDS = ["exact", "repost", "emoji", "hashtag", "url", "case", "truncated", "paraphrase", "paraphrase"]


def generate(families: int, seed: int = SEED) -> list[Post]:
    """Seeded feed: families of copies (grouped 2–4 seeds per brand/product/category) plus generic posts."""
    rng = random.Random(seed)
    posts: list[Post] = []
    fam = group = 0
    while fam < families:
        english = rng.random() < 0.15
        bank = EN_BRANDS if english else BRANDS
        brand = rng.choice(list(bank))
        product = rng.choice(bank[brand])
        category = rng.choice(list(OPENERS))
        openers = (EN_OPENERS if english else OPENERS)[category]
        kinds = EN_KINDS if english else ZH_KINDS
        # 2–4 different complaints of the same brand, product and category: each other's hard negatives.
        for opener in rng.sample(openers, min(len(openers), rng.randint(2, 4))):
            text = (seed_en if english else seed_zh)(rng, brand, product, opener)
            posts.append(Post(text, fam, "original", group))
            for _ in range(rng.randint(4, 12)):
                kind = rng.choice(kinds)
                posts.append(Post(transform(rng, kind, text, brand, english), fam, kind, group))
            fam += 1
        group += 1
    for _ in range(families // 2):
        english = rng.random() < 0.15
        text = rng.choice(EN_GENERIC if english else GENERIC)
        if rng.random() < 0.4:
            text = rng.choice(list(EN_BRANDS if english else BRANDS)) + (" " if english else "") + text
        posts.append(Post(text, fam, "generic", -1))
        fam += 1
    rng.shuffle(posts)
    return posts


# --------------------------------------------------------------------------------------------- evaluation


def _pairs(counts: Counter[Any]) -> int:
    return sum(c * (c - 1) // 2 for c in counts.values())


def evaluate(posts: list[Post]) -> dict[str, Any]:
    """Pairwise P/R/F1 over the whole feed, recall per copy kind, and false merges among negatives."""
    clusters = nd.cluster_all([p.text for p in posts])
    families = [p.family for p in posts]
    pred, true, both = Counter(clusters), Counter(families), Counter(zip(clusters, families, strict=True))
    tp, pp, tt = _pairs(both), _pairs(pred), _pairs(true)
    precision, recall = (tp / pp if pp else 1.0), (tp / tt if tt else 1.0)
    original = {p.family: c for p, c in zip(posts, clusters, strict=True) if p.kind == "original"}
    joined: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for p, c in zip(posts, clusters, strict=True):
        if p.kind not in ("original", "generic"):
            total[p.kind] += 1
            joined[p.kind] += c == original[p.family]
    # Hard negatives: originals of one group that ended up in one cluster (different complaints merged).
    by_group: dict[int, list[str]] = {}
    for p, c in zip(posts, clusters, strict=True):
        if p.kind == "original":
            by_group.setdefault(p.group, []).append(c)
    neg_pairs = sum(len(v) * (len(v) - 1) // 2 for v in by_group.values())
    neg_merged = sum(_pairs(Counter(v)) for v in by_group.values())
    generic_clusters = Counter(c for p, c in zip(posts, clusters, strict=True) if p.kind == "generic")
    generic_size = Counter(clusters)
    generic_merged = sum(1 for p, c in zip(posts, clusters, strict=True) if p.kind == "generic" and generic_size[c] > 1)
    return {
        "mentions": len(posts), "families": len(true), "clusters": len(pred),
        "precision": precision, "recall": recall, "f1": 2 * precision * recall / (precision + recall or 1),
        "recall_by_kind": {k: (joined[k] / total[k], total[k]) for k in sorted(total)},
        "hard_neg_pairs": neg_pairs, "hard_neg_merged": neg_merged,
        "generic": sum(generic_clusters.values()), "generic_merged": generic_merged,
        "generic_fp": sum(1 for p in posts if p.kind == "generic" and nd.fingerprint(p.text) is not None),
    }


def throughput(texts: list[str], runs: int = 3) -> tuple[float, float]:
    """Median fingerprints/s and cluster_all mentions/s (fingerprinting included) over `texts`."""
    fps, cls = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        for t in texts:
            nd.fingerprint(t)
        fps.append(len(texts) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        nd.cluster_all(texts)
        cls.append(len(texts) / (time.perf_counter() - t0))
    return sorted(fps)[runs // 2], sorted(cls)[runs // 2]


@contextmanager
def params(ngram: int | None = None, similar: float | None = None, bands: int | None = None,
           min_shingles: int | None = None, clean: Callable[[str], str] | None = None) -> Iterator[None]:
    """Temporarily override the module's tuning knobs (for --grid; the product reads them at call time)."""
    saved = {k: getattr(nd, k) for k in ("NGRAM", "SIMILAR", "BANDS", "ROWS", "MIN_SHINGLES", "clean")}
    try:
        if ngram is not None:
            nd.NGRAM = ngram
        if similar is not None:
            nd.SIMILAR = similar
        if bands is not None:
            nd.BANDS, nd.ROWS = bands, nd.NUM_PERM // bands
        if min_shingles is not None:
            nd.MIN_SHINGLES = min_shingles
        if clean is not None:
            nd.clean = clean  # type: ignore[assignment]
        yield
    finally:
        for k, v in saved.items():
            setattr(nd, k, v)


def describe() -> str:
    return (f"NGRAM={nd.NGRAM}, NUM_PERM={nd.NUM_PERM}, BANDS={nd.BANDS}×ROWS={nd.ROWS}, SIMILAR={nd.SIMILAR}, "
            f"MIN_SHINGLES={nd.MIN_SHINGLES}")


def summary_row(label: str, r: dict[str, Any]) -> str:
    para = r["recall_by_kind"].get("paraphrase", (0.0, 0))[0]
    return (f"| {label} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {para:.3f} | "
            f"{r['hard_neg_merged']}/{r['hard_neg_pairs']} | {r['generic_merged']}/{r['generic']} |")


def grid(posts: list[Post]) -> None:
    """Print one summary row per parameter combination (the current module values are the baseline)."""
    print("| setting | P | R | F1 | R paraphrase | hard negatives merged | generic merged |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(summary_row("current " + describe(), evaluate(posts)))
    for ngram in (2, 3):
        for similar in (0.45, 0.5, 0.55, 0.6):
            for bands in (32,):
                for min_sh in (4, 10):
                    with params(ngram=ngram, similar=similar, bands=bands, min_shingles=min_sh):
                        print(summary_row(describe(), evaluate(posts)), flush=True)


def write_section(body: list[str]) -> None:
    """Replace (or append) only this bench's section of bench/RESULTS.md, re-reading the file first."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    section = "\n".join([SECTION, "", *body]).rstrip() + "\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")


def report(posts: list[Post], baseline: list[str] | None = None) -> list[str]:
    r = evaluate(posts)
    fps, cps = throughput([p.text for p in posts])
    kinds = Counter(p.kind for p in posts)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {now} by `.venv/bin/python bench/cluster_bench.py` (Python {platform.python_version()}, "
        f"{platform.machine()}): `pipelines.near_duplicates.cluster_all` with {describe()}.",
        "",
        f"Data: synthetic, seed {SEED}: {r['mentions']} mentions in {r['families']} true families "
        f"({kinds['original']} complaints, 85% Chinese / 15% English, 2–4 per brand+product+category group, each "
        f"with 4–12 copies; {kinds['generic']} generic short posts, each its own family), shuffled, so a copy "
        "often arrives before its original.",
        "",
        "| metric | value |",
        "|---|---:|",
        f"| pairwise precision | **{r['precision']:.3f}** |",
        f"| pairwise recall | **{r['recall']:.3f}** |",
        f"| pairwise F1 | {r['f1']:.3f} |",
        f"| predicted clusters / true families | {r['clusters']} / {r['families']} |",
        f"| hard negatives merged (pairs of different complaints, same brand+product+category) | "
        f"{r['hard_neg_merged']} / {r['hard_neg_pairs']} |",
        f"| generic short posts merged with anything | {r['generic_merged']} / {r['generic']} "
        f"({r['generic_fp']} long enough to get a fingerprint) |",
        f"| fingerprint() | {fps:,.0f} /s |",
        f"| cluster_all() incl. fingerprinting, {r['mentions']} mentions | {cps:,.0f} mentions/s |",
        "",
        "Recall by copy kind (share of copies that landed in their original's cluster):",
        "",
        "| copy kind | copies | recall |",
        "|---|---:|---:|",
        *(f"| {k} | {n} | {rec:.3f} |" for k, (rec, n) in r["recall_by_kind"].items()),
    ]
    if baseline:
        lines += ["", *baseline]
    lines += ["", *READING]
    return lines


READING = [
    "Reading (sweep by `--grid` on this data, 2026-11-25): every copy kind that only adds or removes noise "
    "(reposts, emoji, hashtags, URLs, punctuation, width, traditional, case, truncation to 70–90%) is found; light "
    "paraphrases (2–3 synonym swaps, a clause swap, fillers) reach ~0.91. Raising MIN_SHINGLES 4 -> 10 stops "
    "identical short generic posts (\"vivo再也不买了\") from forming big clusters; the remaining generic merges are "
    "English ones with a brand (\"Samsung worst ever\" is 16 letters). Precision stays below the 0.95 target: the "
    "false merges are whole families of different complaints that share most of their wording, mostly from the "
    "generator's small English pool (e.g. \"X support promised a callback about my Y within N days\") and Chinese "
    "complaints that share a stock detail and closing; pairwise precision counts a merge of two 10-copy families "
    "as 100 wrong pairs. Only the 3-gram text decides, so these cannot be separated without more than "
    "wording (brand/product match, author, time). NGRAM=2 is worse at every threshold (SIMILAR 0.5: P 0.48, "
    "R 0.99; 0.6: P 0.80, R 0.97); 3-grams with SIMILAR 0.55 give P 0.86 / R 0.93 (paraphrase 0.84) and 0.6 "
    "give P 0.90 / R 0.88 (paraphrase 0.72), so SIMILAR stays 0.5. 64×2 bands gave at most +0.008 recall for "
    "lower precision (earlier generator version). Throughput before the index changes was ~1,200 mentions/s "
    "for cluster_all (numpy conversion "
    "of every candidate's signature per comparison; large buckets of identical generic posts).",
]


def clean_before(text: str) -> str:
    """clean() as it was before tuning (no HTML or hashtag stripping), for the before/after row."""
    t = nd._URL.sub(" ", text)
    t = nd._REPOST.sub(" ", t)
    t = nd._MENTION.sub(" ", t)
    t = nd._EMOTICON.sub(" ", t)
    t = nd.fold(t)
    t = nd._NOISE.sub("", t)
    return nd._LEADING.sub("", t)


def before_after(posts: list[Post]) -> list[str]:
    """The untuned settings (NGRAM 3, SIMILAR 0.5, 32×4, MIN_SHINGLES 4, old clean) next to the current ones."""
    rows = ["Before/after tuning on the same data:", "",
            "| setting | P | R | F1 | R paraphrase | hard negatives merged | generic merged |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    with params(ngram=3, similar=0.5, bands=32, min_shingles=4, clean=clean_before):
        rows.append(summary_row("before: " + describe() + ", clean without HTML/hashtag stripping", evaluate(posts)))
    rows.append(summary_row("after: " + describe(), evaluate(posts)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only, leave bench/RESULTS.md alone")
    parser.add_argument("--families", type=int, default=2000, help="complaint families (≈ 9 mentions each)")
    parser.add_argument("--grid", action="store_true", help="print a parameter sweep instead of the report")
    args = parser.parse_args()
    posts = generate(args.families)
    if args.grid:
        grid(posts)
        return
    body = report(posts, before_after(posts))
    print("\n".join(body))
    if not args.no_write:
        write_section(body)


if __name__ == "__main__":
    main()
