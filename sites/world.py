"""The generated world: per platform and keyword, a seeded stream of posts that appear as the clock advances,
with engagement counts that grow with age. Everything is a pure function of (seed, keyword, index, now), so two
simulators with the same seed and clock answer byte for byte the same."""

from __future__ import annotations

import random
import threading
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sites import texts
from sites.clock import SimClock


@dataclass(frozen=True)
class Cadence:
    history: int  # posts already there at the start instant
    gap: float  # simulated minutes between new posts
    en_share: float  # fraction of posts in English


CADENCE: dict[str, Cadence] = {
    "weibo": Cadence(history=42, gap=15, en_share=0.1),
    "bilibili": Cadence(history=45, gap=60, en_share=0.05),
    "reddit": Cadence(history=45, gap=30, en_share=0.85),
    "jd": Cadence(history=33, gap=45, en_share=0.0),
    "xiaohongshu": Cadence(history=40, gap=30, en_share=0.0),
    "reviews": Cadence(history=25, gap=120, en_share=0.5),
}
KINDS = ("negative", "positive", "neutral", "unrelated")
KIND_WEIGHTS = (0.4, 0.3, 0.12, 0.18)


@dataclass(frozen=True)
class Author:
    id: int
    name: str
    followers: int


@dataclass(frozen=True)
class Growth:
    """A count that starts at `base` and gains `rate` per simulated minute of the post's age."""

    base: int
    rate: float

    def at(self, age_minutes: float) -> int:
        return self.base + int(self.rate * max(0.0, age_minutes))


@dataclass(frozen=True)
class Post:
    platform: str
    key: str  # the search keyword, or the product for review-style sites
    index: int
    id: int
    created: datetime
    text: str
    lang: str
    kind: str
    author: Author
    likes_g: Growth
    comments_g: Growth
    shares_g: Growth
    rating: int
    repost_of: Post | None = None
    viral: bool = False

    def age(self, now: datetime) -> float:
        return (now - self.created).total_seconds() / 60

    def likes(self, now: datetime) -> int:
        return self.likes_g.at(self.age(now))

    def comments(self, now: datetime) -> int:
        return self.comments_g.at(self.age(now))

    def shares(self, now: datetime) -> int:
        return self.shares_g.at(self.age(now))

    @property
    def title(self) -> str:
        return texts.title_of(self.text)


@dataclass(frozen=True)
class Comment:
    id: int
    post: Post
    index: int
    text: str
    created: datetime
    author: Author
    likes_g: Growth
    replies: int

    def likes(self, now: datetime) -> int:
        return self.likes_g.at((now - self.created).total_seconds() / 60)


@dataclass
class ViralEvent:
    """One complaint from a big account, then a repost every `every` minutes by a different author."""

    keyword: str
    platform: str
    origin: Post
    every: float = 1.0
    max_reposts: int = 500
    reposts: dict[int, Post] = field(default_factory=dict)


def keyword_number(key: str) -> int:
    """Stable small number per keyword (Python's hash() is salted per process)."""
    return zlib.crc32(key.lower().encode()) % 1_000_000


