"""`groundswell crawl SOURCE|SPIDER`: one crawl now, through the same pipelines as ingest, into Elasticsearch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from core.exits import ExitStatus
from groundswell.cli import progress
from groundswell.cli.common import (
    after_scrapy_logging,
    config_path,
    emit_json,
    exit_statuses,
    fail,
    load_config,
    verbosity,
)

SUMMARY_KEYS = (
    ("item_scraped_count", "scraped"),
    ("groundswell/indexed", "indexed"),
    ("groundswell/updated", "updated"),
    ("groundswell/duplicates", "duplicates"),
    ("groundswell/rejected", "rejected"),
    ("groundswell/dropped/no_brand", "dropped (no brand)"),
    ("groundswell/spooled", "spooled"),
    ("groundswell/parse_errors", "parse errors"),
    ("groundswell/skipped_posts", "skipped posts"),
    ("groundswell/login_wall", "login wall"),
    ("groundswell/retry_after", "waited for Retry-After"),
    ("groundswell/request_failed", "failed requests"),
    ("downloader/response_count", "responses"),
)


def _die_with_parent() -> None:
    """Started by `groundswell run`: stop when that service is gone, never crawl on alone (scheduler.children)."""
    import os

    from groundswell.scheduler.children import GRACE_ENV, PARENT_ENV, watch_parent

    parent = os.environ.get(PARENT_ENV, "")
    if parent.isdigit():
        try:
            grace = float(os.environ.get(GRACE_ENV) or 10)
        except ValueError:
            grace = 10.0
        watch_parent(int(parent), grace)


# a spider's own words are for `scrapy crawl -a NAME=VALUE`; here the same arguments have options of their own
_SPIDER_ARGUMENTS = {"-a keyword=...": "-k KEYWORD", "-a keyword=K": "-k KEYWORD", "-a base_url=URL": "--base-url URL",
                     "-a max_pages": "--max-pages"}


def in_our_words(message: str) -> str:
    """A spider's complaint about its arguments, naming this command's options where it has them."""
    for spider_words, ours in _SPIDER_ARGUMENTS.items():
        message = message.replace(spider_words, ours)
    return message


@exit_statuses(store=True, PARTIAL="the crawl stopped early (blocked, errors)",
               STORE_UNAVAILABLE="Elasticsearch did not answer: mentions were spooled for the next run")
@click.command()
@click.argument("spider", metavar="SOURCE|SPIDER")
@click.option("--keyword", "-k", help="Search keyword (default: every configured brand, one crawl each).")
@click.option("--base-url", help="Host to crawl instead of the real site (e.g. the simulator of `groundswell sites`).")
@click.option("--max-pages", type=click.IntRange(1, 10_000), help="Pages per search at most.")
@click.option("--arg", "-a", "extra", multiple=True, metavar="NAME=VALUE", help="Any other spider argument.")
@click.option("--json", "as_json", is_flag=True, help="Print the crawl's stats as one JSON object.")
@click.pass_context
def crawl(
    ctx: click.Context,
    spider: str,
    keyword: str | None,
    base_url: str | None,
    max_pages: int | None,
    extra: tuple[str, ...],
    as_json: bool,
) -> None:
    """Crawl one configured source (by its name in `sources:`) or run one spider (weibo, bilibili, reddit, jd,
    xiaohongshu, reviews) now, and store what it finds.

    A source brings its spider, keywords, base_url and max_pages; options given here override them. A
    configured source wins over a spider of the same name.

    A platform that refuses the crawl (a block, a login wall, missing credentials) stops that source at once: the
    summary says `blocked` and the platform's signal, `--json` has "outcome": "blocked" and "blocked": SIGNAL.
    Refused credentials, a missing privilege, TLS or a URL that is not Elasticsearch (4 to 7) stop the crawl
    without spooling.
    """
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    cfg = load_config(ctx)  # fail early, with the config error, before Scrapy starts
    _die_with_parent()
    args: dict[str, Any] = {}
    for item in extra:
        name, sep, value = item.partition("=")
        if not sep or not name:
            fail(f"--arg expects NAME=VALUE, got {item!r}", code=ExitStatus.USAGE)
        args[name] = value
    source = cfg.source(spider)
    source_keywords: list[str] = []
    if source is not None:
        spider = source.spider
        source_keywords = list(source.keywords)
        base_url = base_url or source.base_url
        max_pages = max_pages or source.max_pages
        if source.spider == "reviews":  # the generic reviews spider reads the source (selectors, start page)
            args.setdefault("source", source.name)
    if keyword:
        args["keyword"] = keyword
    if base_url:
        args["base_url"] = base_url
    if max_pages:
        args["max_pages"] = max_pages
    settings = get_project_settings()
    settings.set("GROUNDSWELL_CONFIG_PATH", config_path(ctx), priority="cmdline")
    settings.set("GROUNDSWELL_CONFIG", cfg, priority="cmdline")  # loaded once: every component of the crawl reads it
    settings.set("LOG_LEVEL", "INFO" if verbosity(ctx) else "WARNING", priority="cmdline")
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")  # our -v logging decides
    process = CrawlerProcess(settings)
    after_scrapy_logging(verbosity(ctx))
    if spider not in process.spider_loader.list():
        names = [src.name for src in cfg.sources]
        fail(
            f"no source or spider named {spider!r}; spiders: {', '.join(sorted(process.spider_loader.list()))}"
            + (f"; configured sources: {', '.join(names)}" if names else ""),
            code=ExitStatus.USAGE,
        )
    # no keyword: the source's keywords, else every configured brand (one crawl each, together in this process)
    keywords: list[str | None] = (
        [args.pop("keyword")] if "keyword" in args else list(source_keywords) or [b.name for b in cfg.brands]
    )
    keywords = keywords or [None]
    if keywords == [None] and getattr(process.spider_loader.load(spider), "keyword_required", False):
        fail(f"crawl {spider}: give a keyword with -k KEYWORD (or configure brands:, each crawled in turn, or a "
             "source with keywords:)", code=ExitStatus.USAGE)
    crawlers = []
    refused: list[str] = []  # spiders that refused their arguments (e.g. -a source=NAME not configured)

    def refuse(failure: Any) -> None:
        if failure.check(ValueError):
            refused.append(in_our_words(str(failure.value)))
        else:
            refused.append(f"{type(failure.value).__name__}: {failure.value}")

    for kw in keywords:
        crawler = process.create_crawler(spider)
        process.crawl(crawler, **args, **({"keyword": kw} if kw else {})).addErrback(refuse)
        crawlers.append((kw, crawler))
    with progress.spinner(f"crawling {spider}", progress.wanted(as_json)) as update:
        counts = {"items": 0, "responses": 0}

        def seen(key: str) -> Callable[..., None]:
            def bump(*_args: Any, **_kwargs: Any) -> None:
                counts[key] += 1
                update(f"crawling {spider}: {counts['responses']} responses, {counts['items']} items")

            return bump

        receivers = [seen("items"), seen("responses")]  # Scrapy holds receivers weakly: keep them alive here
        for _kw, crawler in crawlers:
            crawler.signals.connect(receivers[0], signal=signals.item_scraped)
            crawler.signals.connect(receivers[1], signal=signals.response_received)
        process.start()
    if refused:
        fail("\n".join(dict.fromkeys(refused)), code=ExitStatus.USAGE)
    spooled = failed = False
    store_refused: dict[str, int] = {}  # Elasticsearch refused us (credentials, privilege, TLS): message -> status
    for kw, crawler in crawlers:
        stats: dict[str, Any] = dict(crawler.stats.get_stats()) if crawler.crawling or crawler.spider else {}
        reason = stats.get("finish_reason", "unknown")
        signal = stats.get("groundswell/blocked")
        if as_json:
            plain = {k: v for k, v in stats.items() if isinstance(v, int | float | str)}
            outcome = {"outcome": "blocked", "blocked": str(signal)} if signal else {"outcome": reason}
            emit_json({"spider": spider, "keyword": kw, **plain, **outcome})
        else:
            shown = ", ".join(f"{label} {stats[key]}" for key, label in SUMMARY_KEYS if stats.get(key))
            said = f"blocked ({signal})" if signal else reason
            click.echo(f"{spider}{f' {kw}' if kw else ''}: {said}; {shown or 'nothing found'}")
        spooled = spooled or bool(stats.get("groundswell/spooled"))
        if stats.get("groundswell/store_status"):
            store_refused[str(stats.get("groundswell/store_error"))] = int(stats["groundswell/store_status"])
        failed = failed or reason != "finished"
        failed = failed or bool(stats.get("groundswell/request_failed") and not stats.get("item_scraped_count"))
    if store_refused:
        message, code = next(iter(store_refused.items()))
        fail(f"{message}\nthe crawl stopped; nothing was spooled (the next crawl fetches it again)",
             code=ExitStatus(code))
    if spooled:
        ctx.exit(ExitStatus.STORE_UNAVAILABLE)
    if failed:
        ctx.exit(ExitStatus.PARTIAL)
