"""Sentiment of a mention: SnowNLP's Bayes model (retrained on e-commerce reviews) plus cheap rules around it.

Why not just `SnowNLP(text).sentiments`: `import snownlp` spends ~2 s unmarshalling its segmenter (and loads a
tagger, pinyin and a sentiment model we do not use), and its Viterbi recomputes every transition probability
through several method calls per character and copies the whole path at each step (quadratic on long runs).
Here the same segmenter counts are read from a string-keyed cache (built once from SnowNLP's own file), the
Viterbi memoises the identical `log_prob` values and keeps back-pointers, and the Bayes step repeats SnowNLP's
arithmetic in the same order, so `model_probability(text) == SnowNLP(text).sentiments` exactly for the same
model file (tests/test_sentiment.py checks it). Big batches are spread over both cores with a fork pool.

Score: probability that the text is positive, in [0, 1]. Labels: score < 0.4 negative, score > 0.6 positive,
otherwise neutral (Bayes scores are extreme on real text, so neutral mostly means "no usable evidence").
The rules (negation, intensifiers, emoji/emoticons, sarcasm, English words) move the model's log-odds;
empty or symbol-only text scores exactly 0.5, neutral.
"""

from __future__ import annotations

import gzip
import html
import importlib.util
import marshal
import math
import multiprocessing
import os
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import paths

MODEL_DIR = Path(__file__).parent / "sentiment_model"
MODEL_PATH = MODEL_DIR / "sentiment.marshal.3"  # SnowNLP's save()/load() add ".3" on Python 3
NEGATIVE_BELOW = 0.4
POSITIVE_ABOVE = 0.6
PARALLEL_MIN = 400  # below this many distinct texts, forking costs more than it saves
_SEG_CACHE_VERSION = 2
_RE_ZH = re.compile("([\u4e00-\u9fa5]+)")  # SnowNLP's own definition of a Chinese run
_TAGS = "bmes"


