"""Text -> hashed feature buckets, shared by the trainer and the scorer so both see exactly the same features.

Features (each hashed into one of 2**BITS buckets, no vocabulary to load):
- character 1-, 2- and 3-grams of the cleaned text (NFKC, lower case, digits as 0), computed with numpy;
- Weibo emoticons ("[怒]", "[允悲]") as whole tokens, taken out of the character stream;
- reposts ("own comment //@user: quoted text"): the quoted chain's n-grams go to their own buckets (a salt), so
  the model can tell the reposter's words from the words they quote.

Hashing: a 64-bit multiply-xorshift mix of code points (deterministic across processes, unlike `hash(str)`),
top BITS bits as the bucket. Collisions cost a little accuracy; in exchange the model is a flat array that
memory-maps and loads in microseconds.
"""

from __future__ import annotations

import html
import re
import threading
import unicodedata
import zlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

BITS = 20
DIM = 1 << BITS
_SHIFT = np.uint64(64 - BITS)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_K = np.uint64(0x9E3779B97F4A7C15)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
SALT_OWN = 1
SALT_QUOTED = 2
SALT_TOKEN = 3

_HTML_TAG = re.compile(r"<[^<>]{0,300}>")
_URL = re.compile(r"https?://\S+|www\.\S+")
_WEIBO_MARK = re.compile(r"\{%.*?%\}")  # topics, places, videos and links, as the corpus writes them
_AT = re.compile(r"@[\w\-·]{1,30}[:：]?")
_REPOST = re.compile(r"//\s*@")
_EMOTICON = re.compile(r"\[([^\[\]\s]{1,8})\]")
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
_DEFAULT_REPOST = re.compile(r"^(转发微博|轉發微博|repost)[\s:：,，.。!！]*", re.I)
RECENT_BYTES = 8 << 20  # the recent texts' buckets kept (text and array bytes): ~5,000 short posts, a few long pages


@dataclass(frozen=True)
class Parts:
    """A text split the way the features see it."""

    own: str  # the author's own words, cleaned
    quoted: str  # what a repost quotes (after the first //@), cleaned; "" when not a repost
    emoticons: tuple[str, ...]  # "[怒]" -> "怒", in order, from own and quoted text


def clean(text: str) -> str:
    """Markup, links and Weibo's {%...%} markers carry no opinion but would become features."""
    if "<" in text or "&" in text:
        text = _HTML_TAG.sub(" ", html.unescape(text))
    text = _URL.sub(" ", text)
    if "{%" in text:
        text = _WEIBO_MARK.sub(" ", text)
    return text


