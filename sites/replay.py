"""A seeded replay of a week of mentions for judging alert rules: final documents, bulk-indexed under a prefix.

The story (times in China Standard Time, where these brands' customers live):
- `days` steady days for three brands, with quiet nights and busy lunch and dinner hours, a little busier at the
  weekend; about a quarter of the mentions are negative, tagged with the complaint taxonomy; a few are reposts;
- a promotion (day 3, 19:00-23:00): Lumio's volume triples with praise, and its official account's giveaway post
  is reposted by hundreds (positive: no alert should care);
- an ordinary bad hour (day 4, 12:00-13:00): 1.8 times the usual complaints about 北辰, of the usual kinds;
- the viral complaint (the day after the steady days, 12:20): a big food account posts that a 北辰 air fryer caught
  fire; within the hour it is reposted thousands of times (the post's counters) and hundreds of authors repost it
  or copy and paraphrase it on other platforms.

Each post carries the engagement history a crawler visiting every 15 minutes (hourly after six hours, for two
days) would have recorded up to the end of the replay, sentiment labels, complaint tags from the real taxonomy,
and cluster ids as the analysis gives them (reposts and most copies join the original's cluster). Building is
pure (the same seed and size give the same documents); `index` bulk-writes them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from elasticsearch import Elasticsearch, helpers

from core.mention import Mention
from store import mapping
from store.client import ensure_schema

CST = timezone(timedelta(hours=8))
START = datetime(2026, 11, 16, tzinfo=CST)  # a Monday
SEED = 20261116
HISTORY_HOURS = 48  # the crawler revisits posts this long (groundswell.config.Scheduler.revisit_hours)

# share of the volume per brand, and local-hour profile (quiet nights, busy mealtimes)
BRANDS: dict[str, float] = {"Lumio": 0.5, "北辰": 0.3, "云栖": 0.2}
PRODUCTS: dict[str, tuple[str, ...]] = {
    "Lumio": ("Lumio X3", "Lumio Buds Pro", "Lumio Watch 2"),
    "北辰": ("北辰空气炸锅", "北辰扫地机 S7", "北辰净水器 R2"),
    "云栖": ("云栖面霜", "云栖防晒乳", "云栖精华"),
}
HOURLY = (0.15, 0.08, 0.05, 0.04, 0.04, 0.08, 0.25, 0.55, 0.8, 0.9, 1.0, 1.4,
          1.7, 1.4, 0.9, 0.85, 0.9, 1.0, 1.4, 1.8, 1.9, 1.6, 1.1, 0.5)  # fmt: skip
WEEKEND = 1.2
BAD_HOUR = 0.8  # extra complaints in the bad hour, as a share of the usual ones (so 1.8 times the usual)
PLATFORMS = ("weibo", "xiaohongshu", "jd", "bilibili", "reddit")
PLATFORM_WEIGHTS = (0.4, 0.2, 0.18, 0.12, 0.1)
SENTIMENT_WEIGHTS = {"negative": 0.25, "positive": 0.45, "neutral": 0.30}
SCORES = {"negative": (0.02, 0.35), "neutral": (0.42, 0.58), "positive": (0.65, 0.99)}  # pipelines.sentiment labels

NEGATIVE_ZH = (
    "{p}用了{n}天就{fault}，太失望了",
    "{p}物流太慢了，{n}天才到",
    "买的{p}外包装破损，申请退货一直不处理",
    "{p}客服态度差，问了{n}次都没人回复",
    "{p}申请退款{n}天了还没到账",
    "{p}有划痕，明显是二手翻新",
    "{p}和宣传的不一样，{feature}差太多",
    "刚买{n}天{p}就降价了，不给保价",
    "{p}售后电话打不通，维修拖了两周",
    "{p}{feature}太差了，后悔买了",
)
NEGATIVE_EN = (
    "My {p} stopped working after {n} days. Support won't help.",
    "{p} arrived {n} days late and the box was damaged.",
    "Still waiting for my refund for the {p}, {n} weeks now.",
    "{p} {feature} is way worse than advertised.",
)
POSITIVE_ZH = (
    "{p}{feature}比想象中好，推荐！",
    "{p}用了{n}天，很满意",
    "{p}物流很快，第二天就到了，好评",
    "{p}性价比很高，给家里也买了一台",
    "{p}客服很耐心，{n}分钟就解决了",
)
POSITIVE_EN = ("Really happy with the {p}, the {feature} is great.", "{p} support sorted it out in {n} minutes!")
NEUTRAL_ZH = ("{p}有人用过吗？{feature}怎么样", "纠结要不要入{p}，等活动再看看", "{p}和别家比各有优缺点")
NEUTRAL_EN = ("Is the {p} worth it?", "Anyone compared the {p} with last year's model?")
PROMO_ZH = (
    "{p}双11活动力度太大了，抢到了！",
    "{p}直播间福利真好，已下单[赞]",
    "终于等到{p}降价，冲！好评",
    "{p}活动价太香了，推荐大家入",
)
FAULTS = ("卡顿", "连不上网", "充不进电", "有异响", "死机", "掉色")
FEATURES = ("续航", "做工", "吸力", "屏幕", "味道", "质感", "battery", "build quality")

VIRAL_ZH = ("{b}空气炸锅用了一周就冒烟起火，差点把厨房烧了！客服还说是我使用不当，大家千万别买",)
VIRAL_REPOST = ("转发微博：太吓人了！", "转发：已经退货了", "千万别买", "起火也太可怕了", "扩散！", "求官方回应")
VIRAL_COPY_ZH = (
    "{b}空气炸锅冒烟起火，差点把厨房烧了，客服还说是使用不当！大家千万别买",
    "看到有人说{b}空气炸锅起火了，我家这台也有焦味，不敢用了",
    "{b}空气炸锅起火事件，客服说是使用不当？太离谱了",
    "扩散：{b}空气炸锅用一周就冒烟起火，客服甩锅使用不当",
)
VIRAL_COPY_EN = (
    "A {b} air fryer caught fire after a week and support blamed the user. Don't buy it.",
    "Reports of {b} air fryers catching fire in China, support says it's misuse",
)
NAMES_ZH = ("小鱼", "阿杰", "橙子", "豆豆", "木木", "七七", "晴天", "大白", "团子", "柚子", "阿宁", "糖糖")
NAMES_EN = ("otter", "fox", "panda", "dev", "maker", "nomad", "owl", "lark")


@dataclass(frozen=True)
class Scenario:
    """The key instants and ids of a replay, for tests and demos (all aware datetimes)."""

    seed: int
    start: datetime
    end: datetime
    steady_days: int
    brands: tuple[str, ...]
    promotion_brand: str
    promotion_start: datetime
    promotion_end: datetime
    bad_hour_brand: str
    bad_hour_start: datetime
    bad_hour_end: datetime
    viral_brand: str
    viral_start: datetime  # the big account's post is published
    viral_mention_id: str  # that post (also the cluster id of its reposts and most copies)
    viral_author: str
    viral_followers: int
    documents: int


@dataclass
class _Post:
    platform: str
    source_id: str
    text: str
    brand: str
    product: str | None
    published: datetime
    author: str
    author_id: str
    followers: int
    label: str
    final: tuple[int, int, int]  # likes, reposts, comments the post would reach
    tau_minutes: float  # how fast it gets there
    lang: str = "zh"
    cluster_of: str | None = None  # mention id of the original (reposts, copies)
    repost_of: str | None = None  # the original's source id (same platform only)
    hot: bool = False  # revisited every 15 minutes throughout (a post everyone watches)
    rating: float | None = None


class _Builder:
    def __init__(self, seed: int, end: datetime):
        self.rng = random.Random(seed)
        self.end = end
        self.posts: list[_Post] = []
        self.n = 0
        self.authors: dict[str, list[tuple[str, str, int]]] = {}

    def sid(self) -> str:
        self.n += 1
        return f"rp{self.n:07d}"

    def followers(self) -> int:
        f = int(math.exp(self.rng.gauss(5.5, 1.6)))
        return max(f, 0)

    def author(self, platform: str, fresh: bool = False) -> tuple[str, str, int]:
        """Ordinary authors come back now and then; `fresh` draws someone new."""
        pool = self.authors.setdefault(platform, [])
        if pool and not fresh and self.rng.random() < 0.3:
            return self.rng.choice(pool)
        zh = platform != "reddit"
        i = len(pool)
        name = f"{self.rng.choice(NAMES_ZH)}{i}" if zh else f"{self.rng.choice(NAMES_EN)}_{i}"
        who = (name, f"{platform}-u{i}", self.followers())
        pool.append(who)
        return who

    def ordinary_final(self, followers: int, label: str) -> tuple[int, int, int]:
        """Engagement grows sub-linearly with followers; capped luck, so a steady day has no runaway post."""
        luck = min(math.exp(self.rng.gauss(0, 0.7)), 3.0)
        base = (max(followers, 1) ** 0.6) * 0.05 * luck
        reposts = int(base)
        comments = int(base * (0.8 if label == "negative" else 0.5))
        likes = int(base * 3)
        return likes, reposts, comments

    def text(self, platform: str, label: str, brand: str, product: str) -> tuple[str, str]:
        rng = self.rng
        en = platform == "reddit"
        pool = {
            ("negative", False): NEGATIVE_ZH, ("negative", True): NEGATIVE_EN,
            ("positive", False): POSITIVE_ZH, ("positive", True): POSITIVE_EN,
            ("neutral", False): NEUTRAL_ZH, ("neutral", True): NEUTRAL_EN,
        }[label, en]  # fmt: skip
        text = rng.choice(pool).format(
            p=product, n=rng.randint(2, 9), fault=rng.choice(FAULTS), feature=rng.choice(FEATURES)
        )
        return text, "en" if en else "zh"

    def ordinary(self, at: datetime, brand: str, label: str, pool: tuple[str, ...] | None = None) -> _Post:
        rng = self.rng
        platform = rng.choices(PLATFORMS, PLATFORM_WEIGHTS)[0]
        product = rng.choice(PRODUCTS[brand])
        if pool:
            text, lang = rng.choice(pool).format(p=product), "zh"
            platform = "weibo" if platform == "reddit" else platform
        else:
            text, lang = self.text(platform, label, brand, product)
        name, aid, followers = self.author(platform)
        post = _Post(
            platform=platform, source_id=self.sid(), text=text, brand=brand, product=product, published=at,
            author=name, author_id=aid, followers=followers, label=label,
            final=self.ordinary_final(followers, label), tau_minutes=rng.uniform(90, 300), lang=lang,
            rating={"negative": 1.0, "neutral": 3.0, "positive": 5.0}[label] if platform == "jd" else None,
        )  # fmt: skip
        self.posts.append(post)
        return post

    def repost(self, original: _Post, at: datetime, text: str, label: str) -> _Post:
        name, aid, followers = self.author(original.platform, fresh=True)
        post = _Post(
            platform=original.platform, source_id=self.sid(), text=text, brand=original.brand,
            product=original.product, published=at, author=name, author_id=aid, followers=followers, label=label,
            final=(self.rng.randint(0, 3), self.rng.randint(0, 1), self.rng.randint(0, 2)), tau_minutes=60,
            lang=original.lang, cluster_of=mapping.doc_id(original.platform, original.source_id),
            repost_of=original.source_id,
        )  # fmt: skip
        self.posts.append(post)
        return post


def _rate(at: datetime) -> float:
    local = at.astimezone(CST)
    return HOURLY[local.hour] * (WEEKEND if local.weekday() >= 5 else 1.0)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def build(seed: int = SEED, size: int = 30_000, steady_days: int = 5) -> tuple[Scenario, list[dict[str, Any]]]:
    """The scenario and its mention documents (about `size` of them, final as of the scenario's end)."""
    if steady_days < 4:
        raise ValueError(f"steady_days: the story needs at least 4 days (got {steady_days})")
    start = START
    viral_start = start + timedelta(days=steady_days, hours=12, minutes=20)
    end = viral_start + timedelta(hours=4)
    promo = (start + timedelta(days=2, hours=19), start + timedelta(days=2, hours=23))
    bad = (start + timedelta(days=3, hours=12), start + timedelta(days=3, hours=13))
    b = _Builder(seed, end)
    rng = b.rng
    viral_extra = 700  # reposts, copies and paraphrases of the viral post
    minutes = int((end - start).total_seconds() // 60)
    weight = sum(_rate(start + timedelta(minutes=m)) for m in range(0, minutes, 10)) * 10
    per_minute = max(size - viral_extra - 400, 1000) / weight  # mentions per minute at profile 1.0

    t = start
    step = timedelta(minutes=10)
    # days differ a little, as real ones do (weather, news, paydays)
    mood = {(d, brand): rng.gauss(1.0, 0.08) for d in range(steady_days + 2) for brand in BRANDS}
    while t < end:
        for brand, share in BRANDS.items():
            lam = per_minute * 10 * share * _rate(t) * mood[(t - start).days, brand]
            labels = list(SENTIMENT_WEIGHTS)
            weights = list(SENTIMENT_WEIGHTS.values())
            for _ in range(_poisson(rng, lam)):
                at = t + timedelta(seconds=rng.uniform(0, 600))
                post = b.ordinary(at, brand, rng.choices(labels, weights)[0])
                if post.label != "neutral" and rng.random() < 0.03:
                    # an ordinary repost or two
                    for _ in range(rng.randint(1, 2)):
                        later = at + timedelta(minutes=rng.uniform(5, 120))
                        if later < end and post.platform == "weibo":
                            b.repost(post, later, f"转发微博 //@{post.author}: {post.text}", post.label)
            if brand == "Lumio" and promo[0] <= t < promo[1]:
                for _ in range(_poisson(rng, 2 * lam)):
                    b.ordinary(t + timedelta(seconds=rng.uniform(0, 600)), brand, "positive", PROMO_ZH)
            if brand == "北辰" and bad[0] <= t < bad[1]:
                for _ in range(_poisson(rng, BAD_HOUR * lam * SENTIMENT_WEIGHTS["negative"])):
                    b.ordinary(t + timedelta(seconds=rng.uniform(0, 600)), brand, "negative")
        t += step

    # the promotion's official giveaway post, reposted by hundreds (praise, not a complaint)
    official = _Post(
        platform="weibo", source_id=b.sid(), text="Lumio双11狂欢：转发本条抽10位送Lumio X3，活动价立减500！",
        brand="Lumio", product="Lumio X3", published=promo[0] + timedelta(minutes=5), author="Lumio官方微博",
        author_id="weibo-lumio-official", followers=2_400_000, label="positive", final=(9000, 6000, 1500),
        tau_minutes=60, hot=True,
    )  # fmt: skip
    b.posts.append(official)
    for _ in range(350):
        age = -60 * math.log(1 - rng.random() * (1 - math.exp(-4)))
        b.repost(official, official.published + timedelta(minutes=age), "转发抽奖，好运来！Lumio X3 冲", "positive")

    # the viral complaint
    brand = "北辰"
    big = _Post(
        platform="weibo", source_id=b.sid(), text=VIRAL_ZH[0].format(b=brand), brand=brand, product="北辰空气炸锅",
        published=viral_start, author="吃货日记本", author_id="weibo-chihuo", followers=3_200_000, label="negative",
        final=(11000, 6000, 2100), tau_minutes=45, hot=True,
    )  # fmt: skip
    b.posts.append(big)
    big_id = mapping.doc_id(big.platform, big.source_id)
    horizon = (end - viral_start).total_seconds() / 60

    def spread_age(tau: float) -> float:
        """Minutes after the post, following its repost curve (most of it in the first hours)."""
        return -tau * math.log(1 - rng.random() * (1 - math.exp(-horizon / tau)))

    for _ in range(400):
        b.repost(big, viral_start + timedelta(minutes=spread_age(45)),
                 f"{rng.choice(VIRAL_REPOST)} //@{big.author}: {big.text}", "negative")  # fmt: skip
    for i in range(300):
        platform = rng.choice(("xiaohongshu", "bilibili", "jd", "reddit", "weibo"))
        at = viral_start + timedelta(minutes=5 + spread_age(60))
        pool = VIRAL_COPY_EN if platform == "reddit" else VIRAL_COPY_ZH
        name, aid, followers = b.author(platform, fresh=True)
        copy = _Post(
            platform=platform, source_id=b.sid(), text=rng.choice(pool).format(b=brand), brand=brand,
            product="北辰空气炸锅", published=at, author=name, author_id=aid, followers=followers, label="negative",
            final=b.ordinary_final(followers, "negative"), tau_minutes=90,
            lang="en" if platform == "reddit" else "zh",
            cluster_of=big_id if i % 5 else None,  # a paraphrase now and then is not recognised as a copy
        )  # fmt: skip
        b.posts.append(copy)

    posts = [p for p in b.posts if p.published < end]
    docs = [_document(p, end, rng) for p in posts]
    scenario = Scenario(
        seed=seed, start=start, end=end, steady_days=steady_days, brands=tuple(BRANDS),
        promotion_brand="Lumio", promotion_start=promo[0], promotion_end=promo[1],
        bad_hour_brand="北辰", bad_hour_start=bad[0], bad_hour_end=bad[1],
        viral_brand=brand, viral_start=viral_start, viral_mention_id=big_id, viral_author=big.author,
        viral_followers=big.followers, documents=len(docs),
    )  # fmt: skip
    return scenario, docs


def _observations(p: _Post, end: datetime, rng: random.Random) -> list[tuple[datetime, tuple[int, int, int]]]:
    """What a crawler visiting every 15 minutes (hourly after six hours; hot posts always every 15) recorded,
    one observation per change of the counts."""
    first = p.published + timedelta(minutes=rng.uniform(1, 15))
    stop = min(end, p.published + timedelta(hours=HISTORY_HOURS))
    out: list[tuple[datetime, tuple[int, int, int]]] = []
    t = first
    while t <= stop:
        age = (t - p.published).total_seconds() / 60
        grown = 1 - math.exp(-age / p.tau_minutes)
        counts = (int(p.final[0] * grown), int(p.final[1] * grown), int(p.final[2] * grown))
        if not out or counts != out[-1][1]:
            out.append((t, counts))
        t += timedelta(minutes=15 if p.hot or age < 360 else 60)
    return out[-mapping.HISTORY_LIMIT :]


def _document(p: _Post, end: datetime, rng: random.Random) -> dict[str, Any]:
    from pipelines.complaints import tag

    tags = tag(p.text, brand=p.brand)
    obs = _observations(p, end, rng)
    crawled, (likes, reposts, comments) = obs[-1] if obs else (end, (0, 0, 0))
    low, high = SCORES[p.label]
    m = Mention(
        platform=p.platform, text=p.text, published_at=p.published, source_id=p.source_id,
        url=f"https://{p.platform}.example/{p.source_id}", author=p.author, author_id=p.author_id,
        author_followers=p.followers, brand=p.brand, product=p.product, rating=p.rating, crawled_at=crawled,
        likes=likes, reposts=reposts, comments=comments, repost_of=p.repost_of, lang=p.lang,
        sentiment_score=round(rng.uniform(low, high), 4), sentiment_label=p.label,
        complaint_categories=[*tags.categories, *tags.subcategories], complaint_phrases=list(tags.phrases),
        complaint_severity=tags.severity, is_complaint=bool(tags.categories) and p.label == "negative",
    )  # fmt: skip
    doc = mapping.to_document(m)
    doc["cluster_id"] = p.cluster_of or doc["mention_id"]
    mapping.mark_founder(doc)  # as the writer does: how a stored cluster is found
    if obs:
        doc["engagement_history"] = [
            {"crawled_at": mapping._iso(t), "likes": c[0], "reposts": c[1], "comments": c[2]} for t, c in obs
        ]
        doc["first_seen_at"] = mapping._iso(obs[0][0])
    return doc


def index(es: Elasticsearch, prefix: str, docs: list[dict[str, Any]], chunk: int = 2000) -> int:
    """Bulk-write final documents (template first), then refresh; returns how many were written."""
    ensure_schema(es, prefix)

    def actions() -> Iterator[dict[str, Any]]:
        for d in docs:
            yield {"_op_type": "index", "_index": mapping.index_of(d, prefix), "_id": d["mention_id"],
                   "_source": mapping.stored_form(d)}  # as the writer sends it

    ok, errors = helpers.bulk(es, actions(), chunk_size=chunk, max_chunk_bytes=50 * 1024 * 1024, stats_only=True)
    if errors:
        raise RuntimeError(f"replay: {errors} documents were rejected by Elasticsearch")
    es.indices.refresh(index=mapping.alias(prefix))
    return ok


def observed_by(docs: list[dict[str, Any]], at: datetime) -> list[dict[str, Any]]:
    """The documents as the crawler had stored them by `at`: only posts first seen by then, each with its
    engagement history cut at `at` (counts and crawl time of the last observation by then)."""
    out = []
    for d in docs:
        history = [o for o in d["engagement_history"] if _at(o["crawled_at"]) <= at]
        if not history:
            continue
        last = history[-1]
        out.append({**d, "engagement_history": history, "crawled_at": last["crawled_at"], "likes": last["likes"],
                    "reposts": last["reposts"], "comments": last["comments"],
                    "engagement": last["likes"] + last["reposts"] + last["comments"]})
    return out


def crawled_between(docs: list[dict[str, Any]], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """What crawls in (start, end] brought, in crawl order: one document per observation, as a crawl writes it
    (the post with that visit's counts and crawl time), for the writer to create or merge."""
    out = []
    for d in docs:
        for o in d["engagement_history"]:
            if start < _at(o["crawled_at"]) <= end:
                out.append({**d, "engagement_history": [o], "crawled_at": o["crawled_at"],
                            "first_seen_at": o["crawled_at"], "likes": o["likes"], "reposts": o["reposts"],
                            "comments": o["comments"], "engagement": o["likes"] + o["reposts"] + o["comments"]})
    out.sort(key=lambda x: (x["crawled_at"], x["mention_id"]))
    return out


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def load(es: Elasticsearch, prefix: str, seed: int = SEED, size: int = 30_000, steady_days: int = 5) -> Scenario:
    """Build and index the replay under `prefix`."""
    scenario, docs = build(seed=seed, size=size, steady_days=steady_days)
    index(es, prefix, docs)
    return scenario


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)
