"""Runs the crawl's analysis chain outside a crawl, for `groundswell ingest`: same classes, same order (the
GROUNDSWELL_STAGES setting), built the same way (from_crawler with the project settings), so ingest and crawls
share one code path."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from scrapy.exceptions import DropItem
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object
from scrapy.utils.project import get_project_settings

from core.mention import Analysed, Mention
from crawlers.context import CrawlContext
from pipelines.normalize import RejectedItem

log = logging.getLogger(__name__)

# an item after some stages: the mention, what a worker hands back of it for a writer (core.mention.Analysed:
# pipelines.parallel), or why it stopped
Outcome = Mention | Analysed | DropItem


def _one(stage: Any, item: Mention | Analysed) -> Outcome:
    """One stage on one item: its result, the DropItem it raised, or a RejectedItem saying it failed."""
    try:
        out: Mention | Analysed = stage.process_item(item)
    except DropItem as exc:
        return exc
    except Exception as exc:  # reported with the item's line; the other items go on
        log.debug("%s failed on %s", type(stage).__name__, item.origin, exc_info=True)
        return RejectedItem(f"{type(stage).__name__} failed on it: {type(exc).__name__}: {exc}"[:300])
    return out


def build_stages(crawler: Any) -> list[Any]:
    """The analysis chain's stages (GROUNDSWELL_STAGES), in order, each built by its from_crawler."""
    classes = build_component_list(crawler.settings.getdict("GROUNDSWELL_STAGES"))
    return [load_object(path).from_crawler(crawler) for path in classes]


def run_stages(stages: list[Any], results: list[Outcome]) -> list[Outcome]:
    """Each item after `stages`, or the DropItem that stopped it, in input order (items already dropped stay so).

    A stage with `process_batch` gets the batch's surviving items at once; the others get them one by one,
    exactly as in a crawl (after their `prepare_batch`, if they have one, saw them all). A stage that fails on one
    item (a bug a strange input found) costs that item only: it comes back as a RejectedItem naming the stage, and
    the rest go on. The one-process path and the analysis workers (pipelines.parallel) both run batches through
    here, so they cannot differ.
    """
    for s in stages:
        live = [i for i, r in enumerate(results) if not isinstance(r, DropItem)]
        if not live:
            break
        if hasattr(s, "process_batch"):
            try:
                out = s.process_batch([results[i] for i in live])
            except Exception:  # find the item at fault below, one by one
                log.info("%s failed on a batch; retrying its items one by one", type(s).__name__, exc_info=True)
            else:
                for i, o in zip(live, out, strict=True):
                    results[i] = o
                continue
        if hasattr(s, "prepare_batch"):  # work shared by the batch's items (a stage's own business, e.g. the
            # complaint model's features computed at once); only a preparation: each item is still processed alone
            try:
                s.prepare_batch([results[i] for i in live])
            except Exception:
                log.debug("%s could not prepare a batch; its items go one by one", type(s).__name__, exc_info=True)
        if hasattr(s, "process_item"):
            for i in live:
                results[i] = _one(s, results[i])  # type: ignore[arg-type]
    return results


@dataclass
class _Context:
    """What the pipelines read from a crawler: its settings and its stats."""

    settings: Settings
    stats: Any = field(default=None)


class PipelineChain:
    def __init__(self, settings: Settings):
        self.context = _Context(settings)
        self.context.stats = MemoryStatsCollector(self.context)  # type: ignore[arg-type]
        self.stages = build_stages(self.context)

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

    def process_batch(self, items: list[Mention]) -> list[Outcome]:
        """Each item after every stage, or the DropItem that stopped it, in input order (see run_stages)."""
        return run_stages(self.stages, list(items))

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


__all__ = ["DropItem", "PipelineChain", "build_stages", "run_stages"]
