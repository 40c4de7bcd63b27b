"""Copies of one complaint: reposts, quotes (`//@user: ...`), copy-pastes and light paraphrases.

MinHash over character n-grams with LSH banding, the known-good approach for short Chinese text (SimHash
is poor there: a few changed characters move too many bits of a 64-bit hash of a 30-character post).

- `fingerprint(text)` (pure): clean the text (repost markers, @names, URLs, emoticons, punctuation, width,
  case, traditional/simplified), shingle it into character 3-grams, MinHash it with 128 fixed hash
  functions (stable across processes and machines: crc32 + fixed seeds), and cut the signature into
  32 bands of 4 rows. Two texts whose shingle sets have Jaccard similarity s share a band with
  probability 1 - (1 - s^4)^32: 0.12 at s=0.2, 0.87 at s=0.4, 0.99+ at s=0.5.
- Candidates that share a band are confirmed by the estimated similarity (>= SIMILAR).
- `LshIndex` holds fingerprints in memory (this process's run); pipelines.clusters looks up the
  ones already in Elasticsearch, so cluster ids persist across runs and processes.
- A cluster id is the mention id of the cluster's first known member, so it is stable and readable.

`NearDuplicatePipeline` is the thin Scrapy stage: it only fingerprints. Resolving the cluster needs the
index of everything stored, so it happens per batch in the Elasticsearch stage (one msearch per batch
instead of one search per mention).
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.mention import Mention
from core.textfold import fold
from pipelines import gram_hashes

NUM_PERM = 128
BANDS = 32
ROWS = NUM_PERM // BANDS
NGRAM = 3
MIN_SHINGLES = 10  # below this (~11 characters) identical wording is chance, not copying ("小米垃圾客服")
SIMILAR = 0.5  # estimated Jaccard at which two mentions are copies of one complaint
MAX_CANDIDATES = 200  # verified per lookup at most (the Elasticsearch side verifies only a few stored ones)

_MERSENNE = np.uint64((1 << 61) - 1)
_MAX32 = np.uint64(0xFFFFFFFF)
_61 = np.uint64(61)
_rng = np.random.RandomState(20261125)  # fixed: signatures must be comparable forever
_A = _rng.randint(1, 1 << 31, size=NUM_PERM, dtype=np.uint64)
_B = _rng.randint(0, 1 << 31, size=NUM_PERM, dtype=np.uint64)

_HTML = re.compile(r"<[^<>]{0,200}>|&(?:[a-z]{2,8}|#\d{1,6}|#x[0-9a-f]{1,5});", re.I)  # tags, entities
_HASHTAG = re.compile(r"#[^#\n]{1,30}#")  # Weibo topics: added by reposters, shared by unrelated posts
_REPOST = re.compile(r"//\s*@[^:：\s]{1,40}[:：]?")
_MENTION = re.compile(r"@[\w\-]{1,40}")
_URL = re.compile(r"https?://\S+|www\.\S+")
_EMOTICON = re.compile(r"\[[^\[\]\s]{1,8}\]")
_NOISE = re.compile(r"[\W_]+")
_LEADING = re.compile(r"^(转发微博|转发|轉發|repost|rt)+", re.I)


@dataclass(frozen=True)
class Fingerprint:
    signature: tuple[int, ...]
    bands: tuple[str, ...]

    def encode(self) -> str:
        """Compact form stored with the mention (base64 of 128 little-endian uint32)."""
        return encode_signature(np.asarray(self.signature, dtype=np.uint32))

    @staticmethod
    def decode(data: str) -> tuple[int, ...]:
        return tuple(np.frombuffer(binascii.a2b_base64(data), dtype="<u4").tolist())

    @staticmethod
    def decode_array(data: str) -> np.ndarray:
        """decode() as a uint32 array of its own (what the index and the comparisons use: no 128 Python ints)."""
        return np.frombuffer(binascii.a2b_base64(data), dtype="<u4").astype(np.uint32)


def clean(text: str) -> str:
    """What is left of a post once everything that differs between copies of it is gone."""
    # each pattern only where a character or word it starts with is: most posts hold none of them, and searching
    # for one in C costs a tenth of a regex pass that finds nothing (the same text either way)
    t = _HTML.sub(" ", text) if "<" in text or "&" in text else text
    t = _URL.sub(" ", t) if "http" in t or "www." in t else t
    t = _HASHTAG.sub(" ", t) if "#" in t else t
    t = _REPOST.sub(" ", t) if "//" in t else t
    t = _MENTION.sub(" ", t) if "@" in t else t
    t = _EMOTICON.sub(" ", t) if "[" in t else t
    t = fold(t)
    t = _NOISE.sub("", t)
    return _LEADING.sub("", t)


def shingles(cleaned: str, n: int | None = None) -> set[str]:
    """Overlapping character n-grams (NGRAM by default, read at call time so the bench can sweep it)."""
    n = n or NGRAM
    if len(cleaned) < n:
        return set()
    return {cleaned[i : i + n] for i in range(len(cleaned) - n + 1)}


def minhash(grams: Iterable[str]) -> np.ndarray:
    """The 128 hashes ((a*x + b) mod (2^61 - 1)) & 0xFFFFFFFF of every shingle's crc32 x, least per hash function."""
    hv = np.fromiter((zlib.crc32(g.encode()) for g in grams), dtype=np.uint64)
    result: np.ndarray = _hashes(hv).min(axis=0)
    return result


