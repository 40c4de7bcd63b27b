"""Entry point: `groundswell [--config FILE] [-v] COMMAND ... [--config FILE] [-v]`."""

from __future__ import annotations

import os

import click

from groundswell import __version__, allocator, collector
from groundswell.cli.alerts import alerts
from groundswell.cli.common import CONFIG_HELP, VERBOSE_HELP, configure_logging, shared_options
from groundswell.cli.config import config
from groundswell.cli.crawl import crawl
from groundswell.cli.es import es
from groundswell.cli.ingest import ingest
from groundswell.cli.kibana import kibana
from groundswell.cli.mailsink import mailsink
from groundswell.cli.run import run
from groundswell.cli.search import search
from groundswell.cli.sentiment import sentiment
from groundswell.cli.sites import sites
from groundswell.cli.status import status
from groundswell.cli.web import web
from groundswell.cli.worker import worker


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="GROUNDSWELL_CONFIG",
    help=CONFIG_HELP,
)
@click.option("-v", "--verbose", count=True, help=VERBOSE_HELP)
@click.version_option(__version__, prog_name="groundswell")
def cli(config_path: str | None, verbose: int) -> None:
    """Groundswell: hear complaints about your brand while they are still small.

    Mentions are crawled or ingested, analysed and stored in Elasticsearch, where alert rules watch them and PR
    teams search them. Every command takes --config and -v before or after its name.

    The configuration is a YAML file (--config, else $GROUNDSWELL_CONFIG, else ./groundswell.yaml); secrets and
    endpoints come from the environment: GROUNDSWELL_ES_URL (an existing cluster; default: the local node of
    `groundswell es start`), GROUNDSWELL_INDEX_PREFIX, GROUNDSWELL_ES_USERNAME, _PASSWORD, _API_KEY, _CA_CERTS,
    GROUNDSWELL_SMTP_HOST, _PORT, GROUNDSWELL_ALERT_TO, GROUNDSWELL_SECRET_KEY, GROUNDSWELL_CONSOLE_URL;
    GROUNDSWELL_HOME and GROUNDSWELL_CACHE move the data and download folders; GROUNDSWELL_CLOCK runs every
    process on one simulated clock. Every key and variable: docs/configuration.md, or `groundswell config docs`.

    Times people read are in the configured `timezone:` (2026-11-24 10:05 +08:00); --json output is RFC 3339 UTC.
    """
    configure_logging(verbose)
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawlers.settings")


cli.add_command(alerts)
cli.add_command(config)
cli.add_command(crawl)
cli.add_command(es)
cli.add_command(ingest)
cli.add_command(kibana)
cli.add_command(mailsink)
cli.add_command(run)
cli.add_command(search)
cli.add_command(sentiment)
cli.add_command(sites)
cli.add_command(status)
cli.add_command(web)
cli.add_command(worker)
for _command in cli.commands.values():
    shared_options(_command)


def main() -> None:
    allocator.tune()  # before any thread exists (see groundswell.allocator)
    collector.tune()  # fewer, cheaper collections of the many short-lived objects per mention (groundswell.collector)
    cli(prog_name="groundswell")


if __name__ == "__main__":
    main()
