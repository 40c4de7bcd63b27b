"""`groundswell alerts run|backtest|list|show|ack|resolve`: the alert rules and incidents, for humans."""

from __future__ import annotations

import getpass
import re
from datetime import datetime, timedelta

import click

from alerts.handling import timeline
from core import clock, display
from core.exits import ExitStatus
from core.timefmt import people_time
from core.times import iso
from groundswell.cli import progress
from groundswell.cli.common import (
    TIME_FORMS,
    emit_json,
    exit_statuses,
    fail,
    handles_store_errors,
    load_config,
    parse_when,
)

show = display.line  # every crawled (or rule-made, which quotes crawled) text shown to a person
_STEP = re.compile(r"^(\d+)\s*([smhd])$")
MAX_EVALUATIONS = 100_000  # a backtest longer than this is a typo in --step or --from, not a plan
MAX_STEP = timedelta(days=366)


def _when(ctx: click.Context, value: str | None, option: str) -> datetime:
    """--at/--from/--to: the forms `search --since` takes (ISO, `now`, 24h back); default now."""
    return parse_when(value, option, load_config(ctx).zone) if value else clock.now()


def _step(value: str) -> timedelta:
    m = _STEP.match(value.strip())
    if not m or int(m.group(1)) == 0 or len(m.group(1)) > 9:
        fail(f"--step: expected a positive duration like 90s, 5m, 1h (got {value!r})", code=ExitStatus.USAGE)
    assert m is not None
    n, unit = int(m.group(1)), m.group(2)
    seconds = n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    if seconds > MAX_STEP.total_seconds():
        fail(f"--step: at most {MAX_STEP.days} days between evaluations (got {value!r})", code=ExitStatus.USAGE)
    return timedelta(seconds=seconds)




def _client(ctx: click.Context):  # type: ignore[no-untyped-def]
    from store.client import make_client

    return make_client(load_config(ctx).elasticsearch)


@click.group()
def alerts() -> None:
    """Alert rules and the incidents they open (see `alerts run --help`)."""


@exit_statuses(store=True, PARTIAL="a rule or an email failed (reported)")
@alerts.command("run")
@click.option("--at", "at_", metavar="TIME", help="Evaluate as if it were this instant (default: now). "
              f"TIME is {TIME_FORMS}.")