def _snownlp_dir() -> Path:
    """The installed snownlp package, found without importing it (the import is the 2 s we avoid)."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("snownlp is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _cache_dir() -> Path:
    return paths.cache()


class _Segmenter:
    """SnowNLP's character-based generative segmenter (seg/y09_2047.py), same numbers, cheaper bookkeeping."""

    def __init__(self, state: dict[str, Any]):
        self.l1: float = state["l1"]
        self.l2: float = state["l2"]
        self.l3: float = state["l3"]
        self.uni: dict[str, dict[str, int]] = state["uni"]  # chars -> tags -> count
        self.bi: dict[str, dict[str, int]] = state["bi"]
        self.tri: dict[str, dict[str, int]] = state["tri"]
        self.uni_total: float = state["uni_total"]

    @classmethod
    def load(cls) -> _Segmenter:
        """From the string-keyed cache when fresh; otherwise convert SnowNLP's file and try to write the cache."""
        source = _snownlp_dir() / "seg" / "seg.marshal.3"
        st = source.stat()
        cache = _cache_dir() / f"snownlp-seg-v{_SEG_CACHE_VERSION}-{st.st_size}-{int(st.st_mtime)}.marshal"
        try:
            return cls(marshal.loads(cache.read_bytes()))
        except (OSError, ValueError, EOFError, TypeError, KeyError):
            pass
        state = cls._convert(marshal.loads(gzip.decompress(source.read_bytes())))
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(marshal.dumps(state))
            tmp.replace(cache)
        except OSError:
            pass  # read-only home: still correct, just slower next time
        return cls(state)

    @staticmethod
    def _convert(d: dict[str, Any]) -> dict[str, Any]:
        """Tuple keys ((char, tag), ...) -> counts grouped by their characters, then keyed by the tag string:
        one lookup per character step instead of up to 64, and it unmarshals several times faster. Same counts."""

        def split(cts: tuple[tuple[str, str], ...]) -> tuple[str, str]:
            chars = "".join("\x00" if t == "BOS" else c for c, t in cts)
            tags = "".join("B" if t == "BOS" else t for _, t in cts)
            return chars, tags

        out: dict[str, Any] = {"l1": d["l1"], "l2": d["l2"], "l3": d["l3"], "uni_total": d["uni"]["total"]}
        for name, wrap in (("uni", True), ("bi", False), ("tri", False)):
            grouped: dict[str, dict[str, int]] = {}
            for k, v in d[name]["d"].items():
                chars, tags = split((k,) if wrap else k)
                grouped.setdefault(chars, {})[tags] = v
            out[name] = grouped
        return out

    def tag(self, run: str) -> list[str]:
        """Viterbi exactly as SnowNLP iterates (same state order, same strict '>' ties, same float sums), but
        all states of a step share their characters, so the counts are fetched once per step, and paths are
        back-pointers instead of copied lists (SnowNLP is quadratic on long runs)."""
        l1, l2, l3, total = self.l1, self.l2, self.l3, self.uni_total
        uni_g, bi_g, tri_g = self.uni, self.bi, self.tri
        log, ninf = math.log, float("-inf")
        # state: (previous tag, current tag, score, back-pointer (tag, parent) or None); "B" is SnowNLP's BOS
        now: list[tuple[str, str, float, Any]] = [("B", "B", 0.0, None)]
        c1 = c2 = "\x00"
        empty: dict[str, int] = {}
        for w in run:
            uw = uni_g.get(w, empty)
            stage: dict[tuple[str, str], tuple[float, Any]] = {}
            if not any(uw.get(t, 0) != 0 for t in _TAGS):
                for t in _TAGS:
                    for _ta, tb, score, back in now:
                        stage[(tb, t)] = (score, (t, back))  # SnowNLP overwrites unconditionally here
            else:
                u2g = uni_g.get(c2, empty)
                b23 = bi_g.get(c2 + w, empty)
                b12g = bi_g.get(c1 + c2, empty)
                t123 = tri_g.get(c1 + c2 + w, empty)
                for t in _TAGS:
                    uni = l1 * (float(uw.get(t, 0)) / total)
                    for ta, tb, score, back in now:
                        u2 = u2g.get(tb, 0)
                        bi = 0 if u2 == 0 else float(l2 * b23.get(tb + t, 0)) / u2
                        b12 = b12g.get(ta + tb, 0)
                        tri = 0 if b12 == 0 else float(l3 * t123.get(ta + tb + t, 0)) / b12
                        v = uni + bi + tri
                        p = score + (ninf if v == 0 else log(v))
                        sk = (tb, t)
                        old = stage.get(sk)
                        if old is None or p > old[0]:
                            stage[sk] = (p, (t, back))
            now = [(sk[0], sk[1], v[0], v[1]) for sk, v in stage.items()]
            c1, c2 = c2, w
        back = max(now, key=lambda x: x[2])[3]
        tags: list[str] = []
        while back is not None:
            tags.append(back[0])
            back = back[1]
        tags.reverse()
        return tags

    def words(self, sent: str) -> list[str]:
        """snownlp.seg.seg: Chinese runs through the model, everything else split on whitespace."""
        out: list[str] = []
        for s in _RE_ZH.split(sent):
            s = s.strip()
            if not s:
                continue
            if _RE_ZH.match(s):
                tmp = ""
                for ch, t in zip(s, self.tag(s), strict=True):
                    if t == "e":
                        out.append(tmp + ch)
                        tmp = ""
                    elif t in ("b", "s"):
                        if tmp:
                            out.append(tmp)
                        tmp = ch
                    else:
                        tmp += ch
                if tmp:
                    out.append(tmp)
            else:
                out.extend(w for w in (x.strip() for x in s.split()) if w)
        return out