class World:
    COMMENT_CAP = 60  # comments actually listed per post; counts may say more, as on the real sites

    def __init__(self, seed: int, clock: SimClock) -> None:
        self.seed = seed
        self.clock = clock
        self._cache: dict[tuple[str, str, int], Post] = {}
        self._lock = threading.Lock()
        self._virals: list[ViralEvent] = []
        self._product_keywords: dict[str, str] = {}
        self.origin = clock.now()

    def now(self) -> datetime:
        return self.clock.now()

    def _rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    def _created(self, platform: str, key: str, index: int) -> datetime:
        cad = CADENCE[platform]
        jitter = self._rng("t", platform, key, index).uniform(0, cad.gap * 0.8)
        exact = self.origin + timedelta(minutes=(index - cad.history) * cad.gap + jitter)
        return exact.replace(microsecond=0)

    def post(self, platform: str, key: str, index: int) -> Post:
        cache_key = (platform, key, index)
        cached = self._cache.get(cache_key)
        if cached is None:
            cached = self._cache[cache_key] = self._make_post(platform, key, index)
        return cached

    def _make_post(self, platform: str, key: str, index: int) -> Post:
        rng = self._rng("p", platform, key, index)
        cad = CADENCE[platform]
        lang = "en" if rng.random() < cad.en_share else "zh"
        kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
        if platform == "reviews" and kind == "unrelated":  # a product's own review page has no recipes
            kind = "neutral"
        keyword = self.product_keyword(key) if platform in ("jd", "reviews") else key
        text = texts.compose(rng, keyword, kind, lang)
        if platform == "jd" and kind == "unrelated":
            kind, text = "positive", "此用户未填写评价内容"
        author = self._author(rng, lang)
        low, high = {"negative": (1, 2), "neutral": (3, 3), "positive": (4, 5)}.get(kind, (3, 5))
        rating = rng.randint(low, high)
        reach = 1 + author.followers / 20_000
        repost_of = None
        if platform == "weibo" and index >= 3 and rng.random() < 0.2:
            target = self.post(platform, key, rng.randrange(max(0, index - 10), index))
            repost_of = target.repost_of or target
            text = rng.choice(("转发微博", f"同样遇到了！//@{target.author.name}: {target.text[:20]}", "扩散"))
        number = 4_900_000_000_000_000 + keyword_number(key) * 10_000_000 + index
        post_id = number if platform == "weibo" else number % 10**12
        return Post(
            platform, key, index, post_id, self._created(platform, key, index),
            text, lang, kind, author,
            likes_g=Growth(rng.randrange(0, 20), rng.uniform(0.05, 0.6) * reach),
            comments_g=Growth(rng.randrange(0, 5), rng.uniform(0.05, 0.25) * reach),
            shares_g=Growth(rng.randrange(0, 3), rng.uniform(0.02, 0.15) * reach),
            rating=rating, repost_of=repost_of,
        )

    def _author(self, rng: random.Random, lang: str) -> Author:
        followers = min(500_000, int(rng.paretovariate(1.1) * 40))
        return Author(rng.randrange(1_000_000_000, 7_999_999_999), texts.author_name(rng, lang), followers)

    def visible_count(self, platform: str, key: str) -> int:
        """How many generated posts exist at the current instant (new ones appear every `gap` minutes)."""
        cad = CADENCE[platform]
        elapsed = (self.now() - self.origin).total_seconds() / 60
        n = max(0, cad.history + int(elapsed // cad.gap) + 1)
        while n > 0 and self._created(platform, key, n - 1) > self.now():
            n -= 1
        return n

    def posts(self, platform: str, key: str) -> list[Post]:
        """Everything visible now, newest first (what a `sort=new` search lists)."""
        now = self.now()
        found = [self.post(platform, key, i) for i in range(self.visible_count(platform, key))]
        for event in self._events(platform, key):
            found.extend(p for p in self._viral_posts(event) if p.created <= now)
        return sorted(found, key=lambda p: (p.created, p.id), reverse=True)

    def find(self, platform: str, post_id: int) -> Post | None:
        """A post by id among those generated or listed so far (comment endpoints are keyed by id only)."""
        for post in list(self._cache.values()):
            if post.platform == platform and post.id == post_id:
                return post
        for event in list(self._virals):
            if event.platform == platform:
                for p in [event.origin, *self._viral_posts(event)]:
                    if p.id == post_id:
                        return p
        return None

    def cached(self, platform: str) -> list[Post]:
        """The posts of a platform generated (listed) so far."""
        return [p for p in list(self._cache.values()) if p.platform == platform]

    def author(self, platform: str, author_id: int) -> Author | None:
        """An author by id among the posts generated so far (profile endpoints are keyed by id only)."""
        for post in list(self._cache.values()):
            if post.platform == platform and post.author.id == author_id:
                return post.author
        for event in list(self._virals):
            if event.platform == platform:
                for p in [event.origin, *self._viral_posts(event)]:
                    if p.author.id == author_id:
                        return p.author
        return None

    def comments(self, post: Post) -> list[Comment]:
        """Visible comments, hottest first (the default order of both Weibo hotflow and Bilibili mode=3)."""
        now = self.now()
        count = min(post.comments(now), self.COMMENT_CAP)
        out = []
        for j in range(count):
            rng = self._rng("c", post.platform, post.id, j)
            lang = "en" if rng.random() < 0.15 else "zh"
            created = min(post.created + timedelta(minutes=2 * (j + 1)), now)
            out.append(Comment(
                id=post.id % 10**10 * 100 + j + 5_000_000_000_000, post=post, index=j,
                text=rng.choice(texts.COMMENTS[post.kind]), created=created, author=self._author(rng, lang),
                likes_g=Growth(rng.randrange(0, 10), rng.uniform(0.0, 0.3)), replies=rng.randrange(0, 4),
            ))
        return sorted(out, key=lambda c: (-c.likes(now), c.index))

    # --- the viral scenario -------------------------------------------------------------------------------

    def inject_viral(self, keyword: str, platform: str = "weibo", text: str | None = None) -> Post:
        """A complaint by a 2M-follower account, posted now, then reposted/quoted by many authors."""
        now = self.now().replace(microsecond=0)
        rng = self._rng("viral", platform, keyword, len(self._virals))
        zh = texts.chinese_name(keyword)
        body = text or f"#{zh}质量问题#新买的{zh}手机开机就黑屏，客服说是人为损坏拒绝保修，大家评评理[怒]"
        author = Author(rng.randrange(1_000_000_000, 1_999_999_999), f"数码大V{rng.randrange(10, 99)}", 2_000_000)
        minute = int(now.timestamp()) // 60 % 1_000_000  # a scenario started at another instant is another post
        origin = Post(
            platform, keyword, -1,
            4_990_000_000_000_000 + minute * 1_000_000_000 + keyword_number(keyword) * 1000 + len(self._virals),
            now, body, "zh", "negative", author,
            likes_g=Growth(50, 120.0), comments_g=Growth(10, 25.0), shares_g=Growth(20, 60.0), rating=1, viral=True,
        )
        with self._lock:
            self._virals.append(ViralEvent(keyword, platform, origin))
        return origin

    def _events(self, platform: str, key: str) -> list[ViralEvent]:
        return [e for e in list(self._virals) if e.platform == platform and e.keyword.lower() == key.lower()]

    def _viral_posts(self, event: ViralEvent) -> list[Post]:
        minutes = (self.now() - event.origin.created).total_seconds() / 60
        count = min(event.max_reposts, int(minutes / event.every))
        out = [event.origin]
        for j in range(count):
            if j not in event.reposts:
                rng = self._rng("viral-repost", event.origin.id, j)
                author = self._author(rng, "zh")
                quote = rng.choice(("转发微博", "太过分了，必须曝光！", "同样遇到，求官方回应[怒]", "扩散"))
                event.reposts[j] = Post(
                    event.platform, event.keyword, 10_000 + j, event.origin.id + 1 + j,
                    event.origin.created + timedelta(minutes=(j + 1) * event.every),
                    f"{quote}//@{event.origin.author.name}: {event.origin.text[:30]}", "zh", "negative", author,
                    likes_g=Growth(0, rng.uniform(0.5, 5.0)), comments_g=Growth(0, rng.uniform(0.1, 1.0)),
                    shares_g=Growth(0, rng.uniform(0.1, 2.0)), rating=1, repost_of=event.origin, viral=True,
                )
            out.append(event.reposts[j])
        return out

    # --- products (JD, review site) --------------------------------------------------------------------------

    def products(self, keyword: str) -> list[tuple[str, str]]:
        """(productId, name) for a keyword: three stable products whose reviews mention the keyword's brand."""
        zh = texts.chinese_name(keyword)
        names = (f"{zh} 14 Pro 5G手机 12GB+256GB", f"{zh} 真无线蓝牙耳机 降噪版", f"{zh} 智能手环8 NFC版")
        base = 100_000_000_000 + keyword_number(keyword) * 100
        found = [(str(base + j), name) for j, name in enumerate(names)]
        for pid, _ in found:
            self._product_keywords.setdefault(pid, keyword)
        return found

    def product_keyword(self, product: str) -> str:
        """Which keyword a product id (seen in a search) or slug belongs to; unknown ones name themselves."""
        if product in self._product_keywords:
            return self._product_keywords[product]
        for zh, en in texts.BRANDS.items():
            if zh in product or en.lower() in product.lower():
                return zh
            if any(pid == product for pid, _ in self.products(zh)):
                return zh
        return "商品" if product.isdigit() else product

    def product_name(self, product: str) -> str:
        for pid, name in self.products(self.product_keyword(product)):
            if pid == product:
                return name
        return product
