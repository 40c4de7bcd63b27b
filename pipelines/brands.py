"""The brand stage: sets a mention's brand and product (core.brands matches), drops mentions of no watched brand."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from elasticsearch import Elasticsearch
from scrapy.exceptions import DropItem

from core.brands import BrandMatch, compile_brands, match_with
from core.config import Brand
from core.mention import Mention
from core.textfold import fold
from crawlers.context import CrawlContext
from store import mapping
from store.lookup import stored_sources

log = logging.getLogger(__name__)

Pair = tuple[str, str | None]  # brand, product
Lookup = Callable[[list[str]], dict[str, Pair]]  # mention ids -> the brand and product stored with them


class BrandMatchPipeline:
    """Scrapy adapter: sets brand and product; drops mentions of no configured brand (counted in stats).

    A mention that arrived with an explicit brand (an ingest file, a brand-specific spider) is kept even when
    its text names no alias; so is a repost or reply of a matched mention ("转发微博" under a complaint is how it
    spreads): one matched lately in this process, else one stored (a batch asks the store once for the parents it
    does not remember, so a repost crawled a day after its original keeps the brand, and memory stays small);
    with no brands configured at all, every mention passes unchanged.
    """

    # matched mentions remembered for their reposts and replies (~140 bytes each); older parents are asked of the
    # store, which has them by then (the Elasticsearch stage makes what it wrote searchable within 4,000 mentions)
    MEMORY = 20_000

    def __init__(self, brands: Iterable[Brand], stats: Any, lookup: Lookup | None = None):
        self.brands = tuple(brands)
        self.stats = stats
        self.lookup = lookup
        self.from_store: dict[int, Pair] = {}  # the current batch's parents found in the store
        # hash((platform, source_id)) -> (brand, product), one shared tuple per pair: ~150 bytes a mention instead of
        # ~300 with the ids kept (64-bit hashes of 100,000 posts collide with odds of 1 in 10^9)
        self.matched: OrderedDict[int, tuple[str, str | None]] = OrderedDict()
        self._pairs: dict[tuple[str, str | None], tuple[str, str | None]] = {}
        # with no brands configured every mention passes unchanged: nothing is remembered, so the stage is pure and
        # pipelines.parallel may run it (and normalize before it) in the analysis workers, instead of in the one
        # process every mention passes (normalize there was a third of the input thread's work: bench/RESULTS.md,
        # issue 14 part 13). With brands, reposts need the brands of the posts before them, in order: it stays there
        self.PARALLEL_SAFE = not self.brands
        self.matcher = compile_brands(self.brands)  # once: every mention is matched against it

    @classmethod
    def from_crawler(cls, crawler: Any) -> BrandMatchPipeline:
        context = CrawlContext.of(crawler)
        return cls(context.brands(), crawler.stats, _store_lookup(context))

    def _remember(self, item: Mention) -> None:
        if item.brand and item.source_id:
            pair = (item.brand, item.product)
            if len(self._pairs) > 10_000:  # products named by an input file: shared again from here on
                self._pairs.clear()
            self.matched[hash((item.platform, item.source_id))] = self._pairs.setdefault(pair, pair)
            if len(self.matched) > self.MEMORY:
                self.matched.popitem(last=False)

    def _parent(self, item: Mention) -> tuple[str, str | None] | None:
        for parent in (item.repost_of, item.reply_to):
            if not parent:
                continue
            key = hash((item.platform, parent))
            if (found := self.matched.get(key)) is not None or (found := self.from_store.get(key)) is not None:
                return found
        return None

    def process_batch(self, items: list[Mention]) -> list[Mention | DropItem]:
        """Each item as process_item decides, with the parents the batch does not remember asked of the store once."""
        if not self.brands:
            return list(items)
        found = [match_with(self.matcher, item.text, item.title) for item in items]
        self.from_store = self._stored_parents(items, found)
        out: list[Mention | DropItem] = []
        try:
            for item, f in zip(items, found, strict=True):
                try:
                    out.append(self._decide(item, f))
                except DropItem as exc:
                    out.append(exc)
        finally:
            self.from_store = {}
        return out

    def _stored_parents(self, items: list[Mention], found: list[BrandMatch | None]) -> dict[int, Pair]:
        """The stored brand of every parent an unmatched repost or reply names that neither memory nor the batch
        itself (an earlier item may be the parent) holds."""
        if self.lookup is None:
            return {}
        in_batch = {hash((i.platform, i.source_id)) for i in items if i.source_id}
        wanted: dict[str, int] = {}
        for item, f in zip(items, found, strict=True):
            if f is not None or item.brand:
                continue
            for parent in (item.repost_of, item.reply_to):
                key = hash((item.platform, parent))
                if parent and key not in self.matched and key not in in_batch:
                    wanted[mapping.doc_id(item.platform, parent)] = key
        if not wanted:
            return {}
        return {wanted[mid]: pair for mid, pair in self.lookup(sorted(wanted)).items() if mid in wanted}

    def process_item(self, item: Mention) -> Mention:
        if not self.brands:
            return item
        return self._decide(item, match_with(self.matcher, item.text, item.title))

    def _decide(self, item: Mention, found: BrandMatch | None) -> Mention:
        if found is None:
            parent = self._parent(item)
            if item.brand:
                self._remember(item)
                return item
            if parent is not None:
                item.brand, item.product = parent[0], item.product or parent[1]
                self._remember(item)
                if self.stats is not None:
                    self.stats.inc_value("groundswell/brand_from_parent")
                return item
            if self.stats is not None:
                self.stats.inc_value("groundswell/dropped/no_brand")
            raise DropItem("no configured brand mentioned")
        if item.brand and fold(item.brand) != fold(found.brand):
            self._remember(item)
            return item  # the source said which brand; keep its word, and don't borrow another brand's product
        item.brand = item.brand or found.brand
        item.product = item.product or found.product
        self._remember(item)
        if self.stats is not None:
            self.stats.inc_value("groundswell/brand_matched")
        return item


def stored_brands(es: Elasticsearch, prefix: str, ids: list[str]) -> dict[str, Pair]:
    """The brand and product stored with each of these mentions (those stored with a brand): one ids search."""
    out: dict[str, Pair] = {}
    for mid, src in stored_sources(es, prefix, ids, ["brand", "product"]):
        if src.get("brand"):
            out.setdefault(mid, (str(src["brand"]), src.get("product")))
    return out


def _store_lookup(context: CrawlContext) -> Lookup:
    """Ask the store for parents' brands; when it cannot answer, say so once and go on without (as when a parent
    is unknown: the repost is dropped as naming no brand, which the crawl's stats count)."""
    warned: list[bool] = []

    def lookup(ids: list[str]) -> dict[str, Pair]:
        try:
            return stored_brands(context.es, context.prefix, ids)
        except Exception as exc:  # the store is the Elasticsearch stage's to spool for; here a parent stays unknown
            if not warned:
                warned.append(True)
                log.warning("brands of stored parents could not be read (%s); reposts of them need their own "
                            "brand name", type(exc).__name__)
            return {}

    return lookup
