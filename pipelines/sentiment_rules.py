"""Hand-written sentiment rules: negation, intensifiers, fixed phrases, emoticons and emoji, sarcasm, English words.

They return a shift in log-odds; the model (pipelines/sentiment.py) adds it with a weight the trainer fits, so
how much the rules count is decided on data, and the rules still cover what the training data lacks (English,
emoji-only posts). They also name what fired, for audit and tuning.
"""

from __future__ import annotations

import html
import re


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
    "少送": -1.5, "漏送": -1.5, "送错": -1.2, "少给": -1.2, "漏发": -1.2,
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
MEANINGFUL = re.compile(r"\w")  # letters, digits, CJK: anything the model or the rules can read

RULE_CAP = 4.0  # total rule shift in log-odds, either way


def clean(text: str) -> str:
    """HTML left by scrapers and URLs carry no sentiment but would become model features."""
    if "<" in text or "&" in text:
        text = _HTML_TAG.sub(" ", html.unescape(text))
    return _URL.sub(" ", text)


def signals(text: str) -> tuple[str, float, list[str]]:
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
    return text, max(-RULE_CAP, min(RULE_CAP, shift)), fired


def rule_shift(text: str) -> float:
    """The rules' log-odds shift for a raw text (the trainer fits how much of it to use)."""
    return signals(clean(text))[1]
