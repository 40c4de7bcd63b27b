"""`groundswell run`: the long-running service (crawls, alerts, digest, revisits, retention on a schedule)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import click

from core.exits import ExitStatus
from core.timefmt import people_time
from core.times import iso
from groundswell.cli import progress
from groundswell.cli.common import config_path, emit_json, exit_statuses, fail, load_config


def _run_json(run: Any) -> dict[str, Any]:
    doc: dict[str, Any] = run.to_document()
    return {"event": "job_run", **doc}


@exit_statuses(OK="stopped cleanly (--once: every job ok)",
               PARTIAL="a job failed (--once), or another `groundswell run` holds the job store",
               USAGE="bad configuration or options; the console's secret key missing or its port taken")
@click.command("run")
@click.option("--once", is_flag=True,
              help="Run every crawl (in parallel), then retention, compaction, alerts and the digest once now, "
                   "and exit.")
@click.option("--for", "duration", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Stop cleanly after SECONDS real seconds (default: until SIGTERM or Ctrl-C).")
@click.option("--grace", type=click.FloatRange(min=0), default=15.0, show_default=True,
              help="At stop, seconds that crawls in flight may take before they get SIGTERM.")
@click.option("--kill-grace", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds between SIGTERM and SIGKILL for a crawl past its time limit or the grace.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line: the jobs, each run, the end.")
@click.pass_context
def run(ctx: click.Context, once: bool, duration: float | None, grace: float, kill_grace: float,
        as_json: bool) -> None:
    """Run the service: every enabled source's crawl (interval_minutes or cron, with jitter), engagement revisits,
    alert evaluation, the digest (alerting.digest_minutes), retention (scheduler.retention_months) and the
    compaction of finished months (scheduler.compact_after_days).

    Jobs persist in a SQLAlchemy job store (scheduler.job_store_url; default SQLite under the Groundswell home)
    and are reconciled with the configuration at start. A job never overlaps itself; crawls run as child
    processes killed at the source's time_limit_minutes. Every run is logged and recorded in
    <prefix>-job-runs (see `groundswell status`), as running from its start: a run a killed or crashed service
    never finished is recorded lost at the next start, which also stops crawl children it left behind. With
    GROUNDSWELL_CLOCK set, schedules follow the simulated clock. SIGTERM or Ctrl-C stops cleanly: no new job
    starts, crawls in flight get --grace seconds, then SIGTERM (Scrapy flushes what it holds), then SIGKILL.

    With web.enabled, the console (`groundswell web`) is served beside the scheduler on web.host:web.port.
    """
    from core import clock
    from groundswell.scheduler import jobs, plan, service
    from groundswell.scheduler.children import Children
    from groundswell.scheduler.forkserver import ForkServer
    from store.client import make_client

    if once and duration is not None:
        fail("--once and --for exclude each other", code=ExitStatus.USAGE)
    cfg = load_config(ctx)
    try:
        sim = clock.freeze()  # children share this origin of simulated time
        specs = plan.plan_jobs(cfg, sim, cfg.zone)  # cron lines are read in the configured timezone
    except (clock.ClockError, plan.PlanError) as exc:
        fail(f"configuration error:\n{exc}", code=ExitStatus.USAGE)
    path = config_path(ctx) or cfg.path
    es = make_client(cfg.elasticsearch, retries=1)
    show = progress.wanted(as_json)

    printing = threading.Lock()  # job threads finish concurrently: one whole line each

    def on_run(r: Any) -> None:
        with printing:
            if as_json:
                emit_json(_run_json(r))
            else:
                # the run's own end, on Groundswell's clock (the simulated one in a demo), as status shows it
                click.echo(f"{people_time(r.finished_at, cfg.zone, seconds=True)} {jobs.describe_run(r)}")
            sys.stdout.flush()  # a line as it happens, also into a pipe (a supervisor, a test reading events)

    forks = ForkServer() if cfg.scheduler.fork_children else None
    children = Children(kill_grace=kill_grace, folder=None if once else service.children_dir(cfg), forks=forks)
    rt = jobs.Runtime(cfg, es, children,
                      config_path=os.path.abspath(path) if path else None, on_run=on_run,
                      store_key=None if once else service.store_key(cfg), running_since=None if once else clock.now())
    jobs.install(rt)
    try:
        if once:
            _recover(rt, None, as_json)
            done = service.run_each_once(specs)
            failed = [r for r in done if r.result not in ("ok", "skipped")]
            if as_json:
                emit_json({"event": "end", "runs": len(done), "failed": [r.job_id for r in failed]})
            ctx.exit(ExitStatus.PARTIAL if failed else ExitStatus.OK)
        if cfg.redis.enabled:  # several schedulers may run: the one holding the lease schedules
            _serve(cfg, rt, specs, duration, grace, as_json, show, lease=_lease(cfg))
            return
        try:
            with service.hold_lock(cfg):
                _recover(rt, service.children_dir(cfg), as_json)
                _serve(cfg, rt, specs, duration, grace, as_json, show)
        except service.AlreadyRunning as exc:
            fail(str(exc), code=ExitStatus.PARTIAL)
    finally:
        jobs.install(None)
        es.close()


def _recover(rt: Any, orphans: Any, as_json: bool) -> None:
    """What a killed or crashed earlier service left: its children stopped, its unfinished runs recorded lost."""
    from groundswell.scheduler import service
    from store.client import describe_error

    try:
        found = service.recover(rt, orphans)
    except Exception as exc:  # bookkeeping of the past must not keep the service from starting; it is said
        click.echo(f"groundswell run: could not check for runs a previous service lost: "
                   f"{describe_error(rt.cfg.elasticsearch.effective_url, exc)}", err=True)
        return
    for note in found.orphans:
        if as_json:
            emit_json({"event": "orphan_stopped", "pid": note["pid"], "cmd": note.get("cmd")})
        else:
            click.echo(f"groundswell run: stopped child {note['pid']} left running by a previous service", err=True)
    for run in found.lost:
        if as_json:
            emit_json({"event": "lost", **run.to_document()})
        else:
            click.echo(f"groundswell run: {run.job_id} (started {run.started_at.isoformat()}) was lost: {run.error}",
                       err=True)


def _lease(cfg: Any) -> Any:
    from crawlers.redis_conn import connect, key_prefix
    from groundswell.scheduler.lease import Lease

    return Lease(connect(cfg.redis), f"{key_prefix(cfg)}:scheduler:lease", cfg.redis.lease_seconds)


def _serve(cfg: Any, rt: Any, specs: list[Any], duration: float | None, grace: float, as_json: bool,
           show: bool, lease: Any = None) -> None:
    from groundswell.scheduler import service, standby

    svc = service.Service(cfg, rt, grace=grace)
    signals_seen: list[int] = []
    console = _start_console(cfg, as_json)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals_seen.append(signum)
        if len(signals_seen) == 1:
            click.echo(f"groundswell run: {signal.Signals(signum).name}: stopping (crawls in flight get "
                       f"{grace:g}s, a second signal stops them now)", err=True)
            svc.stop()
        else:
            rt.children.terminate_all("shutdown")

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)

    def announce() -> None:
        jobs_now = svc.jobs()
        if as_json:
            emit_json({"event": "start", "pid": os.getpid(), "job_store": service.job_store_url(cfg),
                       **svc.reconciled.to_json(), "jobs": [_job_json(j) for j in jobs_now]})
        else:
            r = svc.reconciled
            click.echo(f"groundswell run: {len(jobs_now)} jobs in {service.job_store_url(cfg)} "
                       f"({len(r.added)} added, {len(r.replaced)} replaced, {len(r.removed)} removed, "
                       f"{len(r.kept)} kept)" + (f"; stopping after {duration:g}s" if duration is not None else ""),
                       err=True)
            for j in jobs_now:
                click.echo(f"  {j.id:<28} {j.trigger}", err=True)
        sys.stdout.flush()

    def on_event(name: str, fields: dict[str, Any]) -> None:
        if name == "active":
            announce()
        elif as_json:
            emit_json({"event": name, "pid": os.getpid(), **fields})
            sys.stdout.flush()
        elif name == "standby":
            click.echo(f"groundswell run: standing by; the schedule runs at {fields.get('holder')}", err=True)
        elif name == "lost":
            click.echo(f"groundswell run: {fields.get('job_id')} (started {fields.get('started_at')}) was lost: "
                       f"{fields.get('error')}", err=True)
        else:
            click.echo("groundswell run: lost the scheduler lease; standing by", err=True)

    try:
        with progress.spinner("running", show) as update:

            def tick() -> None:
                upcoming = sorted((j for j in svc.jobs() if j.next_run_time), key=lambda j: j.next_run_time)
                busy = rt.children.running()
                if upcoming:
                    wait = (upcoming[0].next_run_time - datetime.now(UTC)).total_seconds()
                    update(f"{busy} crawl(s) running; next: {upcoming[0].id} in {max(wait, 0):.0f}s")

            if lease is not None:
                standby.serve(svc, lease, specs, duration, on_event, tick if show else None)
            else:
                svc.start(specs)
                announce()
                svc.wait(duration, tick if show else None)
    finally:
        svc.shutdown()
        if console is not None:
            console.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if as_json:
        emit_json({"event": "end", "signal": signal.Signals(signals_seen[0]).name if signals_seen else None})
    else:
        click.echo("groundswell run: stopped", err=True)


def _start_console(cfg: Any, as_json: bool) -> Any:
    """The console beside the scheduler when `web.enabled` is set; a missing secret or a taken port stops the start
    with one clear line (exit 2), before any job runs."""
    if not cfg.web.enabled:
        return None
    from groundswell.web.app import ConsoleError
    from groundswell.web.server import Console

    try:
        console = Console(cfg, cfg.web.host, cfg.web.port).start()
    except ConsoleError as exc:
        fail(f"web.enabled: {exc}", code=ExitStatus.USAGE)
    except OSError as exc:
        fail(f"web.enabled: cannot listen on {cfg.web.host}:{cfg.web.port}: {exc.strerror or exc}",
             code=ExitStatus.USAGE)
    if as_json:
        emit_json({"event": "console", "url": console.url, "public_url": cfg.alerting.console_url})
    else:
        click.echo(f"groundswell run: console on {console.url}", err=True)
    return console


def _job_json(job: Any) -> dict[str, Any]:
    from groundswell.scheduler.service import product_time

    nxt = job.next_run_time
    return {"id": job.id, "name": job.name, "trigger": str(job.trigger),
            "next_run": iso(nxt) if nxt else None,
            "next_run_product": iso(product_time(nxt) or nxt) if nxt else None}
