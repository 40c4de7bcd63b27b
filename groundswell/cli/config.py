"""`groundswell config check|docs`: is this configuration right, what is in effect, and what every key means."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import yaml

from core import redact
from core.exits import ExitStatus
from groundswell.cli.common import emit_json, exit_statuses, fail, load_config

# keys whose values are secrets wherever they appear (SecretStr ones are masked by pydantic already)
SECRET_KEYS = {"password", "api_key", "client_secret"}


@click.group("config")
def config() -> None:
    """The configuration: check a file and see what is in effect, or print the reference of every key."""


def _masked(value: Any, key: str = "") -> Any:
    """The configuration as plain data with every secret masked: passwords, API keys, cookies, URL passwords."""
    if isinstance(value, dict):
        if key == "accounts":
            return {platform: [redact.MASK] * len(jar) for platform, jar in value.items()}
        return {k: _masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, key) for v in value]
    if isinstance(value, str):
        if key in SECRET_KEYS and value:
            return redact.MASK
        return redact.scrub(redact.url(value) if "://" in value else value)
    return value


@exit_statuses(OK="the configuration is valid (printed, secrets masked)",
               USAGE="it is not: each problem on a line naming the file, the key and the value")
@config.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the configuration in effect as one JSON object.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing when it is valid (for scripts: the exit status "
              "says).")
@click.pass_context
def check(ctx: click.Context, file: str | None, as_json: bool, quiet: bool) -> None:
    """Check FILE (default: the configuration the other commands read: --config, $GROUNDSWELL_CONFIG,
    ./groundswell.yaml) with the environment applied, and print the configuration in effect as YAML: every key
    with its value or default, the shipped alert rules included, secrets masked."""
    from alerts.rules.defaults import effective_rules

    if file is not None:
        ctx.find_root().params["config_path"] = file
        ctx.find_root().meta.pop("groundswell.config", None)
    cfg = load_config(ctx)
    data = cfg.model_dump(mode="json", exclude={"path", "secret_key"})
    data["rules"] = [r.model_dump(mode="json") for r in effective_rules(cfg)]
    shown = _masked(data)
    if quiet:
        return
    if as_json:
        emit_json({"file": cfg.path, "valid": True, "secret_key": "set" if cfg.secret_key else None,
                   "configuration": shown})
        return
    where = cfg.path or "no file (built-in defaults)"
    click.echo(f"# {where}: valid; the configuration in effect (environment applied, shipped rules included, "
               "secrets masked)", err=True)
    if cfg.secret_key is not None:
        click.echo("# GROUNDSWELL_SECRET_KEY is set (not shown)", err=True)
    click.echo(yaml.safe_dump(shown, allow_unicode=True, sort_keys=False, width=110).rstrip())


@exit_statuses(PARTIAL="--check: the file is missing or differs from what the models say",
               USAGE="bad options, or --out cannot be written")
@config.command("docs")
@click.option("--out", type=click.Path(dir_okay=False), help="Write it to this file (default: stdout).")
@click.option("--check", "check_only", is_flag=True,
              help="Write nothing; exit 1 when --out (default docs/configuration.md) is not what would be written.")
def docs(out: str | None, check_only: bool) -> None:
    """The configuration reference as Markdown (docs/configuration.md): every key of the file with its type,
    default and meaning, every rule type, and every environment variable, generated from the models themselves."""
    from groundswell.configdocs import render

    text = render()
    if check_only:
        target = Path(out or "docs/configuration.md")
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current != text:
            fail(f"{target} is {'missing' if current is None else 'stale'}: run `groundswell config docs --out "
                 f"{target}`", code=ExitStatus.PARTIAL)
        click.echo(f"{target} is up to date", err=True)
        return
    if out:
        try:
            Path(out).write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"--out: cannot write {out}: {exc.strerror or exc}", code=ExitStatus.USAGE)
        click.echo(f"wrote {out}", err=True)
    else:
        sys.stdout.write(text)