def _hashes(hv: np.ndarray) -> np.ndarray:
    """Every hash function applied to every value of `hv` (uint64 CRCs): a (len, NUM_PERM) uint64 array.

    The modulo by folding: a*x + b < 2^63, and 2^61 = 1 (mod 2^61 - 1), so it is its low 61 bits plus its top two,
    less the modulus once when that reaches it: the very numbers `%` gives, in place, a third less time than numpy's
    64-bit division (bench/RESULTS.md, issue 14)."""
    x = np.outer(hv, _A)
    x += _B
    top = x >> _61
    x &= _MERSENNE
    x += top
    x[x >= _MERSENNE] -= _MERSENNE
    x &= _MAX32
    return x


def signature(text: str | None) -> np.ndarray | None:
    """The MinHash signature of a text, or None when it is too short to have copies."""
    grams = shingles(clean(text or ""))
    return minhash(grams) if len(grams) >= MIN_SHINGLES else None


HASHED_ROWS = 512  # n-gram CRCs hashed at once by signatures(): 512 KB a temporary, in a core's cache (4,096: 1.4x
# slower)


def signatures(texts: Sequence[str | None]) -> list[np.ndarray | None]:
    """signature() of many texts, the same arrays, a batch at once: their n-grams' CRCs by numpy (gram_hashes), and
    the hash functions over the batch's CRCs a few thousand at a time with each text's least taken by one
    `minimum.reduceat`. One text at a time, the shingle set, the 45 zlib calls and the dozen small numpy calls
    were ~75 of the ~97 us of a post's fingerprint (bench/RESULTS.md, issue 14 part 12)."""
    cleaned = [clean(t or "") for t in texts]
    owner, crcs = gram_hashes.distinct(cleaned, NGRAM)
    counts = np.bincount(owner, minlength=len(texts))
    bounds = np.concatenate(([0], np.cumsum(counts)))
    out: list[np.ndarray | None] = [None] * len(texts)
    for short in np.flatnonzero(counts < MIN_SHINGLES).tolist():
        if len(cleaned[short]) - NGRAM + 1 >= MIN_SHINGLES:  # fewer distinct CRCs than n-grams: the shingles decide
            grams = shingles(cleaned[short])
            out[short] = minhash(grams) if len(grams) >= MIN_SHINGLES else None
    first = 0
    while first < len(texts):
        last = int(np.searchsorted(bounds, bounds[first] + HASHED_ROWS, side="right")) - 1
        last = min(len(texts), max(last, first + 1))  # texts [first, last): at least one, whatever its size
        rows = slice(int(bounds[first]), int(bounds[last]))
        if any(counts[i] >= MIN_SHINGLES for i in range(first, last)):
            # one least per text with n-grams (each reduction runs to the next one's offset, the last to the end)
            held = [i for i in range(first, last) if counts[i]]
            least = np.minimum.reduceat(_hashes(crcs[rows].astype(np.uint64)), bounds[held] - bounds[first], axis=0)
            for k, i in enumerate(held):
                if counts[i] >= MIN_SHINGLES:
                    out[i] = least[k]
        first = last
    return out


def encode_signature(sig: np.ndarray) -> str:
    """What a mention stores of its signature: base64 of its 128 little-endian uint32."""
    return base64.b64encode(sig.astype("<u4").tobytes()).decode()


def fingerprint(text: str | None) -> Fingerprint | None:
    """The MinHash signature and LSH band keys of a text, or None when it is too short to have copies."""
    sig = signature(text)
    return None if sig is None else Fingerprint(tuple(sig.tolist()), band_keys(sig))


