"""Deterministic generator of mention JSON Lines for the ingest benchmark.

    .venv/bin/python bench/generate.py OUT.jsonl [-n 100000] [--seed 20261125] [--reobserve 0.05]
                                                 [--start 2026-09-01] [--days 61] [--text clauses|real]

Short mixed Chinese/English posts on weibo, jd, reddit, bilibili and xiaohongshu about a handful of
made-up brands, published over about two months (2026-09-01 .. 2026-10-31, local offsets; --start, --days), with
engagement counts. About `--reobserve` of the lines are re-observations of earlier posts: the same post
(same platform, source_id, text, ...) crawled later with higher counts, so `groundswell ingest` takes its
merge path (mget, append to the engagement history, conditional write) for them.

Texts (`--text`): `clauses` (the default, every benchmark's input so far) composes a post from short clause
pools with filled-in details; those posts share far more character 3-grams than real ones, so their near-duplicate
band keys collide 20 to 1,000 times as often as real posts of one brand do (bench/collisions_bench.py), and every
cluster lookup meets that many false candidates. `real` takes a post's body from clauses of the real posts
and reviews the project keeps (pipelines/sentiment_model/data: mostly negative clauses for a negative post), put
together at random to the length of a real post drawn at random, with the product named as before; Reddit's posts
are then in Chinese too (the project keeps no English corpus). Their bodies alone collide like real posts of mixed
topics; naming one of 16 products makes them collide like, or somewhat more than, reviews of one brand.

The same seed, n and text form always give byte-identical output; the summary on stderr says how many unique posts
and re-observations were written.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, TextIO

TEXT_FORMS = ("clauses", "real")
PLATFORMS = ("weibo", "jd", "reddit", "bilibili", "xiaohongshu")
PLATFORM_WEIGHTS = (0.34, 0.18, 0.16, 0.14, 0.18)
SEED = 20261125
START = datetime(2026, 9, 1, tzinfo=UTC)
SPAN = timedelta(days=61)

CST = timezone(timedelta(hours=8))
US_OFFSETS = (timezone(timedelta(hours=-5)), timezone(timedelta(hours=-8)), UTC, timezone(timedelta(hours=1)))

BRANDS: dict[str, tuple[str, ...]] = {
    "Lumio": ("Lumio X3", "Lumio Buds Pro", "Lumio Watch 2", "Lumio 充电宝"),
    "北辰": ("北辰扫地机 S7", "北辰空气炸锅", "北辰净水器 R2"),
    "Kestrel": ("Kestrel Air 14", "Kestrel Dock", "Kestrel Pad mini"),
    "云栖": ("云栖面霜", "云栖防晒乳", "云栖精华 30ml"),
    "Brightway": ("Brightway E-bike", "Brightway Helmet", "Brightway 电池包"),
}

# Posts are composed from clause pools with filled-in details, so that two posts rarely share more than a
# clause: real mentions are mostly distinct texts, and near-duplicate clustering should see realistic
# bucket sizes. A few percent of posts are deliberate copies (reposts, cross-posts) of earlier ones.
ZH_OPEN = (
    "刚收到",
    "用了一周",
    "说实话",
    "家人们谁懂啊",
    "第三次买了",
    "求助",
    "避雷",
    "种草",
    "吐槽一下",
    "更新一下",
    "真的服了",
    "冲动消费了",
    "终于到货",
    "记录一下",
    "姐妹们",
    "无语",
    "来还愿",
    "踩雷了",
    "本来很期待",
    "分享",
)
ZH_BAD = (
    "用了{days}天就开始{fault}",
    "{courier}{days}天了还没送到，物流一直停在{city}",
    "客服说{n}次会回电话，一直没人联系",
    "申请退款{days}天了还显示处理中",
    "{feature}明显不如宣传的那样",
    "{price}块买的，{feature}还不如杂牌",
    "说好的{promise}，结果根本没有",
    "售后让我自己寄回{city}检测，运费自理",
    "{feature}有问题，换了{n}次货还是一样",
    "{time}下单，{courier}把地址送错了",
    "包装破损，{part}都碎了",
    "充电的时候{fault}",
    "转人工要排队{n}分钟",
    "{feature}一言难尽，后悔没早点看评论",
    "发票开错了，联系了{n}次都没改",
    "{time}买的，现在降价{n}百也不给保价",
    "拆开就有划痕，明显是二手翻新",
    "{feature}时好时坏，重启{n}次才恢复",
    "售后电话永远占线",
    "赠品说好送{part}没送",
    "{time}刚升级完系统就{fault}",
    "门店说要返厂{days}天，太耽误事了",
    "快递员直接放驿站也不打电话",
    "客服回复全是模板，问题一个没解决",
    "第{n}个了，品控太差",
    "{feature}比上一代还差",
    "退货运费险也不给赔",
)
ZH_GOOD = (
    "{feature}比想象中好很多",
    "{courier}第二天就送到{city}了",
    "{price}这个价位{feature}很能打",
    "客服很耐心，{n}分钟就解决了",
    "用了{days}天，{feature}一直很稳",
    "做工扎实，{part}也很有质感",
    "{time}下单{time2}就到了",
    "安装师傅很专业，还帮忙调试了",
    "{feature}提升明显，推荐",
    "给家里人也买了{n}台",
    "比{other}的{feature}好一截",
    "包装很用心，{part}都有保护",
    "保价很爽快，退了{n}十块差价",
    "售后上门很快，{days}天就处理好了",
    "老用户了，{feature}依旧在线",
)
ZH_MEH = (
    "有没有人知道{feature}怎么调",
    "纠结要不要入，{price}有点贵",
    "{city}有线下店能体验吗",
    "和{other}比各有优缺点",
    "{feature}还行，{part}一般",
    "等{time}活动再看看",
    "求问{feature}正常吗",
    "总体中规中矩，{feature}凑合",
)
ZH_FAULT = (
    "自动关机",
    "屏幕闪烁",
    "有异响",
    "严重发烫",
    "连不上网",
    "掉色",
    "漏水",
    "充不进电",
    "卡顿",
    "起球",
    "异味很重",
    "按键失灵",
    "蓝牙断连",
    "续航腰斩",
    "刹车异响",
    "死机",
)
ZH_FEATURE = (
    "续航",
    "屏幕",
    "拍照",
    "噪音",
    "吸力",
    "做工",
    "味道",
    "刹车",
    "充电速度",
    "蓝牙",
    "系统",
    "音质",
    "手感",
    "保湿效果",
    "防晒效果",
    "降噪",
    "清洁效果",
    "出水速度",
    "散热",
    "重量",
)
ZH_PART = ("充电器", "耳机套", "滤芯", "电池", "表带", "说明书", "配件", "小样", "数据线", "支架")
ZH_TIME = ("昨天", "上周", "双十一当天", "国庆前", "月初", "前天晚上", "周末", "618", "凌晨", "三天前")
ZH_PROMISE = ("七天无理由", "24小时发货", "一年换新", "全国联保", "上门安装", "赠品包邮")
ZH_TAIL = (
    "😅",
    "👍",
    "😡",
    "🙄",
    "。",
    "！",
    "…",
    "[doge]",
    "[怒]",
    "[赞]",
    "[泪]",
    "！！！",
    "？",
    "",
    "",
    "",
)
ZH_MIXED = (
    " 真的 no zuo no die",
    " 总之 not recommended",
    " overall OK",
    " 买前三思 tbh",
    " 绝了 lol",
    " yyds",
)
ZH_REPOST = ("转发微博", "同款问题", "我也是", "+1", "蹲后续", "帮转", "太真实了", "抱抱", "一样的遭遇")
COURIERS = ("顺丰", "中通", "圆通", "韵达", "京东物流", "极兔", "申通", "EMS")
CITIES = (
    "北京",
    "上海",
    "广州",
    "深圳",
    "杭州",
    "成都",
    "武汉",
    "西安",
    "南京",
    "重庆",
    "长沙",
    "郑州",
    "沈阳",
    "厦门",
)
EN_OPEN = (
    "Just got my",
    "Week two with the",
    "PSA about the",
    "Anyone else having issues with the",
    "Honest review of the",
    "Returned my",
    "Loving the",
    "Thinking about buying the",
    "Update on my",
    "Long-time lurker, first post about the",
)
EN_BAD = (
    "it started to {fault} after {days} days",
    "support closed my ticket {n} times without an answer",
    "the {feature} is nowhere near what the ads claim",
    "{courier} says delivered but nothing arrived",
    "refund has been pending for {days} days",
    "paid ${price} and the {feature} is worse than a cheap knockoff",
    "replacement number {n} has the same {feature} problem",
    "the {part} was cracked right out of the box",
    "after the {time} update it keeps trying to {fault}",
    "they want me to ship it back at my own cost",
    "warranty claim denied because of 'cosmetic damage'",
    "the {feature} degraded noticeably within a month",
)
EN_GOOD = (
    "the {feature} is better than I expected",
    "arrived in {days} days, well packed",
    "support sorted it out in {n} minutes",
    "for ${price} the {feature} is hard to beat",
    "{days} days in and the {feature} is still solid",
    "bought {n} more for the family",
    "noticeably better {feature} than the {other}",
    "the {part} feels premium",
)
EN_MEH = (
    "is the {feature} supposed to be like this?",
    "waiting for a {time} sale, ${price} is steep",
    "how does it compare to the {other}?",
    "{feature} is fine, {part} is meh",
)
EN_FAULT = (
    "shut down randomly",
    "overheat",
    "drop bluetooth",
    "drain the battery",
    "freeze",
    "make a clicking noise",
)
EN_FEATURE = (
    "battery life",
    "screen",
    "camera",
    "noise cancelling",
    "build quality",
    "suction",
    "range",
    "charging speed",
)
EN_PART = ("charger", "case", "strap", "cable", "filter", "box")
# what people talk about, per brand (its kind of product): Chinese features, parts, faults; English features
KIND: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "Lumio": (
        ("续航", "屏幕", "拍照", "降噪", "音质", "充电速度", "蓝牙", "系统", "信号"),
        ("充电器", "耳机套", "表带", "数据线", "保护壳"),
        ("自动关机", "屏幕闪烁", "严重发烫", "充不进电", "蓝牙断连", "续航腰斩", "死机"),
        ("battery life", "screen", "camera", "noise cancelling", "charging speed", "bluetooth"),
    ),
    "北辰": (
        ("吸力", "噪音", "清洁效果", "出水速度", "加热速度", "滤芯寿命", "APP连接"),
        ("滤芯", "边刷", "炸篮", "电源线", "说明书"),
        ("有异响", "漏水", "连不上网", "异味很重", "按键失灵", "跑偏"),
        ("suction", "noise level", "app", "filter life"),
    ),
    "Kestrel": (
        ("屏幕", "散热", "键盘手感", "续航", "重量", "扬声器", "触控板"),
        ("充电器", "扩展坞", "电源线", "包装盒"),
        ("卡顿", "屏幕闪烁", "风扇狂转", "死机", "充不进电"),
        ("screen", "thermals", "keyboard", "battery life", "trackpad"),
    ),
    "云栖": (
        ("保湿效果", "防晒效果", "味道", "质地", "吸收速度", "包装"),
        ("小样", "按压泵", "瓶盖", "赠品"),
        ("过敏起疹", "搓泥", "闷痘", "变质结块", "掉色"),
        ("texture", "scent", "moisturizing", "packaging"),
    ),
    "Brightway": (
        ("续航", "刹车", "电机", "车架", "座椅", "APP", "重量"),
        ("电池", "车锁", "头盔扣", "充电器", "挡泥板"),
        ("刹车异响", "掉电快", "链条脱落", "电机异响", "仪表黑屏"),
        ("range", "brakes", "motor", "frame", "app"),
    ),
}
EN_TIME = ("last", "latest", "Black Friday", "holiday", "weekend", "spring")
EN_TAIL = (
    "",
    "",
    "",
    " Thoughts?",
    " /rant",
    " Edit: typo.",
    " 10/10 would buy again.",
    " :(",
    " Avoid.",
    " FWIW.",
)
TOPICS = (
    "#数码#",
    "#618#",
    "#双11#",
    "#好物分享#",
    "#避雷#",
    "#维权#",
    "#测评#",
    "#开箱#",
    "#售后#",
    "#家电#",
)
AUTHORS_ZH = (
    "小鹿",
    "阿杰",
    "momo",
    "老王说数码",
    "一只喵",
    "橙子",
    "Kiki酱",
    "大白",
    "数码小哥",
    "晴天",
    "北漂小陈",
)
AUTHORS_EN = (
    "throwaway",
    "techie",
    "bikecommuter",
    "gadgetfan",
    "nightowl",
    "quietmoose",
    "redpanda",
    "mkbhd_fan",
)


def _fill(rng: random.Random, clause: str, zh: bool, other: str, brand: str) -> str:
    features, parts, faults, en_features = KIND[brand]
    slots = {
        "days": str(rng.randint(1, 60)),
        "n": str(rng.randint(2, 12)),
        "price": str(rng.randint(49, 9999)),
        "other": other,
    }
    if zh:
        slots.update(
            fault=rng.choice(faults if rng.random() < 0.8 else ZH_FAULT),
            feature=rng.choice(features if rng.random() < 0.8 else ZH_FEATURE),
            part=rng.choice(parts if rng.random() < 0.8 else ZH_PART),
            time=rng.choice(ZH_TIME),
            time2=rng.choice(ZH_TIME),
            promise=rng.choice(ZH_PROMISE),
            courier=rng.choice(COURIERS),
            city=rng.choice(CITIES),
        )
    else:
        slots.update(
            fault=rng.choice(EN_FAULT),
            feature=rng.choice(en_features if rng.random() < 0.8 else EN_FEATURE),
            part=rng.choice(EN_PART),
            time=rng.choice(EN_TIME),
            courier=rng.choice(("UPS", "FedEx", "USPS", "DHL")),
        )
    return clause.format(**slots)


def _clauses(rng: random.Random, negative: bool, zh: bool, other: str, brand: str) -> list[str]:
    bad, good, meh = (ZH_BAD, ZH_GOOD, ZH_MEH) if zh else (EN_BAD, EN_GOOD, EN_MEH)
    main = bad if negative else (meh if rng.random() < 0.2 else good)
    k = rng.choices((1, 2, 3), (0.3, 0.5, 0.2))[0]
    picked = rng.sample(main, k)
    if rng.random() < 0.2:  # a mixed review
        picked.append(rng.choice(good if negative else bad))
    return [_fill(rng, c, zh, other, brand) for c in picked]


@dataclass
class Post:
    record: dict[str, Any]
    crawled: datetime
    likes: int
    reposts: int
    comments: int


def _stamp(dt: datetime, tz: timezone) -> str:
    return dt.astimezone(tz).isoformat(timespec="seconds")


def _zh_text(rng: random.Random, brand: str, product: str, negative: bool, other: str) -> str:
    seps = ("，", "，", "。", "！", " ")
    parts = [rng.choice(ZH_OPEN) + "，" if rng.random() < 0.6 else "", product if rng.random() < 0.7 else ""]
    for c in _clauses(rng, negative, True, other, brand):
        parts.append(rng.choice(seps) + c if parts[-1] else c)
    parts.append(rng.choice(ZH_TAIL))
    if rng.random() < 0.35:
        parts.append(" " + rng.choice(TOPICS))
    if rng.random() < 0.2:
        parts.append(f" @{brand}官方 ")
    if rng.random() < 0.2:  # mixed Chinese/English, as people write
        parts.append(rng.choice(ZH_MIXED))
    if rng.random() < 0.1:  # full-width digits and HTML that normalize has to clean
        parts.append(f"<br>订单号：１２３{rng.randrange(1000, 9999)}&nbsp;")
    return "".join(parts)


_CLAUSE_END = re.compile(r"[，,。.！!？?；;～~\s]+")


@lru_cache(maxsize=1)
def _real_clauses() -> tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]]:
    """(negative clauses, positive clauses, lengths of the texts): the clauses of the real posts and reviews the
    project keeps, each once, 4 to 40 characters (pieces between punctuation), in file order."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from pipelines.sentiment_model import corpora

    texts = [(label, review) for _, label, review in corpora.read_rows()]
    texts += [(d.label, d.text) for d in corpora.read_weibo()]
    pools: tuple[dict[str, None], dict[str, None]] = ({}, {})
    for label, text in texts:
        for piece in _CLAUSE_END.split(text):
            if 4 <= len(piece) <= 40 and "http" not in piece and "@" not in piece:
                pools[label].setdefault(piece, None)
    return tuple(pools[0]), tuple(pools[1]), tuple(len(t) for _, t in texts)


