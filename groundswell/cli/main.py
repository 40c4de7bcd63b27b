"""Entry point: `groundswell [--config FILE] COMMAND ...`."""

from __future__ import annotations

import logging
import os

import click

from core import redact
from groundswell import __version__
from groundswell.cli.alerts import alerts
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
    help="YAML configuration (default: ./groundswell.yaml if present, else built-in defaults).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, prog_name="groundswell")
def cli(config_path: str | None, verbose: int) -> None:
    """Groundswell: hear complaints about your brand while they are still small.

    Mentions are crawled or ingested, analysed and stored in Elasticsearch, where alert rules watch them
    and PR teams search them. Environment: GROUNDSWELL_ES_URL (an existing cluster; default: the local
    node of `groundswell es start`), GROUNDSWELL_INDEX_PREFIX, GROUNDSWELL_ES_USERNAME/_PASSWORD/_API_KEY/
    _CA_CERTS, GROUNDSWELL_SMTP_HOST/_PORT, GROUNDSWELL_ALERT_TO, GROUNDSWELL_SECRET_KEY, GROUNDSWELL_CONSOLE_URL.
    """
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.root.handlers:  # Scrapy resets the root level; the handler keeps ours
        handler.setLevel(level)
        handler.addFilter(redact.ScrubFilter())  # no secret reaches a log line, whoever logs it
    for noisy in ("elasticsearch", "scrapy"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING) if verbose < 2 else logging.DEBUG)
    # the client's transport logs each retry with a traceback; the command says what failed in one line instead
    for transport in ("elastic_transport", "urllib3"):
        logging.getLogger(transport).setLevel(logging.ERROR if verbose == 0 else logging.DEBUG if verbose > 1
                                              else logging.WARNING)
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawlers.settings")


cli.add_command(alerts)
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


def main() -> None:
    cli(prog_name="groundswell")


if __name__ == "__main__":
    main()