def band_keys(signature: np.ndarray) -> tuple[str, ...]:
    """The LSH band keys of a signature: band number and the crc32 of its rows' little-endian bytes."""
    raw = signature.astype("<u4").tobytes()
    width = 4 * ROWS
    return tuple(f"{b:02d}{zlib.crc32(raw[b * width : (b + 1) * width]):08x}" for b in range(BANDS))


_CRC = gram_hashes.CRC
_BAND_DIGITS = np.frombuffer("".join(f"{b:02d}" for b in range(BANDS)).encode(), dtype=np.uint8).reshape(BANDS, 2)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _band_crcs(signatures: np.ndarray) -> np.ndarray:
    """The CRC-32 of every band of every row of a 2-D uint32 array (the zlib.crc32 band_keys takes), as a flat uint32
    array, row after row: one table-driven numpy pass over their bytes."""
    n = len(signatures)
    raw = np.ascontiguousarray(signatures, dtype="<u4").view(np.uint8).reshape(n * BANDS, 4 * ROWS)
    crc = np.full(n * BANDS, 0xFFFFFFFF, dtype=np.uint32)
    for j in range(4 * ROWS):
        crc = _CRC[(crc ^ raw[:, j]) & 0xFF] ^ (crc >> np.uint32(8))
    crc ^= np.uint32(0xFFFFFFFF)
    return crc


def many_band_keys(signatures: np.ndarray) -> list[tuple[str, ...]]:
    """band_keys() of many signatures (rows of a 2-D uint32 array), the same keys: the CRC-32 of every band of
    every row computed by one table-driven numpy pass over their bytes, the hex of all of them in one string.
    One signature at a time, 32 zlib calls and 32 formatted strings were a fifth of a mention's fingerprint."""
    n = len(signatures)
    if n == 0:
        return []
    crc = _band_crcs(signatures)
    # every key's 10 characters ("05" and 8 hex digits) side by side in one ASCII buffer, cut once per key
    chars = np.empty((n * BANDS, 10), dtype=np.uint8)
    chars[:, :2] = np.tile(_BAND_DIGITS, (n, 1))
    for k in range(8):
        chars[:, 2 + k] = _HEX[(crc >> np.uint32(28 - 4 * k)) & np.uint32(0xF)]
    text = chars.tobytes().decode("ascii")
    keys = [text[j:j + 10] for j in range(0, len(text), 10)]
    return [tuple(keys[i * BANDS:(i + 1) * BANDS]) for i in range(n)]


# a band key read as a hexadecimal number (store.mapping.band_id: what founders are searched by) is its band's two
# decimal digits, read as hex, above the 32 bits of its CRC
_BAND_HIGH = np.array([int(f"{b:02d}", 16) << 32 for b in range(BANDS)], dtype=np.int64)


def many_band_ids(signatures: np.ndarray) -> np.ndarray:
    """The band keys of many signatures as numbers (int(key, 16) of every key many_band_keys gives): an (n, BANDS)
    int64 array. Numbers compare and sort in numpy, where the keys' strings took a Python loop per key."""
    if len(signatures) == 0:
        return np.empty((0, BANDS), dtype=np.int64)
    return _band_crcs(signatures).astype(np.int64).reshape(-1, BANDS) | _BAND_HIGH


def stacked(arrays: list[np.ndarray]) -> np.ndarray:
    """Signatures of one length as the rows of one array: np.stack's result, by one concatenation (np.stack's
    per-array Python work was twice its copying for the writer's few dozen candidates a lookup)."""
    return np.concatenate(arrays).reshape(len(arrays), -1)


