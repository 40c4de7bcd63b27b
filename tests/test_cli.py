"""The command line: --help everywhere, clear failures for bad config and unreachable clusters."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from groundswell import config as gsconfig
from groundswell.cli.main import cli
from store.client import make_client


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out.extend(all_commands(cmd, (*prefix, name)))
        else:
            out.append((*prefix, name))
    return out


@pytest.mark.parametrize("path", all_commands(cli), ids=lambda p: " ".join(p) or "groundswell")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    assert len(result.output.splitlines()) > 3


@pytest.mark.parametrize("path", all_commands(cli), ids=lambda p: " ".join(p) or "groundswell")
def test_every_option_has_help_and_the_shared_ones(path: tuple[str, ...]) -> None:
    ctx = click.Context(cli)
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.get_command(ctx, name)  # type: ignore[assignment]
    assert (command.help or "").strip(), path
    options = [p for p in command.params if isinstance(p, click.Option)]
    for option in options:
        assert (option.help or "").strip(), (path, option.opts)
    names = {o for p in options for o in p.opts}
    assert {"--config", "-v", "--verbose"} <= names, path


def test_options_after_the_command(tmp_path: Path) -> None:
    """`groundswell status --config x` is `groundswell --config x status`; after the name wins."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("elasticsearch:\n  index_prefix: UPPER\n")
    good = tmp_path / "good.yaml"
    good.write_text("elasticsearch:\n  index_prefix: fine\n")
    for args in (["status", "--config", str(bad)], ["alerts", "list", "--config", str(bad), "-v"],
                 ["--config", str(good), "search", "x", "--config", str(bad)], ["es", "status", "--config", str(bad)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert f"{bad}: elasticsearch.index_prefix" in result.output, args
    result = CliRunner().invoke(cli, ["es", "start", "--config", str(good)],
                                env={"GROUNDSWELL_ES_URL": "https://es.example.com:9243"})
    assert result.exit_code == 2 and "manages only the local node" in result.output


@pytest.mark.parametrize("value", ["bad", "2026-11-24T10:00@fast", "2026-11-24T10:00@60", "2026-11-24T10:00+08:00@-1"])
@pytest.mark.parametrize("args", [["search", "x"], ["alerts", "list"], ["status"], ["sites", "--port", "0"],
                                  ["run", "--once"], ["crawl", "weibo", "-k", "x"], ["mailsink", "--port", "0"]])
def test_a_bad_clock_is_one_line(value: str, args: list[str]) -> None:
    result = CliRunner().invoke(cli, args, env={"GROUNDSWELL_CLOCK": value})
    assert result.exit_code == 2, (args, result.output)
    assert "GROUNDSWELL_CLOCK" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_bad_config_file_exits_2_naming_key(tmp_path: Path) -> None:
    cfg = tmp_path / "g.yaml"
    cfg.write_text("elasticsearch:\n  index_prefix: UPPER\n")
    result = CliRunner().invoke(cli, ["--config", str(cfg), "search", "x"])
    assert result.exit_code == 2
    assert f"{cfg}: elasticsearch.index_prefix" in result.output and "UPPER" in result.output


def test_unreachable_cluster_is_one_clear_line() -> None:
    result = CliRunner().invoke(cli, ["search", "小米"], env={"GROUNDSWELL_ES_URL": "http://127.0.0.1:9"})
    assert result.exit_code == 3
    assert "Elasticsearch at http://127.0.0.1:9 is unreachable" in result.output
    assert "Traceback" not in result.output


def test_es_start_refuses_when_an_external_cluster_is_configured() -> None:
    result = CliRunner().invoke(cli, ["es", "start"], env={"GROUNDSWELL_ES_URL": "https://es.example.com:9243"})
    assert result.exit_code == 2 and "manages only the local node" in result.output


def test_client_auth_and_tls_from_config() -> None:
    cfg = gsconfig.load(None, env={"GROUNDSWELL_ES_URL": "https://es.example.com:9243",
                                   "GROUNDSWELL_ES_USERNAME": "elastic", "GROUNDSWELL_ES_PASSWORD": "pw",
                                   "GROUNDSWELL_ES_VERIFY_CERTS": "false"}).elasticsearch
    client = make_client(cfg)
    assert client._headers["authorization"].startswith("Basic ")
    node = next(iter(client.transport.node_pool.all()))
    assert node.config.scheme == "https" and node.config.verify_certs is False
    keyed = make_client(gsconfig.load(None, env={"GROUNDSWELL_ES_URL": "https://es.example.com:9243",
                                                 "GROUNDSWELL_ES_API_KEY": "abc"}).elasticsearch)
    assert keyed._headers["authorization"] == "ApiKey abc"
