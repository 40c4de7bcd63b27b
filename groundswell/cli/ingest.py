"""`groundswell ingest PATH...`: mention files through the crawl's own pipelines into Elasticsearch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import click
from scrapy.exceptions import DropItem

from core import display
from core.exits import ExitStatus
from groundswell import collector
from groundswell.cli.common import config_path, emit_json, exit_statuses, fail, load_config
from groundswell.ingest import Line, default_workers, read
from pipelines.normalize import RejectedItem


def _reasons(counts: Counter[str]) -> str:
    return ", ".join(f"{reason}: {n}" for reason, n in counts.most_common())


@exit_statuses(store=True, OK="all stored", PARTIAL="some lines rejected",
               STORE_UNAVAILABLE="Elasticsearch did not answer: some mentions were spooled")
@click.command()
@click.argument("paths", nargs=-1, required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "jsonl", "csv"]),
    default="auto",
    show_default=True,
    help="Input format; auto goes by extension (.csv, else JSON Lines; .gz is unpacked). '-' is stdin.",
)
@click.option(
    "--batch-size", default=1000, show_default=True, type=click.IntRange(1, 10_000),
    help="Mentions per bulk request (and per lookup of stored clusters and repeats).",
)
@click.option(
    "--retries",
    default=3,
    show_default=True,
    type=click.IntRange(0, 20),
    help="Retries (with doubling backoff) before an unreachable Elasticsearch makes us spool.",
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(0, 64),
    help="Analysis worker processes; 0 analyses in this process.  [default: one per CPU core]",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.pass_context
def ingest(
    ctx: click.Context, paths: tuple[str, ...], fmt: str, batch_size: int, retries: int, workers: int | None,
    as_json: bool,
) -> None:
    """Ingest JSON Lines or CSV mentions (fields: platform, text, published_at, source_id or url, ...).

    Each line goes through the same item pipelines as a crawl, in batches: the analysis in --workers processes,
    writes to Elasticsearch overlapping it, the same documents as with --workers 0. A bad line is reported as
    `FILE:line N: reason` on stderr and skipped; the good lines beside it are stored. When Elasticsearch
    is unreachable, what was read is spooled locally and replayed first by the next run (also by an
    ingest with no PATH); refused credentials, a missing privilege or a certificate stop the ingest without
    spooling (run it again once fixed).
    """
    from pipelines.chain import PipelineChain
    from pipelines.elasticsearch import ElasticsearchPipeline
    from pipelines.parallel import BatchPipeline

    collector.tune(collector.INGEST_THRESHOLDS)  # before the workers fork: they inherit it (groundswell.collector)
    cfg = load_config(ctx)
    chain = PipelineChain.from_project(
        {
            "GROUNDSWELL_CONFIG_PATH": config_path(ctx),
            "GROUNDSWELL_CONFIG": cfg,
            "GROUNDSWELL_BATCH_SIZE": batch_size,
            "GROUNDSWELL_ES_RETRIES": retries,
            # each batch's stored lookups run while the batch before it is resolved (a crawl writes a batch at once)
            "GROUNDSWELL_LOOK_AHEAD": True,
        }
    )
    sink = chain.stage(ElasticsearchPipeline)
    read_count = rejected = 0
    dropped: Counter[str] = Counter()
    pending: list[Line] = []

    def report(batch: list[Line], outcomes: Sequence[object]) -> None:
        """A batch's problems in line order (unreadable lines are in the batch too); in the writer thread."""
        nonlocal rejected
        found = iter(outcomes)
        for line in batch:
            if line.mention is None:
                rejected += 1
                click.echo(display.line(f"{line.source if line.number == 0 else line.origin}: {line.error}"), err=True)
                continue
            outcome = next(found)
            if isinstance(outcome, RejectedItem):
                rejected += 1
                click.echo(display.line(f"{line.origin}: {outcome}"), err=True)
            elif isinstance(outcome, DropItem):  # off-topic, not broken: counted by reason
                dropped[str(outcome)] += 1

    def run(flow: BatchPipeline, batch: list[Line]) -> None:
        flow.submit([b.mention for b in batch if b.mention], lambda outcomes: report(batch, outcomes))

    flow = BatchPipeline(chain.stages, chain.stats, workers=default_workers() if workers is None else workers,
                         batch_size=batch_size, whole=False)  # report() reads outcomes, not the analysed items
    with chain, flow:
        for path in paths:
            seen = 0
            for line in read(path, fmt):
                read_count += line.number > 0
                seen += 1
                pending.append(line)
                if len(pending) >= batch_size:
                    run(flow, pending)
                    pending = []
                if sink.fatal is not None:
                    break  # Elasticsearch refused us: reading on would store nothing
            if sink.fatal is not None:
                break
            if not seen:  # not an error, but never a silent empty answer
                where = "stdin" if path == "-" else display.line(path)
                click.echo(f"warning: {where}: no records in it (empty, blank lines or a header alone)", err=True)
        if sink.fatal is None and pending:
            run(flow, pending)
    res = sink.result
    for origin, reason in res.failed:
        rejected += 1
        click.echo(display.line(f"{origin or 'spool'}: {reason}"), err=True)
    summary = {
        "read": read_count,
        "indexed": res.indexed,
        "updated": res.updated,
        "duplicates": res.duplicates,
        "rejected": rejected,
        "dropped": sum(dropped.values()),
        "dropped_reasons": dict(dropped),
        "spooled": sink.spooled,
        "replayed": sink.replayed,
        "index": f"{cfg.elasticsearch.index_prefix}-mentions",
        "url": cfg.elasticsearch.display_url,
    }
    if sink.unavailable:
        summary["error"] = sink.unavailable
    if sink.fatal is not None:
        summary["error"] = str(sink.fatal)
        summary["not_stored"] = sink.not_stored
    if as_json:
        emit_json(summary)
    else:
        click.echo(
            f"read {read_count}, indexed {res.indexed}, updated {res.updated}, duplicates {res.duplicates}, "
            f"rejected {rejected}"
            + (f", dropped {sum(dropped.values())} ({_reasons(dropped)})" if dropped else "")
            + (f", replayed from spool {sink.replayed}" if sink.replayed else "")
        )
    if sink.fatal is not None:
        fail(f"{sink.fatal}\nnothing more was stored and nothing spooled ({sink.not_stored} mentions read were not "
             "stored); fix the cause and run the same ingest again: what is stored already is kept once",
             code=sink.fatal.status)
    if sink.spooled:
        fail(
            f"{sink.unavailable}\n{sink.spooled} mentions spooled to {sink.spool.path}; "
            "the next `groundswell ingest` replays them",
            code=ExitStatus.STORE_UNAVAILABLE,
        )
    if rejected:
        ctx.exit(ExitStatus.PARTIAL)
