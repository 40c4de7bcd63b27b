"""`groundswell status`: each scheduled job's last run, next run and result, and each source's crawler health."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import click
from elasticsearch import Elasticsearch, NotFoundError

from core import display
from core.config import Config
from core.timefmt import people_time
from core.times import iso
from groundswell.cli.common import emit_json, exit_statuses, handles_store_errors, load_config

RUN_FIELDS = ("started_at", "finished_at", "result", "exit_code", "duration_seconds", "items", "indexed", "spooled",
              "error")
HEALTH_FIELDS = ("finished_at", "finish_reason", "items", "indexed", "pages", "parse_errors", "request_failures",
                 "login_wall", "zero_results", "broken", "silent", "blocked")


def stored_jobs(cfg: Config) -> list[Any]:
    """The jobs in the job store, without starting a scheduler (and without creating a SQLite file)."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from groundswell.scheduler.service import job_store_url

    url = job_store_url(cfg)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return []
    store = SQLAlchemyJobStore(url=url)
    store.start(BackgroundScheduler(timezone=UTC), "default")
    try:
        return list(store.get_all_jobs())
    finally:
        store.shutdown()


def latest_crawls(es: Elasticsearch, prefix: str) -> list[dict[str, Any]]:
    """The newest crawl-run record of every source key (crawlers.extensions writes them)."""
    from store.state import runs_index

    try:
        res = es.search(index=runs_index(prefix), collapse={"field": "source_key"},
                        sort=[{"finished_at": {"order": "desc"}}], size=1000)
    except NotFoundError:
        return []
    return [hit["_source"] for hit in res["hits"]["hits"]]


def configured_source(cfg: Config, source_key: str) -> str | None:
    """The configured source whose crawls record under this key (spider:keyword, @host for a non-real site)."""
    for src in cfg.sources:
        for kw in src.keywords or tuple(b.name for b in cfg.brands):
            key = f"{src.spider}:{kw}"
            if source_key == key or source_key.startswith(key + "@"):
                return src.name
    return None


def build_status(cfg: Config, es: Elasticsearch) -> dict[str, Any]:
    from core import clock
    from groundswell.scheduler import runs
    from groundswell.scheduler.service import job_store_url, product_time, running_pid

    prefix = cfg.elasticsearch.index_prefix
    last = runs.latest_per_job(es, prefix)
    jobs_out: list[dict[str, Any]] = []
    for job in sorted(stored_jobs(cfg), key=lambda j: j.id):
        nxt = job.next_run_time
        kind, _, source = job.id.partition(":")
        jobs_out.append({
            "id": job.id, "kind": kind, "source": source or None, "name": job.name, "trigger": str(job.trigger),
            "next_run": iso(product_time(nxt) or nxt) if nxt else None,
            "last_run": _pick(last.pop(job.id, None), RUN_FIELDS),
        })
    for job_id, doc in sorted(last.items()):  # runs of jobs no longer (or never) in the store: --once, removed
        jobs_out.append({"id": job_id, "kind": doc.get("kind"), "source": doc.get("source"), "name": None,
                         "trigger": None, "next_run": None, "last_run": _pick(doc, RUN_FIELDS)})
    sources = []
    for doc in latest_crawls(es, prefix):
        sources.append({"source_key": doc.get("source_key"), "source": configured_source(cfg, doc["source_key"]),
                        "spider": doc.get("spider"), "keyword": doc.get("keyword"), **_pick(doc, HEALTH_FIELDS)})
    sources.sort(key=lambda s: str(s["source_key"]))
    pid = running_pid(cfg)
    return {
        "now": iso(clock.now()), "index_prefix": prefix, "job_store": job_store_url(cfg),
        "running": pid is not None, "pid": pid, "jobs": jobs_out, "sources": sources,
        "deployment": deployment(cfg),
    }


