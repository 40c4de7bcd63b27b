"""The mention document: its shape, its Elasticsearch mapping, its index names and its id. Nothing else
in the project builds a mention document or names a mention index.

Design within the integ-test-zip's core modules:
- text uses the `standard` analyzer, which splits Chinese into one token per character; a phrase query
  over those tokens matches exactly the mentions containing the phrase (no smartcn/ik needed, no recall
  lost to a segmenter's mistakes). Full-width letters and digits are folded before indexing (core.textfold).
- the standard tokenizer drops spaces and punctuation without leaving a position gap, so "手机黑，屏幕"
  would match the phrase 黑屏. The `*_phrase` fields hold the text cut at every boundary next to a Chinese
  character, as an array: array values sit position_increment_gap apart, so a phrase can never span a
  boundary. Latin words stay joined, so "screen went black" still matches across spaces.
- no ingest pipelines: `@timestamp` and the engagement history are computed here, client-side.
- monthly indices `<prefix>-mentions-YYYY.MM` behind the alias `<prefix>-mentions`, created by an index template;
  old months are dropped whole. A post's index is decided once, when it is first written: the month it was first
  seen (first_seen_at, its first crawl). Its times may move later (a relative "1小时前" read at another crawl moves
  published_at), so a writer never recomputes the index of a stored post: it finds the post by id across the
  alias (store.writer), and a post is one document whatever its times do.
- first_seen_at is the post's first crawl (the earliest crawled_at of all its observations), kept on every
  re-crawl and merge: alert rules see a mention only from then on, in live runs and backtests alike.
- author_key is who wrote it, one value per author and platform (the platform's author id, else the author
  name): every distinct-author count (rules, emails) is a cardinality of this one field.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from core.mention import Mention
from store.fields import INDEX_SETTINGS

MAPPING_VERSION = 5  # 2: author_key; indices by first-seen month. 3: complaint.repeat, complaint.previous_id.
# 4: cluster_bands (a cluster's founder carries its band keys there: stored clusters are found by founder).
# 5: cluster_band_ids, the same keys as numbers (a long field: points, a third of the node's cost of keyword terms)
HISTORY_LIMIT = 500  # observations kept per mention: the first one and the most recent ones
# How soon the node makes new mentions searchable by itself. Our own writers do not wait for it: the Elasticsearch
# stage refreshes the alias every few thousand mentions and at the end of a run (pipelines.elasticsearch), so this is
# only how late Kibana, search and the alert rules (which look back minutes) can see a mention written mid-run. At
# 1s a 20,000-line ingest made the node refresh 76 times (2.6 s of its CPU, and a segment each for every lookup to
# seek); at 5s, 39 times and 1.6 s, with 35% less query time (bench/RESULTS.md).
REFRESH_INTERVAL = "5s"


def alias(prefix: str) -> str:
    return f"{prefix}-mentions"


def index_pattern(prefix: str) -> str:
    return f"{prefix}-mentions-*"


def template_name(prefix: str) -> str:
    return f"{prefix}-mentions"


def index_for(prefix: str, first_seen: datetime) -> str:
    """The monthly index a post that was never stored goes to: the month it was first seen, in UTC."""
    return f"{prefix}-mentions-{first_seen.astimezone(UTC):%Y.%m}"


def index_month(prefix: str, name: str) -> date | None:
    """The first day of the month a `<prefix>-mentions-YYYY.MM` index holds; None for any other name (nothing else
    under the prefix is a month of mentions)."""
    m = re.fullmatch(rf"{re.escape(prefix)}-mentions-(\d{{4}})\.(\d{{2}})", name)
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1:
        return None
    return date(int(m.group(1)), int(m.group(2)), 1)


def month_after(month: date) -> date:
    """The first day of the month after `month`'s: where that month's index ends."""
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def doc_id(platform: str, source_id: str) -> str:
    """Stable across crawls and machines: the same post crawled twice is one document."""
    digest = hashlib.sha1(f"{platform}\x1f{source_id}".encode()).hexdigest()[:24]
    return f"{platform}-{digest}"


def author_key(platform: str, author_id: str | None, author: str | None) -> str | None:
    """One value per author of a platform: the platform's id when the post carries one, else the name (an ingest
    file, a site without ids). None when the post names nobody: it then counts no author."""
    if author_id and author_id.strip():
        return f"{platform}:id:{author_id.strip()}"
    if author and author.strip():
        return f"{platform}:name:{author.strip()}"
    return None


_TEXT = {"type": "text", "analyzer": "standard"}
_PHRASE = {"type": "text", "analyzer": "standard", "position_increment_gap": 100, "norms": False}

PROPERTIES: dict[str, Any] = {
    "@timestamp": {"type": "date"},
    "mention_id": {"type": "keyword"},
    "platform": {"type": "keyword"},
    "source_id": {"type": "keyword"},
    "url": {"type": "keyword", "ignore_above": 2048},
    "author": {"type": "keyword", "ignore_above": 256, "fields": {"text": _TEXT}},
    "author_id": {"type": "keyword"},
    "author_key": {"type": "keyword", "ignore_above": 512},
    "author_followers": {"type": "long"},
    "title": {**_TEXT, "fields": {"keyword": {"type": "keyword", "ignore_above": 512}}},
    "text": {**_TEXT, "fields": {"keyword": {"type": "keyword", "ignore_above": 512}}},
    "text_phrase": _PHRASE,
    "title_phrase": _PHRASE,
    "lang": {"type": "keyword"},
    "brand": {"type": "keyword"},
    "product": {"type": "keyword"},
    "rating": {"type": "float"},
    "published_at": {"type": "date"},
    "crawled_at": {"type": "date"},
    "first_seen_at": {"type": "date"},
    "likes": {"type": "long"},
    "reposts": {"type": "long"},
    "comments": {"type": "long"},
    "engagement": {"type": "long"},
    "repost_of": {"type": "keyword"},
    "reply_to": {"type": "keyword"},
    "engagement_history": {
        "properties": {
            "crawled_at": {"type": "date"},
            "likes": {"type": "long"},
            "reposts": {"type": "long"},
            "comments": {"type": "long"},
        }
    },
    "sentiment": {"properties": {"score": {"type": "float"}, "label": {"type": "keyword"}}},
    "complaint": {
        "properties": {
            "categories": {"type": "keyword"},
            "phrases": {"type": "keyword"},
            "severity": {"type": "keyword"},
            "is_complaint": {"type": "boolean"},
            # the same author complained about the same brand within the last 30 days (pipelines.repeats)
            "repeat": {"type": "boolean"},
            "previous_id": {"type": "keyword"},
        }
    },
    "cluster_id": {"type": "keyword"},
    # a mention's band keys, for the lookups of the run that analysed it; not stored since version 5 (stored_form).
    # Older documents keep them in _source, where store.upgrade's backfill reads them: searching them was the old
    # cluster lookup, and indexing 32 distinct keys per mention cost the node a quarter of its bulk work
    "lsh_bands": {"type": "keyword", "index": False, "doc_values": False},
    # the band keys again, on a cluster's founder only (its first member: cluster_id == mention_id): the stored
    # clusters near a new mention are found by one search of these, whose postings hold one document per cluster
    # however many copies it has (pipelines.clusters); set by the writer from the document itself (mark_founder).
    # As numbers (band_id): indexed as points, they cost the node a third of what 32 distinct keyword terms per
    # founder cost (most mentions found their own cluster), and the search finds the same founders in about the
    # same time (bench/RESULTS.md, issue 14 part 7).
    "cluster_band_ids": {"type": "long", "doc_values": False},
    # version 4's form of the same keys, as keyword terms: still searched in the months written by version 4, and
    # written by nobody since (a founder stored by version 4 keeps it until it is written again; store.upgrade adds
    # cluster_band_ids only to founders that have neither)
    "cluster_bands": {"type": "keyword", "doc_values": False},
    "minhash": {"type": "binary"},
    "extra": {"type": "object", "enabled": False},
}

# fields that exist for the index alone: phrase segments (search), the near-duplicate fingerprint and its LSH band
# keys (cluster lookups), Kibana's copy of published_at. A reader (search --json, the console) never gets them:
# fingerprints stay in the index.
INDEX_ONLY = ("text_phrase", "title_phrase", "lsh_bands", "cluster_band_ids", "cluster_bands", "minhash", "@timestamp")

# fields compared to decide whether a mention seen again changed (history and crawl time aside)
# (lsh_bands is derived from the text, which is compared, and is not stored since version 5: see stored_form)
_CONTENT_KEYS = tuple(k for k in PROPERTIES
                      if k not in {"crawled_at", "first_seen_at", "engagement_history", "extra", "cluster_band_ids",
                                   "cluster_bands", "lsh_bands"})


def band_id(key: str) -> int:
    """A band key as the number `cluster_band_ids` holds: its ten characters (two decimal digits of the band, eight
    hex digits of its CRC-32) read as hex, so distinct keys stay distinct (the largest, band 31, is below 2**38)."""
    return int(key, 16)


_NIBBLE = np.full(256, 16, dtype=np.uint8)  # an ASCII character's value as a hex digit (16: none)
_NIBBLE[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)


def band_ids(keys: Sequence[str]) -> np.ndarray:
    """band_id() of many band keys, as int64, in one pass; -1 for a string that is not a key as
    pipelines.near_duplicates writes them (ten characters of lowercase hex): it equals no key, as its string
    equalled none. (One int() a key was ~0.15 us, 32 a founder on the committer's thread.)"""
    out = np.full(len(keys), -1, dtype=np.int64)
    text = "".join(keys)
    if not text.isascii() or set(map(len, keys)) - {10}:  # never keys pipelines.near_duplicates wrote
        return _band_ids_one_by_one(keys, out)
    nibbles = _NIBBLE[np.frombuffer(text.encode("ascii"), dtype=np.uint8)].reshape(-1, 10)
    valid = (nibbles < 16).all(axis=1)
    packed = np.zeros((len(nibbles), 8), dtype=np.uint8)  # the five bytes of ten hex digits, big-endian, in 8
    packed[:, 3:] = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    out[valid] = packed.view(">u8").ravel()[valid].astype(np.int64)
    return out


def key_ids(ids: np.ndarray) -> list[int]:
    """The numbers of band_ids() that are band keys (its -1s left out), as a search or a document carries them."""
    return ids[ids >= 0].tolist()


def _band_ids_one_by_one(keys: Sequence[str], out: np.ndarray) -> np.ndarray:
    """band_ids() key by key, for keys among which some string is not ten ASCII characters."""
    for i, k in enumerate(keys):
        if len(k) == 10 and k.isascii() and all(c in "0123456789abcdef" for c in k):
            out[i] = int(k, 16)
    return out


def founded(doc: dict[str, Any]) -> bool:
    """Whether the document is its cluster's founder (its first member: the cluster is named by its id)."""
    return bool(doc.get("cluster_id")) and doc.get("cluster_id") == doc.get("mention_id")


def founder_bands(doc: dict[str, Any]) -> list[str]:
    """A document's band keys when it founded its cluster, else nothing."""
    return list(doc.get("lsh_bands") or ()) if founded(doc) else []


def mark_founder(doc: dict[str, Any]) -> dict[str, Any]:
    """Sets what the founder search finds a stored cluster by (`cluster_band_ids`) on a document about to be
    written, from the document itself, and drops version 4's form of it: a stored mention that stops or starts
    founding (consolidated copies, a merge) carries exactly what it is now. A stored copy read back has no
    lsh_bands (stored_form): a founder then keeps the band keys it was stored with. A string that is no band key is
    left out, as mark_founders leaves it (it matches nothing either way). Returns the document."""
    if not founded(doc):
        doc["cluster_band_ids"] = []
    elif doc.get("lsh_bands"):
        doc["cluster_band_ids"] = key_ids(band_ids(doc["lsh_bands"]))
    elif not doc.get("cluster_band_ids"):
        doc["cluster_band_ids"] = key_ids(band_ids(doc.get("cluster_bands") or ()))
    doc.pop("cluster_bands", None)
    return doc


def mark_founders(docs: list[dict[str, Any]]) -> None:
    """mark_founder() of many documents, the same fields: the founders' band keys read as numbers in one pass (one
    int() a key, 32 a founder, was a tenth of the committer's thread). A string that is no band key is left out."""
    fresh = [d for d in docs if founded(d) and d.get("lsh_bands")]
    ids = band_ids([k for d in fresh for k in d["lsh_bands"]])
    at = 0
    for d in fresh:
        n = len(d["lsh_bands"])
        d["cluster_band_ids"] = key_ids(ids[at:at + n])
        d.pop("cluster_bands", None)
        at += n
    for d in docs:
        if not (founded(d) and d.get("lsh_bands")):
            mark_founder(d)


def stored_form(doc: dict[str, Any]) -> dict[str, Any]:
    """A document as it is sent to the store: without its band keys (lsh_bands), which only the lookups of the run
    that analysed it read. They are derived from minhash, and a founder's are indexed as cluster_band_ids: in
    _source they were 32 incompressible keys per mention: 6% of the node's bulk work, 4% of a merged index's size
    (bench/RESULTS.md, issue 14 part 7). A copy: the run's own document keeps them."""
    return {k: v for k, v in doc.items() if k != "lsh_bands"}


_CJK_CHARS = "\u2e80-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af\U00020000-\U0002ffff"
# A cut: a whole run of separators ([\W_]+) that follows a CJK character, precedes one, or holds a separator that is
# not ASCII. Each branch takes the rest of the run possessively, so a match is always a whole run from its first
# character (a run that is no cut matches from none of its characters: every branch needs a CJK neighbour or a
# non-ASCII separator, which a run of ASCII separators between other characters lacks at any point).
_CUT = re.compile(
    rf"[\W_](?:(?<=[{_CJK_CHARS}][\W_])[\W_]*+|[\W_]*+(?=[{_CJK_CHARS}])|(?<=[^\x00-\x7f\w])[\W_]*+"
    rf"|(?=[\W_]*?[^\x00-\x7f\w])[\W_]*+)"
)


def phrase_segments(text: str | None) -> list[str]:
    """Cut text at every separator (space, punctuation, emoji) that touches a CJK character or is itself
    not ASCII; phrases are then matched only inside a segment. One regex split (a loop over the separators cost
    ~7 us a text, twice a mention, in the analysis workers); the last piece is kept only if not blank."""
    if not text:
        return []
    pieces = _CUT.split(text)
    last = pieces.pop()
    segments = [p for p in pieces if p]
    if last.strip():
        segments.append(last)
    return segments


META: dict[str, Any] = {"managed_by": "groundswell", "mapping_version": MAPPING_VERSION}


def index_template(prefix: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The mention template; `settings`: shards and replicas (store.fields.index_settings), default one shard."""
    return {
        "index_patterns": [index_pattern(prefix)],
        "priority": 500,
        "_meta": META,
        "template": {
            "settings": {**(settings or INDEX_SETTINGS), "refresh_interval": REFRESH_INTERVAL},
            # each index carries its version, so an older one is found and upgraded (store.upgrade)
            "mappings": {"dynamic": "strict", "_meta": META, "properties": PROPERTIES},
            "aliases": {alias(prefix): {}},
        },
    }


def _iso(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    # fixed width (milliseconds, Z) so that string order is time order
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _count(value: int | None) -> int:
    return int(value or 0)


def to_document(m: Mention) -> dict[str, Any]:
    """A normalized mention (published_at and crawled_at are aware datetimes) as stored in Elasticsearch."""
    assert isinstance(m.published_at, datetime) and isinstance(m.crawled_at, datetime), "normalize first"
    assert m.source_id, "normalize first"
    crawled, published = _iso(m.crawled_at), _iso(m.published_at)
    likes, reposts, comments = _count(m.likes), _count(m.reposts), _count(m.comments)
    doc: dict[str, Any] = {
        "@timestamp": published,
        "mention_id": doc_id(m.platform, m.source_id),
        "platform": m.platform,
        "source_id": m.source_id,
        "url": m.url,
        "author": m.author,
        "author_id": m.author_id,
        "author_key": author_key(m.platform, m.author_id, m.author),
        "author_followers": m.author_followers,
        "title": m.title,
        "text": m.text,
        "text_phrase": phrase_segments(m.text),
        "title_phrase": phrase_segments(m.title),
        "lang": m.lang,
        "brand": m.brand,
        "product": m.product,
        "rating": m.rating,
        "published_at": published,
        "crawled_at": crawled,
        "first_seen_at": crawled,
        "likes": likes,
        "reposts": reposts,
        "comments": comments,
        "engagement": likes + reposts + comments,
        "repost_of": m.repost_of,
        "reply_to": m.reply_to,
        "engagement_history": [{"crawled_at": crawled, "likes": likes, "reposts": reposts, "comments": comments}],
        "sentiment": {"score": m.sentiment_score, "label": m.sentiment_label},
        "complaint": {
            "categories": list(m.complaint_categories),
            "phrases": list(m.complaint_phrases),
            "severity": m.complaint_severity,
            "is_complaint": m.is_complaint,
        },
        "cluster_id": m.cluster_id,
        "lsh_bands": list(m.lsh_bands),
        "cluster_band_ids": [],  # set by the writer once the cluster is known (mark_founder)
        "minhash": m.minhash,
        "extra": dict(m.extra),
    }
    return doc


_UTC_ISO = re.compile(r"[1-9]\d{3}-(0[1-9]|1[0-2])-\d\dT[^Z+]*Z")  # as _iso writes them: in UTC, year 1000 on


def index_of(doc: dict[str, Any], prefix: str) -> str:
    """Where a document goes when its post is not stored yet (a stored post stays where it is: store.writer)."""
    first = str(doc.get("first_seen_at") or doc.get("crawled_at") or doc["published_at"])
    if _UTC_ISO.fullmatch(first):  # its month is its 6th and 7th characters (parsing it was ~4 us a mention)
        return f"{prefix}-mentions-{first[:4]}.{first[5:7]}"
    return index_for(prefix, datetime.fromisoformat(first.replace("Z", "+00:00")))


def _obs_key(o: dict[str, Any]) -> str:
    return str(o.get("crawled_at") or "")


def merge(existing: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any] | None:
    """The stored document after seeing `incoming` again, or None when it brings nothing new.

    The engagement history keeps one observation per crawl time, in time order; the top-level counts are
    those of the newest observation, so a late replay of an old crawl cannot roll them back.
    """
    history = {_obs_key(o): o for o in existing.get("engagement_history") or []}
    new_obs = [o for o in incoming.get("engagement_history") or [] if _obs_key(o) not in history]
    latest_old = max(history.values(), key=_obs_key, default=None)
    # an observation that repeats the newest counts adds no information about spread
    informative = [
        o
        for o in new_obs
        if latest_old is None
        or _obs_key(o) < _obs_key(latest_old)
        or any(o.get(k) != latest_old.get(k) for k in ("likes", "reposts", "comments"))
    ]
    content_changed = any(
        existing.get(k) != incoming.get(k)
        for k in _CONTENT_KEYS
        if k not in {"likes", "reposts", "comments", "engagement", "cluster_id"}
    )
    if not informative and not content_changed:
        return None
    for o in informative:
        history[_obs_key(o)] = o
    ordered = sorted(history.values(), key=_obs_key)
    if len(ordered) > HISTORY_LIMIT:
        ordered = [ordered[0], *ordered[-(HISTORY_LIMIT - 1) :]]
    newest = ordered[-1]
    merged = dict(existing)
    if content_changed:
        merged.update({k: incoming.get(k) for k in _CONTENT_KEYS})
        # a stored mention keeps its cluster: alert incidents are keyed on it
        merged["cluster_id"] = existing.get("cluster_id") or incoming.get("cluster_id")
    if incoming.get("lsh_bands"):  # the text's band keys, as the run that saw it again computed them
        merged["lsh_bands"] = incoming["lsh_bands"]
    merged["engagement_history"] = ordered
    merged["likes"], merged["reposts"], merged["comments"] = newest["likes"], newest["reposts"], newest["comments"]
    merged["engagement"] = newest["likes"] + newest["reposts"] + newest["comments"]
    mark_founder(merged)
    merged["crawled_at"] = max(str(existing.get("crawled_at") or ""), str(incoming.get("crawled_at") or ""))
    merged["first_seen_at"] = min(
        str(existing.get("first_seen_at") or merged["crawled_at"]), str(incoming.get("first_seen_at") or "~")
    )
    return merged