class _Bayes:
    """snownlp.classification.bayes.Bayes.classify on a SnowNLP-saved model, same float operations."""

    def __init__(self, path: Path):
        d = marshal.loads(gzip.decompress(path.read_bytes()))
        self.total: float = d["total"]
        # class -> (counts, total, count for unseen words); dict order is the saved order, as in SnowNLP
        self.classes: dict[str, tuple[dict[str, int], float, int]] = {
            k: (v["d"], v["total"], v["none"]) for k, v in d["d"].items()
        }

    def positive(self, words: Sequence[str]) -> float:
        tmp: dict[str, float] = {}
        for k, (counts, total, none) in self.classes.items():
            acc = math.log(total) - math.log(self.total)
            for word in words:
                acc += math.log(float(counts.get(word, none)) / total)
            tmp[k] = acc
        ret: str | int = 0
        prob: float = 0
        for k in self.classes:
            now: float = 0
            try:
                for otherk in self.classes:
                    now += math.exp(tmp[otherk] - tmp[k])
                now = 1 / now
            except OverflowError:
                now = 0
            if now > prob:
                ret, prob = k, now
        return prob if ret == "pos" else 1 - prob


class _Model:
    def __init__(self, model_path: Path):
        self.seg = _Segmenter.load()
        stop = (_snownlp_dir() / "normal" / "stopwords.txt").read_text(encoding="utf-8")
        self.stop = frozenset(line.strip() for line in stop.splitlines(keepends=True))
        self.bayes = _Bayes(model_path)

    def features(self, text: str) -> list[str]:
        """Sentiment.handle: segment, drop stop words."""
        return [w for w in self.seg.words(text) if w not in self.stop]

    def probability(self, text: str) -> float:
        return self.bayes.positive(self.features(text))


_models: dict[Path, _Model] = {}
_lock = threading.Lock()


def _model(path: Path | None = None) -> _Model:
    """Lazy, once per process and model file (fork workers inherit it)."""
    key = Path(path or MODEL_PATH)
    m = _models.get(key)
    if m is None:
        with _lock:
            m = _models.get(key)
            if m is None:
                m = _models[key] = _Model(key)
    return m


def model_probability(text: str, model_path: Path | None = None) -> float:
    """The bare model's P(positive): equal to `SnowNLP(text).sentiments` with the same model file loaded."""
    return _model(model_path).probability(text)


def words(text: str) -> list[str]:
    """The word features the model sees (SnowNLP's segmentation minus its stop words)."""
    return _model().features(text)


# ---------------------------------------------------------------- rules


def _w(words: str) -> list[str]:
    return words.split()


_POS_WORDS = _w(
    "满意 喜欢 推荐 值得 好吃 好用 好看 好喝 好评 干净 新鲜 舒服 方便 划算 实惠 开心 靠谱 专业 热情 准时 及时 "
    "周到 给力 完美 美味 漂亮 安静 温馨 合适 清楚 正品 耐心 贴心 快 赞 棒 香 好 值"
)
_NEG_WORDS = _w(
    "失望 难吃 难用 难看 垃圾 糟糕 恶心 后悔 生气 投诉 退款 退货 坑人 骗人 敷衍 冷漠 油腻 发霉 变质 破损 掉色 "
    "质量差 态度差 差劲 问题 毛病 麻烦 贵 慢 差 脏 吵 烂 臭 坏 坑 骗 假 凉 冷 错"
)
_NEGATORS = "一点也不|一点都不|不是很|不怎么|并不|毫不|从不|没有|不太|不|没|别|无|未"
_DEGREE = "非常|特别|相当|十分|超级|极其|很|太|超|挺|真|好|最|够|那么|这么|怎么|算|是|再|会|大"
_INTENSIFIERS = "非常|特别|相当|十分|超级|极其|很|太|超|挺|真的|真|最"

