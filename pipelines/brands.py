"""The brand stage: sets a mention's brand and product (core.brands matches), drops mentions of no watched brand."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from scrapy.exceptions import DropItem

from core.brands import compile_brands, match
from core.config import Brand
from core.mention import Mention
from core.textfold import fold
from crawlers.context import CrawlContext


class BrandMatchPipeline:
    """Scrapy adapter: sets brand and product; drops mentions of no configured brand (counted in stats).

    A mention that arrived with an explicit brand (an ingest file, a brand-specific spider) is kept even when
    its text names no alias; so is a repost or reply of a mention this process matched ("转发微博" under a
    complaint is how it spreads); with no brands configured at all, every mention passes unchanged.
    """

    MEMORY = 100_000  # matched mentions remembered for their reposts and replies

    def __init__(self, brands: Iterable[Brand], stats: Any):
        self.brands = tuple(brands)
        self.stats = stats
        # hash((platform, source_id)) -> (brand, product), one shared tuple per pair: ~150 bytes a mention instead of
        # ~300 with the ids kept (64-bit hashes of 100,000 posts collide with odds of 1 in 10^9)
        self.matched: OrderedDict[int, tuple[str, str | None]] = OrderedDict()
        self._pairs: dict[tuple[str, str | None], tuple[str, str | None]] = {}
        if self.brands:
            compile_brands(self.brands)

    @classmethod
    def from_crawler(cls, crawler: Any) -> BrandMatchPipeline:
        return cls(CrawlContext.of(crawler).brands(), crawler.stats)

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
            if parent and (found := self.matched.get(hash((item.platform, parent)))) is not None:
                return found
        return None

    def process_item(self, item: Mention) -> Mention:
        if not self.brands:
            return item
        found = match(item.text, item.title, self.brands)
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
