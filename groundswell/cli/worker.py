"""`groundswell worker`: a crawl worker (groundswell.workers.worker); run any number on any hosts."""

from __future__ import annotations

from typing import Any

import click

from core.exits import ExitStatus
from groundswell.cli.common import (
    after_scrapy_logging,
    config_path,
    emit_json,
    exit_statuses,
    fail,
    load_config,
    verbosity,
)


@exit_statuses(USAGE="no Redis configured, or it does not answer (the message says which)")
@click.command("worker")
@click.option("--crawls", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Crawls this worker runs at once (units it owns and shared units it helps with).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line: start, each unit, stop.")
@click.pass_context
def worker(ctx: click.Context, crawls: int, as_json: bool) -> None:
    """Take crawls from Redis (GROUNDSWELL_REDIS_URL or redis.url) and run them, until SIGTERM or Ctrl-C.

    `groundswell run` enqueues its crawls for workers when redis.workers is true. A crawl of a spider whose pages
    can be shared (bilibili) spreads over idle workers through one request queue and dupe filter in Redis; per
    domain rate limits, Retry-After and platform accounts are shared there too. A stopped worker hands its crawls
    back; a killed one loses nothing either: what it held goes back to the queue after redis.visibility_seconds
    (requests) and redis.worker_lease_seconds (crawls).
    """
    import sys

    from crawlers.redis_conn import connect, describe
    from groundswell.workers.worker import Worker, worker_settings

    cfg = load_config(ctx)
    if not cfg.redis.enabled:
        fail("no Redis configured: set GROUNDSWELL_REDIS_URL (or redis.url in the configuration)",
             code=ExitStatus.USAGE)
    try:
        connect(cfg.redis).ping()
    except Exception as exc:
        fail(describe(cfg.redis, exc), code=ExitStatus.USAGE)
    settings = worker_settings(cfg, config_path(ctx), verbosity(ctx))

    def emit(event: dict[str, Any]) -> None:
        if as_json:
            emit_json(event)
        elif event["event"] == "unit_done":
            click.echo(f"{event['unit']} ({event['role']}): {event['finish_reason']}, {event['items']} items, "
                       f"{event['seconds']:.1f}s")
        elif event["event"] == "worker_started":
            click.echo(f"groundswell worker {event['worker']}: taking crawls from {event['redis']}", err=True)
        sys.stdout.flush()

    crawls_worker = Worker(cfg, settings, crawls, emit)  # (not `worker`: that is this command)
    after_scrapy_logging(verbosity(ctx))
    crawls_worker.run()