# Fixed phrases (checked first, then blanked so the negation scan does not misread them): polarity weight.
_PHRASES: dict[str, float] = {
    "不错": 1.0, "没得说": 1.2, "没话说": 1.2, "无可挑剔": 1.5, "不愧": 0.8, "没毛病": 1.2, "没问题": 0.8,
    "不失望": 1.0, "不后悔": 1.0, "无敌": 0.8, "物超所值": 1.2,
    "无语": -1.5, "不行": -1.2, "不值": -1.2, "不怎么样": -1.5, "不推荐": -1.8, "别买": -2.0, "千万别": -2.0,
    "再也不": -1.8, "不会再": -1.5, "还没到": -1.0, "还没送到": -1.2, "没人理": -1.2, "不理人": -1.2,
    "差评": -2.0, "避雷": -2.0, "踩雷": -1.8, "智商税": -1.5, "一般般": -0.6, "不好意思": 0.0, "不得不说": 0.0,
}  # fmt: skip
_PHRASE_RE = re.compile("|".join(sorted(map(re.escape, _PHRASES), key=len, reverse=True)))
_POLAR: dict[str, float] = {**dict.fromkeys(_POS_WORDS, 1.0), **dict.fromkeys(_NEG_WORDS, -1.0)}
_WORD_ALT = "|".join(sorted(map(re.escape, _POLAR), key=len, reverse=True))
_NEGATED_RE = re.compile(f"({_NEGATORS})({_DEGREE})?({_WORD_ALT})")
_INTENSE_RE = re.compile(f"({_INTENSIFIERS})({_WORD_ALT})")

_EMOTICONS: dict[str, float] = {
    **dict.fromkeys(
        _w(
            "哈哈 嘻嘻 爱你 心 赞 good 鼓掌 偷笑 太开心 笑cry 耶 酷 威武 给力 憧憬 亲亲 可爱 花心 礼物 好爱哦 馋嘴 "
            "挤眼 赞啊 哇 喜 开心 ok 加油 握手 作揖 抱抱 好喜欢 棒"
        ),
        1.0,
    ),
    **dict.fromkeys(
        _w(
            "怒 泪 抓狂 衰 哼 鄙视 吐 生病 失望 委屈 伤心 晕 汗 怒骂 弱 悲伤 哭 伤心 心碎 鄙视 白眼 黑线 费解 "
            "允悲 悲催 疑问 可怜 打脸 左哼哼 右哼哼 拜拜 嫌弃 吃惊 困 裂开 无语 微笑"
        ),
        -1.0,
    ),
}
_EMOTICONS["微笑"] = -0.6  # on Weibo [微笑] is mostly passive-aggressive
_EMOTICON_RE = re.compile(r"\[([^\[\]\s]{1,8})\]")

_EMOJI: dict[str, float] = {
    **dict.fromkeys(_w("👍 👏 😀 😃 😄 😁 😆 😊 ☺ 😍 🥰 😘 😋 😎 🤩 🥳 🎉 💯 ❤ ♥ 💕 💖 💗 💓 🌹 🙌 👌 ✌ 🤗 😻"), 1.0),
    **dict.fromkeys(_w("👎 😡 😠 🤬 😤 😢 😭 😞 😔 😩 😫 😒 🙄 😑 😣 😖 😓 😰 🤮 🤢 💔 😾 💩 😟 🙁 ☹ 😪"), -1.0),
}
_ASCII_FACES: dict[str, float] = {":)": 0.8, ":-)": 0.8, ":D": 1.0, "^_^": 0.8, "^^": 0.6, ":(": -1.0, ":-(": -1.0,
                                  "T_T": -1.0, "TAT": -1.0, "QAQ": -1.0, "-_-": -0.6, "=_=": -0.6}  # fmt: skip
_EMOJI_RE = re.compile("|".join(map(re.escape, sorted(_EMOJI, key=len, reverse=True))))
_ASCII_RE = re.compile("|".join(map(re.escape, sorted(_ASCII_FACES, key=len, reverse=True))))

