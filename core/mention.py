"""The one item type: a mention, filled stage by stage as it flows through the pipelines.

Spiders and `groundswell ingest` set the crawled fields; normalize parses and checks them; the analysis
stages fill brand, sentiment, complaint categories and cluster; the Elasticsearch stage stores it through
store.mapping, which alone decides the document shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Mention:
    # crawled (what a source says)
    platform: str = ""
    text: str = ""
    published_at: datetime | str | None = None
    source_id: str | None = None
    url: str | None = None
    author: str | None = None
    author_id: str | None = None
    author_followers: int | None = None
    title: str | None = None
    brand: str | None = None
    product: str | None = None
    rating: float | None = None
    crawled_at: datetime | str | None = None
    likes: int | None = None
    reposts: int | None = None
    comments: int | None = None
    repost_of: str | None = None
    reply_to: str | None = None
    lang: str | None = None
    # analysis (later stages)
    sentiment_score: float | None = None
    sentiment_label: str | None = None
    complaint_categories: list[str] = field(default_factory=list)
    complaint_phrases: list[str] = field(default_factory=list)
    complaint_severity: str | None = None
    is_complaint: bool | None = None
    cluster_id: str | None = None
    minhash: str | None = None  # near-duplicate fingerprint (pipelines.near_duplicates), base64
    lsh_bands: list[str] = field(default_factory=list)
    # bookkeeping, never indexed: where it came from ("file.jsonl:12", a URL), for error messages
    origin: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # the stored document, built by the last analysis stage (pipelines.document) where the analysis runs, so that
    # the writer does not build it on its own thread; never read from input
    document: dict[str, Any] | None = None


# Fields an input line may set; everything else on a line goes to `extra` (stored, not indexed).
INPUT_FIELDS: frozenset[str] = frozenset(
    name for name in Mention.__dataclass_fields__ if name not in {"origin", "extra", "document"}
)


class Analysed:
    """An analysed mention as a writer reads it: its stored document and where it came from. What an analysis worker
    hands back when its caller reads nothing else of the item (`groundswell ingest`: pipelines.parallel): a whole
    Mention with its document cost twice the pickling both ways (~17 + 16 us a mention against ~11 + 8)."""

    __slots__ = ("document", "origin")

    def __init__(self, document: dict[str, Any] | None, origin: str | None):
        self.document = document
        self.origin = origin

    def __reduce__(self) -> tuple[type[Analysed], tuple[dict[str, Any] | None, str | None]]:
        return (Analysed, (self.document, self.origin))  # two arguments, not a state dict to set
