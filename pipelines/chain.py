"""Runs the crawl's item pipelines outside a crawl, for `groundswell ingest`: same classes, same order,
built the same way (from_crawler with the project settings), so ingest and crawls share one code path."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scrapy.exceptions import DropItem
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object
from scrapy.utils.project import get_project_settings

from core.mention import Mention
from crawlers.context import CrawlContext


@dataclass
class _Context:
    """What the pipelines read from a crawler: its settings and its stats."""

    settings: Settings
    stats: Any = field(default=None)


class PipelineChain:
    def __init__(self, settings: Settings):
        self.context = _Context(settings)
        self.context.stats = MemoryStatsCollector(self.context)  # type: ignore[arg-type]
        classes = build_component_list(settings.getwithbase("ITEM_PIPELINES"))
        self.stages = [load_object(path).from_crawler(self.context) for path in classes]

    @classmethod
    def from_project(cls, overrides: dict[str, Any] | None = None) -> PipelineChain:
        settings = get_project_settings()
        settings.setdict(overrides or {}, priority="cmdline")
        return cls(settings)

    @property
    def stats(self) -> Any:
        return self.context.stats

    def stage(self, cls: type) -> Any:
        return next(s for s in self.stages if isinstance(s, cls))

    def open(self) -> None:
        for s in self.stages:
            if hasattr(s, "open_spider"):
                s.open_spider()

    def process(self, item: Mention) -> Mention | None:
        """The item after every stage, or None when a stage dropped it (the reason is raised as DropItem)."""
        for s in self.stages:
            if hasattr(s, "process_item"):
                item = s.process_item(item)
        return item

    def process_batch(self, items: list[Mention]) -> list[Mention | DropItem]:
        """Each item after every stage, or the DropItem that stopped it, in input order.

        A stage with `process_batch` (sentiment: both cores) gets the batch's surviving items at once; the
        others get them one by one, exactly as in a crawl.
        """
        results: list[Mention | DropItem] = list(items)
        for s in self.stages:
            live = [i for i, r in enumerate(results) if not isinstance(r, DropItem)]
            if not live:
                break
            if hasattr(s, "process_batch"):
                out = s.process_batch([results[i] for i in live])
                for i, o in zip(live, out, strict=True):
                    results[i] = o
            elif hasattr(s, "process_item"):
                for i in live:
                    try:
                        results[i] = s.process_item(results[i])
                    except DropItem as exc:
                        results[i] = exc
        return results

    def close(self) -> None:
        for s in reversed(self.stages):
            if hasattr(s, "close_spider"):
                s.close_spider()
        CrawlContext.of(self.context).close()

    def __enter__(self) -> PipelineChain:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["DropItem", "PipelineChain"]