def _zh_real_text(rng: random.Random, product: str, negative: bool) -> str:
    """A Chinese post whose body is real clauses of its polarity (a mixed one now and then), as long as a real post
    or review drawn at random (at least 12 characters): real posts are that long, and a body much shorter than the
    product's name would make posts of one product look alike."""
    bad, good, lengths = _real_clauses()
    want = max(12, min(200, rng.choice(lengths)))
    picked: list[str] = []
    while sum(map(len, picked)) < want:
        picked.append(rng.choice(good if (rng.random() < 0.15) == negative else bad))
    seps = ("，", "，", "。", "！", " ")
    text = (
        (product + rng.choice(seps) if rng.random() < 0.7 else "")
        + "".join(c + rng.choice(seps) for c in picked[:-1])
        + picked[-1]
    )
    if rng.random() < 0.35:
        text += " " + rng.choice(TOPICS)
    if rng.random() < 0.1:  # full-width digits and HTML that normalize has to clean
        text += f"<br>订单号：１２３{rng.randrange(1000, 9999)}&nbsp;"
    return text


def _en_text(rng: random.Random, brand: str, product: str, negative: bool, other: str) -> str:
    clauses = _clauses(rng, negative, False, other, brand)
    text = f"{rng.choice(EN_OPEN)} {product}: " + ". ".join(c[0].upper() + c[1:] for c in clauses) + "."
    text += rng.choice(EN_TAIL)
    if rng.random() < 0.1:
        text += " (买的国行版 / bought the CN version)"
    return text