_EN_POS = set(_w("good great love loved excellent awesome nice perfect recommend amazing happy best fast fantastic"))
_EN_NEG = set(
    _w(
        "bad terrible awful worst hate broken refund disappointed disappointing poor slow scam fake dirty rude "
        "horrible useless cold late wrong"
    )
)
_EN_RE = re.compile(r"[A-Za-z']+")
_EN_NEGATORS = {"not", "no", "never", "don't", "didn't", "isn't", "wasn't", "doesn't", "won't", "hardly", "nothing"}

_SARCASM_PRAISE = re.compile(
    r"(真是|可真|还真|真)(是)?(太)?(好|棒|厉害|行|牛|不错|有你的|快|及时|贴心)(极了|啊|呢|哦|呀|了)"
)
_SARCASM_CUES = re.compile(r"呵呵|又|等了|居然|竟然|结果|。。|\.\.\.|…|!!|！！|服了")
_HEHE = re.compile(r"呵呵")
_HTML_TAG = re.compile(r"<[^<>]{0,300}>")
_URL = re.compile(r"https?://\S+")
_MEANINGFUL = re.compile(r"\w")  # letters, digits, CJK: anything the model or the rules can read

_RULE_CAP = 4.0  # total rule shift in log-odds, either way
_MODEL_CAP = 8.0  # model log-odds are clamped so a strong rule can still move a long text a little


@dataclass(frozen=True)
class Sentiment:
    """One text's sentiment: P(positive) after rules, its label, and which rules fired (for audit and tuning)."""

    score: float
    label: str
    rules: tuple[str, ...] = ()


def label_for(score: float) -> str:
    if score < NEGATIVE_BELOW:
        return "negative"
    if score > POSITIVE_ABOVE:
        return "positive"
    return "neutral"


def _clean(text: str) -> str:
    """HTML left by scrapers and URLs carry no sentiment but would become model features."""
    if "<" in text or "&" in text:
        text = _HTML_TAG.sub(" ", html.unescape(text))
    return _URL.sub(" ", text)


def _signals(text: str) -> tuple[str, float, list[str]]:
    """Text for the model (emoticons/emoji removed so they do not count twice), rule shift, rule names."""
    shift = 0.0
    fired: list[str] = []

    def emoticon(m: re.Match[str]) -> str:
        nonlocal shift
        w = _EMOTICONS.get(m.group(1)) or _EMOTICONS.get(m.group(1).lower())
        if w is None:
            return m.group(0)
        shift += 1.2 * w
        fired.append(f"emoticon:[{m.group(1)}]")
        return " "

    text = _EMOTICON_RE.sub(emoticon, text)
    for pattern, table, name in ((_EMOJI_RE, _EMOJI, "emoji"), (_ASCII_RE, _ASCII_FACES, "face")):
        hits = pattern.findall(text)
        if hits:
            for h in hits:
                shift += 1.2 * table[h]
                fired.append(f"{name}:{h}")
            text = pattern.sub(" ", text)

    # Sarcasm first: praise next to a complaint cue is a complaint, and it silences the praise below.
    sarcastic = False
    if _HEHE.search(text):
        shift -= 1.5
        fired.append("sarcasm:呵呵")
        sarcastic = True
    m = _SARCASM_PRAISE.search(text)
    if m and (_SARCASM_CUES.search(text) or shift < 0 or _NEGATED_RE.search(text)):
        shift -= 2.5
        fired.append(f"sarcasm:{m.group(0)}")
        sarcastic = True

    scan = text
    for p in _PHRASE_RE.findall(scan):
        w = _PHRASES[p]
        if w and not (sarcastic and w > 0):
            shift += w
            fired.append(f"phrase:{p}")
    scan = _PHRASE_RE.sub("，", scan)
    for neg, degree, word in _NEGATED_RE.findall(scan):
        w = -_POLAR[word] * (1.5 if _POLAR[word] > 0 else 0.8)  # "not good" is clearly bad; "not slow" is mild
        shift += w
        fired.append(f"negation:{neg}{degree}{word}")
    scan = _NEGATED_RE.sub("，", scan)
    for degree, word in _INTENSE_RE.findall(scan):
        w = 0.8 * _POLAR[word]
        if not (sarcastic and w > 0):
            shift += w
            fired.append(f"intensifier:{degree}{word}")

    tokens = [t.lower() for t in _EN_RE.findall(text)]
    for i, t in enumerate(tokens):
        pol = 1.0 if t in _EN_POS else -1.0 if t in _EN_NEG else 0.0
        if pol:
            if any(x in _EN_NEGATORS for x in tokens[max(0, i - 3) : i]):
                pol = -pol * (1.5 if pol > 0 else 0.8)
                fired.append(f"en-negation:{t}")
            else:
                fired.append(f"en:{t}")
            shift += pol
    return text, max(-_RULE_CAP, min(_RULE_CAP, shift)), fired