def deployment(cfg: Config) -> dict[str, Any] | None:
    """With Redis: who holds the scheduler lease, which workers are alive, how many crawls wait for one."""
    if not cfg.redis.enabled:
        return None
    import redis

    from crawlers.redis_conn import connect, describe, key_prefix
    from groundswell.workers.queue import UnitQueue

    client = connect(cfg.redis)
    try:
        holder = client.get(f"{key_prefix(cfg)}:scheduler:lease")
        queue = UnitQueue(client, key_prefix(cfg))
        return {"redis": cfg.redis.shown_url, "scheduler": holder.decode() if isinstance(holder, bytes) else None,
                "workers": [{"worker": w.worker_id, "running": w.running} for w in queue.workers()],
                "crawls_waiting": queue.waiting()}
    except redis.RedisError as exc:
        return {"redis": cfg.redis.shown_url, "error": describe(cfg.redis, exc)}
    finally:
        client.close()


show = display.line  # source keys and job ids carry keywords people typed or crawled


def _pick(doc: dict[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: doc.get(k) for k in keys} if doc else {}


def _short(value: Any, tz: tzinfo | None) -> str:
    """A stored time as people read it (core.timefmt), in the configured `timezone:`."""
    if not value:
        return "-"
    try:
        return people_time(datetime.fromisoformat(str(value).replace("Z", "+00:00")), tz, seconds=True)
    except ValueError:
        return str(value)


@exit_statuses(store=True)
@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: jobs, their runs, and source health.")
@click.pass_context
@handles_store_errors
def status(ctx: click.Context, as_json: bool) -> None:
    """Each job's last run (result, when, what it did), its next run, and the crawler-health flags of each source's
    latest crawl (zero results, broken, silent). Times are in the configured `timezone:` (default UTC)."""
    from store.client import make_client

    cfg = load_config(ctx)
    es = make_client(cfg.elasticsearch, retries=0)
    try:
        report = build_status(cfg, es)
    finally:
        es.close()
    if as_json:
        emit_json(report)
        return
    state = f"running (pid {report['pid']})" if report["running"] else "not running"
    if (report["deployment"] or {}).get("scheduler"):
        state = f"running at {report['deployment']['scheduler']} (the lease holder)"
    tz = cfg.zone
    click.echo(f"scheduler: {state}; job store {report['job_store']}; now {_short(report['now'], tz)}")
    dep = report["deployment"]
    if dep is not None and dep.get("error"):
        click.echo(f"redis: {dep['error']}")
    elif dep is not None:
        workers = ", ".join(f"{w['worker']} ({len(w['running'])} crawls)" for w in dep["workers"]) or "none alive"
        click.echo(f"redis {dep['redis']}: schedule run by {dep['scheduler'] or 'nobody (no active scheduler)'}; "
                   f"workers: {workers}; crawls waiting: {dep['crawls_waiting']}")
    if not report["jobs"]:
        click.echo("no jobs yet: start `groundswell run`")
    else:
        rows = [["job", "last result", "last finished", "next run", "detail"]]
        for j in report["jobs"]:
            lr = j["last_run"] or {}
            detail = lr.get("error") or (f"{lr.get('items') or 0} items, {lr.get('indexed') or 0} new"
                                         if j["kind"] in ("crawl", "revisit") and lr else "")
            rows.append([show(j["id"]), str(lr.get("result") or "never"), _short(lr.get("finished_at"), tz),
                         _short(j["next_run"], tz), show(detail)])
        for line in display.table(rows):
            click.echo(line)
    if report["sources"]:
        click.echo("\ncrawler health (latest crawl of each source):")
        rows = []
        for s in report["sources"]:
            flags = [f for f in ("blocked", "broken", "silent", "zero_results") if s.get(f)]
            rows.append([show(s["source_key"]), show(s.get("finish_reason") or "?"), f"{s.get('items') or 0} items",
                         ", ".join(flags).upper() or "healthy", f"({show(s['source'])})" if s["source"] else ""])
        for line in display.table(rows, right=frozenset({2})):
            click.echo(f"  {line}")
