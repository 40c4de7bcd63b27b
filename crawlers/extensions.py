"""Crawler health: every crawl leaves one record in `<prefix>-crawl-runs` (store.state).

A monitor that silently stops finding anything is worse than one that crashes, so each run records its
counts, the platform's signal when it refused us (blocked: a block is not a broken source) and the flags the
alerting side reads: zero_results, missing_fields (as many posts lost a required field as were read), broken
(parse errors, missing fields, a changed layout, or failed requests and nothing found) and silent (nothing found
while the previous runs of the same source found something). Reaching
Elasticsearch here is best effort: a failure is logged and never touches the crawl or its items.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any, Self

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from core import clock
from crawlers.context import CrawlContext
from store import state
from store.client import describe_error

log = logging.getLogger(__name__)


def _int(stats: dict[str, Any], key: str) -> int:
    value = stats.get(key)
    return int(value) if isinstance(value, int | float) else 0


def run_from_stats(
    spider: Spider, reason: str, stats: dict[str, Any], started_at: datetime | None, finished_at: datetime
) -> state.CrawlRun:
    """A run record from Scrapy's stats and the spider's identity (flags are set later, by `judge`)."""
    keyword = str(getattr(spider, "keyword", "") or "")
    return state.CrawlRun(
        run_id=uuid.uuid4().hex,
        spider=spider.name,
        keyword=keyword,
        source_key=str(getattr(spider, "source_key", "") or f"{spider.name}:{keyword}"),
        started_at=started_at,
        finished_at=finished_at,
        finish_reason=reason,
        incremental=bool(getattr(spider, "incremental", False)),
        pages=_int(stats, "downloader/response_count"),
        items=_int(stats, "item_scraped_count"),
        items_found=_int(stats, "groundswell/mentions_found"),
        indexed=_int(stats, "groundswell/indexed"),
        parse_errors=_int(stats, "groundswell/parse_errors"),
        skipped_posts=_int(stats, "groundswell/skipped_posts"),
        login_wall=bool(_int(stats, "groundswell/login_wall")),
        request_failures=_int(stats, "groundswell/request_failed"),
        blocked=str(stats.get("groundswell/blocked") or ""),
    )


class CrawlHealth:
    """Scrapy extension: records the run on `spider_closed`.

    Connected with bound methods: Scrapy holds signal receivers weakly, so a lambda would be collected.
    """

    def __init__(self, crawler: Crawler, context: CrawlContext):
        self.crawler = crawler
        self.context = context
        self.started_at: datetime | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        ext = cls(crawler, CrawlContext.of(crawler))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        self.started_at = clock.now()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        stats = dict(self.crawler.stats.get_stats()) if self.crawler.stats is not None else {}
        unit = self.context.unit if self.context.shared else None
        if unit is not None:  # a shared crawl has one record, its owner's, of every worker's counts
            if not self.context.owner:
                return
            try:
                stats = unit.stats()
            except Exception as exc:  # Redis gone: record this worker's part rather than nothing
                log.error("crawl run of %s: cannot read the other workers' counts: %s", unit.unit_id, exc)
        run = run_from_stats(spider, reason, stats, self.started_at, clock.now())
        url, prefix, es = self.context.url, self.context.prefix, self.context.es
        try:
            run.judge(state.recent_runs(es, prefix, run.source_key, state.SILENT_AFTER))
            state.record_run(es, prefix, run)
        except Exception as exc:  # health records are best effort; the crawl and its items are done already
            log.error(
                "crawl run of %s not recorded in %s: %s", run.source_key, state.runs_index(prefix),
                describe_error(url, exc),
            )
            return
        level = logging.WARNING if run.broken or run.silent or run.blocked else logging.INFO
        log.log(
            level, "crawl run of %s: %s, %d pages, %d items%s%s%s%s", run.source_key, reason, run.pages, run.items,
            ", zero results" if run.zero_results else "",
            ", BROKEN" + (" (required fields missing)" if run.missing_fields else "") if run.broken else "",
            f", BLOCKED ({run.blocked})" if run.blocked else "",
            ", SILENT" if run.silent else "",
        )
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("groundswell/run_recorded", 1)