def _combine(p: float, shift: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    z = max(-_MODEL_CAP, min(_MODEL_CAP, math.log(p / (1 - p)))) + shift
    return 1 / (1 + math.exp(-z))


def analyse(text: str | None) -> Sentiment:
    """Score, label and fired rules for one text; never raises on odd input (None, empty, symbols, huge)."""
    if not text:
        return Sentiment(0.5, "neutral", ("empty",))
    text = _clean(str(text))
    model_text, shift, fired = _signals(text)
    if not _MEANINGFUL.search(model_text):
        if not fired:
            return Sentiment(0.5, "neutral", ("empty",))
        p = 0.5  # emoji/emoticons only: the model has nothing to read, the rules decide
    elif not _RE_ZH.search(model_text):
        p = 0.5  # no Chinese: the model only knows Chinese words, and unknown tokens skew its prior
        fired.append("no-chinese")
    else:
        p = model_probability(model_text)
    s = round(_combine(p, shift), 6)
    return Sentiment(s, label_for(s), tuple(fired))


def score(text: str | None) -> float:
    """P(positive) in [0, 1] after rules."""
    return analyse(text).score


def analyse_many(texts: Iterable[str | None], processes: int | None = None) -> list[Sentiment]:
    """analyse() over many texts; distinct texts are spread over all cores (fork pool) when there are enough."""
    items = list(texts)
    unique = list(dict.fromkeys(t or "" for t in items))
    procs = processes or os.cpu_count() or 1
    if procs > 1 and len(unique) >= PARALLEL_MIN and "fork" in multiprocessing.get_all_start_methods():
        _model()  # load once in the parent; children inherit it copy-on-write
        with multiprocessing.get_context("fork").Pool(procs) as pool:
            results = pool.map(analyse, unique, chunksize=max(16, len(unique) // (procs * 8)))
    else:
        results = [analyse(t) for t in unique]
    by_text = dict(zip(unique, results, strict=True))
    return [by_text[t or ""] for t in items]


def score_many(texts: Iterable[str | None], processes: int | None = None) -> list[float]:
    """score() over many texts, both cores for large batches."""
    return [s.score for s in analyse_many(texts, processes)]


class SentimentPipeline:
    """Scrapy item pipeline: fills `sentiment_score` and `sentiment_label` on a Mention (model loaded lazily)."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> SentimentPipeline:
        return cls()

    def process_item(self, item: Any) -> Any:
        s = analyse(getattr(item, "text", "") or "")
        item.sentiment_score = s.score
        item.sentiment_label = s.label
        return item

    def process_batch(self, items: list[Any]) -> list[Any]:
        """Many items at once, on all cores (`groundswell ingest` feeds the chain in batches)."""
        for item, s in zip(items, analyse_many([getattr(i, "text", "") or "" for i in items]), strict=True):
            item.sentiment_score = s.score
            item.sentiment_label = s.label
        return items