@click.option("--no-send", is_flag=True, help="Queue emails in the outbox but do not deliver them now.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.pass_context
@handles_store_errors
def run_cmd(ctx: click.Context, at_: str | None, no_send: bool, as_json: bool) -> None:
    """Evaluate every rule once (only mentions published and first crawled by --at, and observations crawled by
    then), open, update or resolve incidents, send the emails that are due, and print what fired. A rule that
    cannot run is reported and opens an incident about itself (rule:NAME)."""
    from alerts.engine import run_once

    cfg = load_config(ctx)
    report = run_once(cfg, _client(ctx), _when(ctx, at_, "--at"), send=not no_send)
    if as_json:
        emit_json(report.to_json())
    else:
        click.echo(f"evaluated at {people_time(report.at, cfg.zone)}: {len(report.matches)} matches")
        for p in report.placed:
            m = p.match
            click.echo(f"  match  {m.severity:<7} {show(m.rule)}: {show(m.summary)}")
            if p.outcome == "joined":
                opened = people_time(p.incident.opened_at, cfg.zone)
                click.echo(f"         joined {p.incident.incident_id} (opened {opened}, {p.incident.status}), "
                           f"no email: {p.why}")
        for i in report.opened:
            click.echo(f"  OPENED {i.severity:<7} {i.incident_id} {show(i.brand or '')}: {show(i.summary)}")
        for i in report.escalated:
            click.echo(f"  ESCALATED to {i.severity} {i.incident_id}: {show(i.summary)}")
        for i in report.resolved:
            click.echo(f"  resolved {i.incident_id} ({i.resolve_reason})")
        held = " (--no-send: nothing delivered now)" if no_send else ""
        click.echo(f"emails: {report.emails_queued} queued, {report.emails_sent} sent, "
                   f"{report.emails_pending} waiting in the outbox{held}")
        for e in report.errors:
            click.echo(f"  error: {show(e)}", err=True)
    if report.errors:
        ctx.exit(ExitStatus.PARTIAL)


@exit_statuses(store=True, PARTIAL="a rule failed at some instant (reported)")
@alerts.command("backtest")
@click.option("--from", "start", required=True, metavar="TIME",
              help="First instant evaluated: ISO (without an offset in the configured timezone) or a span back (7d).")
@click.option("--to", "end", metavar="TIME", help="Last instant evaluated, in the same forms (default: now).")
@click.option("--step", default="5m", show_default=True, help="Time between evaluations (s, m, h, d).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event.")
@click.pass_context
@handles_store_errors
def backtest_cmd(ctx: click.Context, start: str, end: str | None, step: str, as_json: bool) -> None:
    """Replay a period without sending email or touching real incidents: the incidents the rules would have
    opened (and escalated, resolved), and when."""
    from alerts.engine import backtest

    cfg = load_config(ctx)
    t0, t1, dt = _when(ctx, start, "--from"), _when(ctx, end, "--to"), _step(step)
    if t1 < t0:
        fail("--to is before --from", code=ExitStatus.USAGE)
    if (t1 - t0) / dt > MAX_EVALUATIONS:
        fail(f"--from {start} --to {end or 'now'} every {step} is {int((t1 - t0) / dt) + 1:,} evaluations (at most "
             f"{MAX_EVALUATIONS:,}): use a larger --step or a shorter period", code=ExitStatus.USAGE)
    with progress.spinner("backtesting", progress.wanted(as_json)) as update:
        events, errors = backtest(cfg, _client(ctx), t0, t1, dt,
                                  progress=lambda at: update(f"backtesting: evaluated {people_time(at, cfg.zone)}"))
    for ev in events:
        i = ev.incident
        if as_json:
            emit_json({"at": iso(ev.at), "event": ev.kind, "severity": ev.severity,
                       "incident_id": i.incident_id, "brand": i.brand, "category": i.category,
                       "summary": i.summary})
        else:
            click.echo(f"{people_time(ev.at, cfg.zone)}  {ev.kind:<9} {ev.severity:<7} {show(i.brand or '-')}  "
                       f"{show(i.summary)}")
    if not as_json:
        opened = sum(1 for e in events if e.kind == "opened")
        escalated = sum(1 for e in events if e.kind == "escalated")
        steps = int((t1 - t0) / dt) + 1
        click.echo(f"{steps} evaluations: {opened} incidents opened, {escalated} escalations (nothing sent)")
    for e in errors:
        click.echo(f"error: {show(e)}", err=True)
    if errors:
        ctx.exit(ExitStatus.PARTIAL)


@exit_statuses(store=True)
@alerts.command("list")
@click.option("--status", type=click.Choice(["open", "acknowledged", "resolved", "all"]), default="all",
              show_default=True, help="Only incidents in this state.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True,
              help="Most incidents shown.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per incident.")
@click.pass_context
@handles_store_errors
def list_cmd(ctx: click.Context, status: str, limit: int, as_json: bool) -> None:
    """Incidents, newest first."""
    from alerts.engine import incident_store

    cfg = load_config(ctx)
    found = incident_store(cfg, _client(ctx)).search(None if status == "all" else status, limit)
    if as_json:
        for i in found:
            emit_json(i.to_document())
        return
    rows = [["incident", "status", "severity", "opened", "about", "emails", "summary"]]
    for i in found:
        sent = ",".join(dict.fromkeys(n.kind for n in i.notifications)) or "-"
        rows.append([i.incident_id, i.status, i.severity, people_time(i.opened_at, cfg.zone),
                     show(i.brand or i.source_key or "-", 40), sent, show(i.summary)])
    for line in display.table(rows) if found else ["no incidents"]:
        click.echo(line)


@exit_statuses(store=True, PARTIAL="no such incident")
@alerts.command("show")
@click.argument("incident_id")
@click.option("--json", "as_json", is_flag=True, help="Print the incident as one JSON object (the whole timeline).")
@click.pass_context
@handles_store_errors
def show_cmd(ctx: click.Context, incident_id: str, as_json: bool) -> None:
    """One incident: its evidence, timeline, emails and top posts."""
    from alerts.engine import incident_store
    from alerts.report import mentions_for

    cfg = load_config(ctx)
    es = _client(ctx)
    inc = incident_store(cfg, es).get(incident_id)
    if inc is None:
        fail(f"no incident {incident_id!r} under prefix {cfg.elasticsearch.index_prefix!r}")
    assert inc is not None
    if as_json:
        emit_json(inc.to_document())
        return
    click.echo(f"{inc.incident_id}  {inc.status}  {inc.severity}")
    click.echo(f"  {show(inc.summary)}")
    clusters = show(", ".join(inc.cluster_ids)) or "-"
    click.echo(f"  brand {show(inc.brand or '-')}  category {show(inc.category or '-')}  clusters {clusters}")
    tz = cfg.zone
    click.echo(f"  opened {people_time(inc.opened_at, tz)}  last match {people_time(inc.last_match_at, tz)}  "
               f"matches {inc.matches}  rules {show(', '.join(inc.rules))}")
    if inc.resolved_at:
        click.echo(f"  resolved {people_time(inc.resolved_at, tz)} ({inc.resolve_reason})")
    if inc.acknowledged_at:
        click.echo(f"  acknowledged {people_time(inc.acknowledged_at, tz)} by {show(inc.acknowledged_by)}")
    if inc.evidence:
        click.echo("  evidence: " + ", ".join(f"{k} {v:g}" for k, v in sorted(inc.evidence.items())))
    events = timeline(inc)
    if len(events) > 20:
        click.echo(f"  timeline (the last 20 of {len(events)}; --json has all):")
    for e in events[-20:]:
        by = f" by {show(e.by)}" if e.by else ""
        click.echo(f"  {people_time(e.at, tz)}  {e.kind:<12} {show(' '.join(e.text.split()))}{by}")
    for p in mentions_for(es, cfg, inc.mention_ids[:5]):
        click.echo(f"  - [{show(p.platform)}] {show(p.author or '?', 60)} ({p.author_followers or 0} followers, "
                   f"{p.engagement} engagement): {show(p.text, 120)}  {show(p.url or '', 300)}")


def _transition(ctx: click.Context, incident_id: str, by: str | None, action: str, as_json: bool) -> None:
    from alerts import incidents as book
    from alerts.engine import incident_store

    cfg = load_config(ctx)
    store = incident_store(cfg, _client(ctx))
    who = by or getpass.getuser()
    try:
        inc = book.act(store, incident_id, action, who, clock.now(), via="cli")
    except LookupError:
        fail(f"no incident {incident_id!r} under prefix {cfg.elasticsearch.index_prefix!r}")
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        emit_json(inc.to_document())
    else:
        done_by = inc.acknowledged_by if action == "ack" else inc.resolved_by
        click.echo(f"{inc.incident_id}: {inc.status} by {show(done_by or who)}")


@exit_statuses(store=True, PARTIAL="no such incident, or it is resolved already")
@alerts.command("ack")
@click.argument("incident_id")
@click.option("--by", help="Who takes it (default: your user name).")
@click.option("--json", "as_json", is_flag=True, help="Print the incident as one JSON object.")
@click.pass_context
@handles_store_errors
def ack_cmd(ctx: click.Context, incident_id: str, by: str | None, as_json: bool) -> None:
    """Acknowledge an incident: someone is on it (later matches still update it; it still escalates)."""
    _transition(ctx, incident_id, by, "ack", as_json)


@exit_statuses(store=True, PARTIAL="no such incident, or it is resolved already")
@alerts.command("resolve")
@click.argument("incident_id")
@click.option("--by", help="Who resolved it (default: your user name).")
@click.option("--json", "as_json", is_flag=True, help="Print the incident as one JSON object.")
@click.pass_context
@handles_store_errors
def resolve_cmd(ctx: click.Context, incident_id: str, by: str | None, as_json: bool) -> None:
    """Resolve an incident by hand (a new spread of the same complaint opens a new one)."""
    _transition(ctx, incident_id, by, "resolve", as_json)
