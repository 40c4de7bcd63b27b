"""`groundswell kibana export|check`: the analysts' Kibana objects, and a check that they work on the cluster.

The `kibana` package is imported inside the commands, so the rest of the CLI keeps working even where it is not
importable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from core import clock
from core.exits import ExitStatus
from core.timefmt import people_time
from groundswell.cli.common import emit_json, exit_statuses, fail, handles_store_errors, load_config, parse_when


@click.group()
def kibana() -> None:
    """Kibana saved objects: a data view on the mention alias, saved searches and the analysts' dashboard."""


def _prefix(ctx: click.Context, prefix: str | None) -> str:
    return prefix or load_config(ctx).elasticsearch.index_prefix


@exit_statuses(USAGE="bad options, or --out cannot be written")
@kibana.command()
@click.option("--prefix", help="Index prefix the objects point at (default: the configured one).")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write the NDJSON here (default: stdout).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.pass_context
def export(ctx: click.Context, prefix: str | None, out: str | None, as_json: bool) -> None:
    """Write the Kibana 8 saved objects as NDJSON, for Stack Management > Saved Objects > Import or
    `curl -X POST KIBANA/api/saved_objects/_import -H 'kbn-xsrf: true' --form file=@FILE`.

    The summary goes to stdout with --out, else to stderr (stdout then holds the NDJSON)."""
    from kibana.saved_objects import build, to_ndjson

    name = _prefix(ctx, prefix)
    objects = build(name)
    text = to_ndjson(objects)
    if out:
        try:
            Path(out).write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"--out: cannot write {out}: {exc.strerror}", code=ExitStatus.USAGE)
    else:
        sys.stdout.write(text)
    summary = {"prefix": name, "objects": len(objects), "out": out or "-", "ids": [o["id"] for o in objects]}
    line = (
        json.dumps(summary, ensure_ascii=False)
        if as_json
        else (
            f"{len(objects)} saved objects for prefix {name} -> {out or 'stdout'}; "
            f"mention data view id: {objects[0]['id']}"
        )
    )
    click.echo(line, err=not out)


@exit_statuses(store=True, PARTIAL="a panel shows nothing, or a field does not fit its use")
@kibana.command()
@click.option("--prefix", help="Index prefix to check (default: the configured one).")
@click.option(
    "--since",
    default="30d",
    show_default=True,
    help="Time range start, as the dashboard's time picker and `search --since`: ISO 8601 (without an offset in the "
    "configured timezone) or a span back from now (24h, 7d).",
)
@click.option("--until", help="Time range end, in the same forms (default: now, on the Groundswell clock).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.pass_context
@handles_store_errors
def check(ctx: click.Context, prefix: str | None, since: str, until: str | None, as_json: bool) -> None:
    """Check the dashboard against the cluster without Kibana: every field a saved object names must be mapped
    with a type that fits its use, and every panel's search must show something."""
    from kibana import check as checking
    from kibana.requests import TimeRange
    from store.client import make_client

    app = load_config(ctx)
    cfg = app.elasticsearch
    name = _prefix(ctx, prefix)
    try:
        time_range = TimeRange(parse_when(since, "--since", app.zone),
                               parse_when(until, "--until", app.zone) if until else clock.now())
    except ValueError as exc:
        fail(str(exc), code=ExitStatus.USAGE)
    es = make_client(cfg)
    try:
        report = checking.run(es, name, time_range)
    finally:
        es.close()
    if as_json:
        emit_json(report.as_dict())
    else:
        for p in report.panels:
            unit = "buckets" if p.as_dict()["kind"] == "chart" else "documents"
            mark = "ok   " if p.shown else "EMPTY"
            click.echo(f"{mark} {p.panel.title}: {p.shown} {unit} shown, {p.total} matching")
        for problem in report.field_problems:
            click.echo(f"FIELD {problem}")
        click.echo(
            f"-- {name}, {people_time(time_range.start, app.zone)} .. {people_time(time_range.end, app.zone)}: "
            + ("dashboard has data and every field fits" if report.ok else "problems above"),
            err=True,
        )
    if not report.ok:
        sys.exit(ExitStatus.PARTIAL)