def _normal(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = _DIGITS.sub("0", text)
    return _SPACE.sub(" ", text).strip()


def split_parts(text: str) -> Parts:
    """Own words vs quoted chain, emoticons pulled out, @names dropped (names are not opinions)."""
    text = clean(text)
    m = _REPOST.search(text)
    own, quoted = (text[: m.start()], text[m.end() - 1 :]) if m else (text, "")  # quoted keeps its "@"
    own = _DEFAULT_REPOST.sub("", own.strip())
    emoticons: list[str] = []

    def pull(part: str) -> str:
        emoticons.extend(_EMOTICON.findall(part))
        return _normal(_AT.sub(" ", _EMOTICON.sub(" ", part)))

    own_n = pull(own)
    quoted_n = pull(quoted) if quoted else ""
    return Parts(own_n, quoted_n, tuple(emoticons))


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser: every input bit reaches every output bit."""
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


def ngram_hashes(text: str, salt: int) -> npt.NDArray[np.uint64]:
    """64-bit hashes of the character 1-, 2- and 3-grams of one (normalised) text."""
    if not text:
        return np.empty(0, dtype=np.uint64)
    c = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    with np.errstate(over="ignore"):
        uni = _mix(c + np.uint64(salt << 32))
        out = [uni]
        if len(c) > 1:
            bi = _mix(uni[:-1] * _K + c[1:])
            out.append(bi)
            if len(c) > 2:
                out.append(_mix(bi[:-1] * _K + c[2:]))
    return np.concatenate(out)


def token_hashes(tokens: list[str] | tuple[str, ...], salt: int = SALT_TOKEN) -> npt.NDArray[np.uint64]:
    """64-bit hashes of whole tokens (emoticons, rule names, words)."""
    if not tokens:
        return np.empty(0, dtype=np.uint64)
    raw = np.array([zlib.crc32(t.encode("utf-8")) for t in tokens], dtype=np.uint64)
    with np.errstate(over="ignore"):
        return _mix(raw + np.uint64(salt << 40))


def buckets(hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    return (hashes >> _SHIFT).astype(np.int64)


def _text_buckets(text: str, extra_tokens: tuple[str, ...]) -> npt.NDArray[np.int64]:
    p = split_parts(text)
    hs = [ngram_hashes(p.own, SALT_OWN)]
    if p.quoted:
        hs.append(ngram_hashes(p.quoted, SALT_QUOTED))
    toks = [f"emo:{e}" for e in p.emoticons] + list(extra_tokens)
    if toks:
        hs.append(token_hashes(toks))
    return _distinct(buckets(np.concatenate(hs)))


def _distinct(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """np.unique(values): sorted, each once. By a sort: numpy 2's np.unique hashes first, which took three times as
    long on a text's ~150 buckets and four times on a batch's."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def many_buckets(texts: list[str]) -> list[npt.NDArray[np.int64]]:
    """text_buckets() of many texts, the same arrays, computed in a few numpy passes over all of them at once: the
    n-grams of every text's parts in one array (an n-gram spanning two parts is dropped, as the parts are hashed
    apart one text at a time), and one sort for every text's distinct buckets. One text at a time, the ~25 small
    numpy calls per text cost more than their arithmetic. Raises what text_buckets would (a lone surrogate)."""
    parts = [split_parts(t) for t in texts]
    segments: list[str] = []
    salts: list[int] = []
    owners: list[int] = []  # the text each segment belongs to
    tokens: list[str] = []
    token_owners: list[int] = []
    for i, p in enumerate(parts):
        for seg, salt in ((p.own, SALT_OWN), (p.quoted, SALT_QUOTED)):
            if seg:
                segments.append(seg)
                salts.append(salt)
                owners.append(i)
        for e in p.emoticons:
            tokens.append(f"emo:{e}")
            token_owners.append(i)
    lengths = np.array([len(seg) for seg in segments], dtype=np.int64)
    c = np.frombuffer("".join(segments).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    seg_of = np.repeat(np.arange(len(segments), dtype=np.int64), lengths)  # each code point's segment
    with np.errstate(over="ignore"):
        uni = _mix(c + (np.repeat(np.array(salts, dtype=np.uint64), lengths) << np.uint64(32)))
        bi = _mix(uni[:-1] * _K + c[1:])
        tri = _mix(bi[:-1] * _K + c[2:])
    same = seg_of[:-1] == seg_of[1:]  # a bigram inside one segment
    owner = np.array(owners, dtype=np.int64)
    keys = [owner[seg_of] << BITS | buckets(uni),
            owner[seg_of[:-1][same]] << BITS | buckets(bi[same]),
            owner[seg_of[:-2][same[:-1] & same[1:]]] << BITS | buckets(tri[same[:-1] & same[1:]])]
    if tokens:
        keys.append(np.array(token_owners, dtype=np.int64) << BITS | buckets(token_hashes(tokens)))
    distinct = _distinct(np.concatenate(keys))  # by text, then bucket
    cuts = np.searchsorted(distinct >> BITS, np.arange(len(texts) + 1, dtype=np.int64))
    low = distinct & np.int64(DIM - 1)
    return [low[cuts[i]:cuts[i + 1]] for i in range(len(texts))]


class _Recent:
    """The buckets of the texts seen last, bounded in bytes. The sentiment model and the complaint model both read
    a mention's buckets, one stage after the other (a batch apart in `groundswell ingest`): the second gets the first
    one's array instead of computing it again (~0.06 ms a mention, a tenth of its analysis)."""

    def __init__(self, limit: int = RECENT_BYTES):
        self.limit = limit
        self.size = 0
        self.items: OrderedDict[tuple[str, tuple[str, ...]], npt.NDArray[np.int64]] = OrderedDict()
        self.lock = threading.Lock()

    @staticmethod
    def _bytes(key: tuple[str, tuple[str, ...]], value: npt.NDArray[np.int64]) -> int:
        return 4 * len(key[0]) + value.nbytes + 200

    def get(self, text: str, extra_tokens: tuple[str, ...]) -> npt.NDArray[np.int64]:
        key = (text, extra_tokens)
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
                return found
        value = _text_buckets(text, extra_tokens)
        with self.lock:
            self._keep(key, value)
        return value

    def _keep(self, key: tuple[str, tuple[str, ...]], value: npt.NDArray[np.int64]) -> None:
        """Keep a computed array (made read-only: callers share it), the oldest going beyond the limit; a huge
        page's is not kept. Under the lock."""
        value.flags.writeable = False
        cost = self._bytes(key, value)
        if cost > self.limit // 8 or key in self.items:
            return
        self.items[key] = value
        self.size += cost
        while self.size > self.limit:
            k, v = self.items.popitem(last=False)
            self.size -= self._bytes(k, v)

    def prefetch(self, texts: list[str]) -> None:
        """Compute the buckets of the texts not kept yet at once (many_buckets) and keep them, so that the per-text
        calls that follow find them; a text it cannot take (a lone surrogate) is left to those calls."""
        with self.lock:
            todo = list(dict.fromkeys(t for t in texts if (t, ()) not in self.items))
        if not todo:
            return
        try:
            arrays = many_buckets(todo)
        except (UnicodeError, ValueError):
            return  # text_buckets raises for the text at fault, one item at a time
        with self.lock:
            for text, value in zip(todo, arrays, strict=True):
                self._keep((text, ()), value.copy())  # its own small array, not a view keeping the batch's alive


_recent = _Recent()


def prefetch(texts: list[str]) -> None:
    """Make the buckets of many texts ready at once (a batch's): text_buckets() then finds them."""
    _recent.prefetch(texts)


def text_buckets(text: str, extra_tokens: tuple[str, ...] = ()) -> npt.NDArray[np.int64]:
    """Distinct feature buckets of one raw text (binary features: presence, not counts), sorted; read-only (the
    recent ones are kept and shared)."""
    return _recent.get(text, extra_tokens)