def _new_post(
    rng: random.Random, serial: int, start: datetime = START, span: timedelta = SPAN, text: str = "clauses"
) -> Post:
    platform = rng.choices(PLATFORMS, PLATFORM_WEIGHTS)[0]
    brand = rng.choice(tuple(BRANDS))
    product = rng.choice(BRANDS[brand])
    other = rng.choice([p for b, ps in BRANDS.items() if b != brand for p in ps])
    negative = rng.random() < 0.3
    published = start + timedelta(seconds=rng.randrange(int(span.total_seconds())))
    crawled = published + timedelta(minutes=rng.randrange(5, 6 * 60))
    tz = rng.choice(US_OFFSETS) if platform == "reddit" else CST
    followers = int(rng.paretovariate(1.2) * 50)
    likes = int(rng.paretovariate(1.5) * 3) - 3
    source_id = f"{platform[:2]}{serial:08d}{rng.randrange(16**4):04x}"
    rec: dict[str, Any] = {"platform": platform, "source_id": source_id}
    if platform == "reddit":
        rec["url"] = f"https://www.reddit.com/r/gadgets/comments/{source_id}/"
        rec["author"] = f"u/{rng.choice(AUTHORS_EN)}{rng.randrange(10_000)}"
        rec["title"] = f"{product}: {'problem' if negative else 'review'}"
        # `real`: a Chinese-language post, as on r/China_irl (there is no real English corpus to draw clauses from)
        rec["text"] = _zh_real_text(rng, product, negative) if text == "real" else _en_text(
            rng, brand, product, negative, other)
        if rng.random() < 0.3:
            rec["reply_to"] = f"re{rng.randrange(serial + 1):08d}"
    else:
        rec["url"] = {
            "weibo": f"https://weibo.com/{rng.randrange(10**9)}/{source_id}",
            "jd": f"https://item.jd.com/{rng.randrange(10**8)}.html#comment-{source_id}",
            "bilibili": f"https://www.bilibili.com/video/BV{source_id}",
            "xiaohongshu": f"https://www.xiaohongshu.com/explore/{source_id}",
        }[platform]
        rec["author"] = f"{rng.choice(AUTHORS_ZH)}{rng.randrange(10_000)}"
        if text == "real":
            rec["text"] = _zh_real_text(rng, product, negative)
        else:
            rec["text"] = _zh_text(rng, brand, product, negative, other)
        if platform == "bilibili":
            rec["title"] = f"【{brand}】{product} {'翻车实录' if negative else '深度测评'}"
        if platform == "xiaohongshu" and rng.random() < 0.6:
            angle = rng.choice(("亲测", "一个月体验", "review"))
            rec["title"] = f"{product}{'避雷' if negative else '真香'}｜{angle}"
        if platform == "weibo" and rng.random() < 0.15:
            rec["repost_of"] = f"we{rng.randrange(serial + 1):08d}"
    rec["author_followers"] = followers
    rec["brand"] = brand
    rec["product"] = product
    if platform == "jd":
        rec["rating"] = rng.choice((1, 2)) if negative else rng.choice((4, 5, 5))
    rec["published_at"] = _stamp(published, tz)
    reposts = int(likes * rng.random() * 0.3) if platform in ("weibo", "bilibili") else 0
    comments = int(likes * rng.random() * 0.5)
    return Post(rec, crawled, max(likes, 0), reposts, comments)