def similarity(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Estimated Jaccard similarity: the share of MinHash positions that agree."""
    if len(a) != len(b) or not a:
        return 0.0
    return float(np.count_nonzero(np.asarray(a) == np.asarray(b))) / len(a)


@dataclass(eq=False, slots=True)
class _Entry:
    """One indexed mention: its signature as one uint32 array (512 bytes; a tuple of 128 ints took ten times
    that) and its band keys as the index's own key strings (interned, not one copy per mention)."""

    mention_id: str
    cluster_id: str
    array: np.ndarray
    bands: tuple[str, ...] = ()
    group: str | None = None  # the brand: copies of one complaint name the same brand

    @property
    def exact_key(self) -> tuple[str | None, bytes]:
        return (self.group, self.array.tobytes())


class LshIndex:
    """In-memory band index of this run's fingerprints (bounded: oldest entries go first)."""

    def __init__(self, capacity: int = 200_000):
        self.capacity = capacity
        # band key -> its entries, oldest first. Most bands are one mention's (88% of them over 10,000 generated
        # posts): such a bucket is the entry itself, a list only from its second entry on, as a list of one took
        # 88 bytes a band, ~2 KB a mention (and an empty deque 600: 100 MB over 5,000 mentions)
        self.by_band: dict[str, _Entry | list[_Entry]] = {}
        self.entries: dict[str, _Entry] = {}
        # the entries' ids, oldest first, for eviction: `next(iter(entries))` on a dict emptied from the front walks
        # every slot deleted since its last resize (13 us an eviction at 5,000 entries, 0.2 s a 20,000-line ingest)
        self.order: deque[str] = deque()
        # exact copies (a repost's text, a pasted complaint) resolve by one dict lookup: newest entry per signature
        self.exact: dict[tuple[str | None, bytes], _Entry] = {}

    def add(self, mention_id: str, cluster_id: str, fp: Fingerprint, group: str | None = None) -> None:
        self.add_signature(mention_id, cluster_id, np.asarray(fp.signature, dtype=np.uint32), fp.bands, group)

    def add_signature(
        self, mention_id: str, cluster_id: str, signature: np.ndarray, bands: Sequence[str], group: str | None = None
    ) -> None:
        """add() with the signature as a uint32 array already (the index keeps it: it must not change after)."""
        if mention_id in self.entries:
            self.entries[mention_id].cluster_id = cluster_id
            return
        # the keys as they come: interning them cost the writer 0.7 us a key (0.45 s a 20,000-line ingest) and saves
        # nothing, as 88% of the keys are one mention's (the bucket's dict key is the first entry's string anyway)
        keys = tuple(bands)
        entry = _Entry(mention_id, cluster_id, signature, keys, group)
        self.entries[mention_id] = entry
        self.order.append(mention_id)
        self.exact[entry.exact_key] = entry
        by_band = self.by_band
        for band in keys:
            bucket = by_band.get(band)
            if bucket is None:
                by_band[band] = entry
            elif isinstance(bucket, list):
                bucket.append(entry)
            else:
                by_band[band] = [bucket, entry]
        self.trim()

    def founders_sharing(self, bands: AbstractSet[str]) -> set[str]:
        """The mention ids of the indexed cluster founders (their own cluster's id) sharing one of `bands`: the
        stored founders a search of those bands can find that are in memory."""
        # one pass over the entries (at most the capacity), each tested in C: looking up every band of the batch
        # (~30,000) and walking its bucket took 70 ms a batch on the benchmark's colliding posts
        return {e.mention_id for e in self.entries.values()
                if e.cluster_id == e.mention_id and not bands.isdisjoint(e.bands)}

    def members(self, band: str) -> list[_Entry]:
        """The entries of a band, oldest first (however the bucket is kept)."""
        bucket = self.by_band.get(band)
        return [] if bucket is None else list(bucket) if isinstance(bucket, list) else [bucket]

    def trim(self) -> None:
        """Forget the oldest entries beyond the capacity."""
        while len(self.entries) > self.capacity:
            self._evict(self.order.popleft())

    def _evict(self, mention_id: str) -> None:
        """Drop one entry from its own buckets only (scanning every bucket made each eviction O(index))."""
        entry = self.entries.pop(mention_id)
        key = entry.exact_key
        if self.exact.get(key) is entry:
            del self.exact[key]
        by_band = self.by_band
        for band in entry.bands:
            bucket = by_band.get(band)
            if bucket is None:
                continue
            if not isinstance(bucket, list):
                if bucket is entry:
                    del by_band[band]
                continue
            if bucket[0] is entry:  # always, as the oldest entry goes first and buckets fill in order
                del bucket[0]
            else:
                bucket[:] = [e for e in bucket if e is not entry]
            if len(bucket) == 1:
                by_band[band] = bucket[0]
            elif not bucket:
                del by_band[band]

    def best(
        self, fp: Fingerprint, exclude: str | None = None, group: str | None = None,
        allow: Callable[[str], bool] | None = None,
    ) -> tuple[str, float] | None:
        """(cluster id, similarity) of the most similar indexed mention at or above SIMILAR.

        With a group (the brand), mentions of another brand never match: the same stock wording about two
        brands ("客服一直不回复，太失望了") is two complaints, not one. With `allow`, only mentions of the clusters
        it accepts (by cluster id) are candidates (pipelines.clusters: a cluster too old for the mention).
        """
        return self.best_signature(np.asarray(fp.signature, dtype=np.uint32), fp.bands, exclude, group, allow)

    def best_signature(
        self, sig: np.ndarray, bands: Sequence[str], exclude: str | None = None, group: str | None = None,
        allow: Callable[[str], bool] | None = None,
    ) -> tuple[str, float] | None:
        """best() with the signature as a uint32 array already."""
        raw = sig.tobytes()
        for g in (group, None) if group is not None else (None,):
            same = self.exact.get((g, raw))
            if same is not None and same.mention_id != exclude and (allow is None or allow(same.cluster_id)):
                return (same.cluster_id, 1.0)  # an exact copy: nothing can beat it (keeps viral reposts linear)
        # most mentions share no band with anything in memory: find that out in C before the loop below
        buckets = [b for b in map(self.by_band.get, bands) if b is not None]
        if not buckets:
            return None
        seen: set[str] = set()
        candidates: list[_Entry] = []
        for bucket in buckets:
            members = reversed(bucket) if isinstance(bucket, list) else (bucket,)
            for e in members:  # newest first: they carry the current cluster
                if e.mention_id in seen or e.mention_id == exclude:
                    continue
                if group is not None and e.group is not None and e.group != group:
                    continue
                if allow is not None and not allow(e.cluster_id):
                    continue
                seen.add(e.mention_id)
                if len(e.array) == len(sig):
                    candidates.append(e)
                if len(seen) >= MAX_CANDIDATES:  # a bucket of thousands of copies of one post
                    break
            if len(seen) >= MAX_CANDIDATES:
                break
        if not candidates:
            return None
        # one comparison of every candidate at once instead of one numpy call each; the equal positions counted by a
        # plain reduction (count_nonzero along an axis and numpy's argmax function were half the lookup's time)
        agree = np.add.reduce(stacked([e.array for e in candidates]) == sig, axis=1, dtype=np.intp)
        j = int(agree.argmax())  # the first maximum: the newest candidate, as before
        similar = int(agree[j]) / len(sig)
        return (candidates[j].cluster_id, similar) if similar >= SIMILAR else None


def cluster_all(texts: list[str], ids: list[str] | None = None, groups: list[str | None] | None = None) -> list[str]:
    """Cluster ids for texts in order, in memory only (for tests and the benchmark); groups are brands."""
    ids = ids or [f"m{i}" for i in range(len(texts))]
    groups = groups or [None] * len(texts)
    index = LshIndex()
    out = []
    for mid, text, group in zip(ids, texts, groups, strict=True):
        fp = fingerprint(text)
        if fp is None:
            out.append(mid)
            continue
        found = index.best(fp, group=group)
        cid = found[0] if found else mid
        index.add(mid, cid, fp, group)
        out.append(cid)
    return out


class NearDuplicatePipeline:
    """Scrapy adapter: fingerprints title + text; the Elasticsearch stage resolves the cluster id."""

    PARALLEL_SAFE = True  # pure per item: pipelines.parallel may run it in a worker process

    def __init__(self, stats: Any):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> NearDuplicatePipeline:
        return cls(crawler.stats)

    @staticmethod
    def _text(item: Mention) -> str:
        return " ".join(t for t in (item.title, item.text) if t)

    def _too_short(self, item: Mention) -> Mention:
        item.minhash, item.lsh_bands = None, []
        if self.stats is not None:
            self.stats.inc_value("groundswell/too_short_to_cluster")
        return item

    def process_item(self, item: Mention) -> Mention:
        fp = fingerprint(self._text(item))
        if fp is None:
            return self._too_short(item)
        item.minhash, item.lsh_bands = fp.encode(), list(fp.bands)
        return item

    def process_batch(self, items: list[Mention]) -> list[Mention]:
        """A batch (`groundswell ingest`, batched crawls): the signatures and band keys of all its texts at once
        (signatures, many_band_keys), the values process_item computes."""
        sigs = signatures([self._text(item) for item in items])
        rows = [s for s in sigs if s is not None]
        keys = iter(many_band_keys(np.stack(rows)) if rows else [])
        for item, sig in zip(items, sigs, strict=True):
            if sig is None:
                self._too_short(item)
                continue
            item.minhash = encode_signature(sig)
            item.lsh_bands = list(next(keys))
        return items
