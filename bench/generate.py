"""Deterministic generator of mention JSON Lines for the ingest benchmark.

    .venv/bin/python bench/generate.py OUT.jsonl [-n 100000] [--seed 20261125] [--reobserve 0.05]

Short mixed Chinese/English posts on weibo, jd, reddit, bilibili and xiaohongshu about a handful of
made-up brands, published over about two months (2026-09-01 .. 2026-10-31, local offsets), with
engagement counts. About `--reobserve` of the lines are re-observations of earlier posts: the same post
(same platform, source_id, text, ...) crawled later with higher counts, so `groundswell ingest` takes its
merge path (mget, append to the engagement history, conditional write) for them.

The same seed and n always give byte-identical output; the summary on stderr says how many unique posts
and re-observations were written.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

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

ZH_OPEN = (
    "刚收到", "用了一周", "说实话", "家人们谁懂啊", "第三次买了",
    "客服态度", "求助", "避雷", "种草", "吐槽一下",
)
ZH_PRAISE = (
    "质量不错，物流也很快", "颜值很高，手感很好", "性价比可以，推荐", "续航比想象中好", "包装很用心，好评",
    "比上一代进步很大", "安装师傅很专业", "用起来很顺手",
)
ZH_COMPLAINT = (
    "充电充不进去，客服一直不回", "用了三天就坏了，申请退货被拒", "发热严重，烫手",
    "说好的七天无理由，结果不给退", "蓝牙老是断连，太影响体验了", "味道很大，闻着头晕",
    "和宣传的完全不一样，虚假宣传", "屏幕有坏点，换货要等两周",
    "电池鼓包了！！！有点吓人", "过敏了，脸上起红疹",
)
ZH_TAIL = ("😅", "👍", "😡", "🙄", "。", "！", "…", "[doge]", "[怒]", "[赞]", "", "", "")
EN_OPEN = (
    "Just got my", "Week two with the", "PSA about the", "Anyone else having issues with the",
    "Honest review of the", "Returned my", "Loving the", "Thinking about buying the",
)
EN_PRAISE = (
    "battery life is great and it feels solid.", "setup took five minutes, very smooth.",
    "worth the price honestly.", "support replaced it within two days, impressed.",
)
EN_COMPLAINT = (
    "it stopped charging after a week and support keeps closing my ticket.",
    "gets really hot while charging, not comfortable leaving it overnight.",
    "refund denied even though it was DOA. Never again.",
    "firmware update bricked it. Anyone found a fix?",
    "the bluetooth keeps dropping every few minutes.",
)
EN_TAIL = ("", "", " Thoughts?", " /rant", " Edit: typo.", " 10/10 would buy again.", " :(")
ZH_MIXED = (" 真的 no zuo no die", " 总之 not recommended", " overall OK", " 买前三思 tbh")
TOPICS = ("#数码#", "#618#", "#双11#", "#好物分享#", "#避雷#", "#维权#", "#测评#")
AUTHORS_ZH = ("小鹿", "阿杰", "momo", "老王说数码", "一只喵", "橙子", "Kiki酱", "大白", "数码小哥", "晴天")
AUTHORS_EN = ("throwaway", "techie", "bikecommuter", "gadgetfan", "nightowl", "quietmoose", "redpanda")


@dataclass
class Post:
    record: dict[str, Any]
    crawled: datetime
    likes: int
    reposts: int
    comments: int


def _stamp(dt: datetime, tz: timezone) -> str:
    return dt.astimezone(tz).isoformat(timespec="seconds")


def _zh_text(rng: random.Random, brand: str, product: str, negative: bool) -> str:
    body = rng.choice(ZH_COMPLAINT if negative else ZH_PRAISE)
    parts = [rng.choice(ZH_OPEN), f"，{product}", f"，{body}", rng.choice(ZH_TAIL)]
    if rng.random() < 0.35:
        parts.append(" " + rng.choice(TOPICS))
    if rng.random() < 0.2:
        parts.append(f" @{brand}官方 ")
    if rng.random() < 0.25:  # mixed Chinese/English, as people write
        parts.append(rng.choice(ZH_MIXED))
    if rng.random() < 0.1:  # full-width digits and HTML that normalize has to clean
        parts.append(f"<br>订单号：１２３{rng.randrange(1000, 9999)}&nbsp;")
    return "".join(parts)


def _en_text(rng: random.Random, product: str, negative: bool) -> str:
    body = rng.choice(EN_COMPLAINT if negative else EN_PRAISE)
    text = f"{rng.choice(EN_OPEN)} {product}: {body}{rng.choice(EN_TAIL)}"
    if rng.random() < 0.15:
        text += " (买的国行版 / bought the CN version)"
    return text


def _new_post(rng: random.Random, serial: int) -> Post:
    platform = rng.choices(PLATFORMS, PLATFORM_WEIGHTS)[0]
    brand = rng.choice(tuple(BRANDS))
    product = rng.choice(BRANDS[brand])
    negative = rng.random() < 0.3
    published = START + timedelta(seconds=rng.randrange(int(SPAN.total_seconds())))
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
        rec["text"] = _en_text(rng, product, negative)
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
        rec["text"] = _zh_text(rng, brand, product, negative)
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


def generate(out: TextIO, n: int = 100_000, seed: int = SEED, reobserve: float = 0.05) -> tuple[int, int]:
    """Write n lines; return (unique posts, re-observation lines)."""
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
            post = _new_post(rng, i)
            posts.append(post)
        out.write(_line(post) + "\n")
    return len(posts), reobs


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="where to write the JSON Lines ('-' for stdout)")
    ap.add_argument("-n", type=int, default=100_000, help="lines to write (default 100000)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--reobserve", type=float, default=0.05, help="share of lines that re-observe a post")
    args = ap.parse_args(argv)
    if str(args.out) == "-":
        unique, reobs = generate(sys.stdout, args.n, args.seed, args.reobserve)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", encoding="utf-8", newline="\n") as f:
            unique, reobs = generate(f, args.n, args.seed, args.reobserve)
    print(f"wrote {args.n} lines: {unique} posts, {reobs} re-observations", file=sys.stderr)


if __name__ == "__main__":
    main()