def _line(post: Post) -> str:
    rec = dict(post.record)
    rec["crawled_at"] = _stamp(post.crawled, CST if rec["platform"] != "reddit" else UTC)
    rec["likes"], rec["reposts"], rec["comments"] = post.likes, post.reposts, post.comments
    return json.dumps(rec, ensure_ascii=False)


def _copy_of(rng: random.Random, post: Post, original: Post) -> None:
    """Make `post` a copy of an earlier one: a weibo repost with a comment, or the same text cross-posted."""
    orig = original.record
    if post.record["platform"] == "weibo" and rng.random() < 0.7:
        post.record["text"] = f"{rng.choice(ZH_REPOST)}//@{orig.get('author', '')}:{orig['text']}"
        if orig["platform"] == "weibo":
            post.record["repost_of"] = orig["source_id"]
    else:
        post.record["text"] = orig["text"] + rng.choice(
            ZH_TAIL if post.record["platform"] != "reddit" else EN_TAIL
        )
    for key in ("brand", "product"):
        post.record[key] = orig[key]


def generate(
    out: TextIO, n: int = 100_000, seed: int = SEED, reobserve: float = 0.05, copies: float = 0.03,
    start: datetime = START, span: timedelta = SPAN, text: str = "clauses",
) -> tuple[int, int]:
    """Write n lines; return (unique posts, re-observation lines). About `copies` of the posts copy an
    earlier post's text (reposts, cross-posts), for near-duplicate clustering to find."""
    rng = random.Random(seed)
    posts: list[Post] = []
    reobs = 0
    for i in range(n):
        if posts and rng.random() < reobserve:
            # an earlier post crawled again later, with higher counts; mostly from earlier bulk batches
            post = posts[rng.randrange(len(posts))]
            post.crawled += timedelta(minutes=rng.randrange(10, 24 * 60))
            post.likes += rng.randrange(1, 50) + post.likes // 2
            post.reposts += rng.randrange(0, 10)
            post.comments += rng.randrange(1, 20)
            reobs += 1
        else:
            post = _new_post(rng, i, start, span, text)
            if len(posts) > 100 and rng.random() < copies:
                _copy_of(rng, post, posts[rng.randrange(len(posts))])
            posts.append(post)
        out.write(_line(post) + "\n")
    return len(posts), reobs


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="where to write the JSON Lines ('-' for stdout)")
    ap.add_argument("-n", type=int, default=100_000, help="lines to write (default 100000)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--reobserve", type=float, default=0.05, help="share of lines that re-observe a post")
    ap.add_argument("--copies", type=float, default=0.03, help="share of posts that copy an earlier post")
    ap.add_argument("--start", type=date.fromisoformat, default=START.date(),
                    help="the first day posts are published on (UTC; default 2026-09-01)")
    ap.add_argument("--days", type=float, default=SPAN.days, help="over how many days (default 61)")
    ap.add_argument("--text", choices=TEXT_FORMS, default="clauses",
                    help="clauses: composed from clause pools (default); real: Chinese bodies from real clauses")
    args = ap.parse_args(argv)
    start = datetime.combine(args.start, time(), UTC)
    period = {"start": start, "span": timedelta(days=args.days), "text": args.text}
    if str(args.out) == "-":
        unique, reobs = generate(sys.stdout, args.n, args.seed, args.reobserve, args.copies, **period)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", encoding="utf-8", newline="\n") as f:
            unique, reobs = generate(f, args.n, args.seed, args.reobserve, args.copies, **period)
    print(f"wrote {args.n} lines: {unique} posts, {reobs} re-observations", file=sys.stderr)


if __name__ == "__main__":
    main()
