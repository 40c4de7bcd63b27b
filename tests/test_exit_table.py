"""Issue 11: one exit-status table, from core.exits.ExitStatus, in the README, consistent with every --help."""

from __future__ import annotations

import re
from pathlib import Path

import click
from click.testing import CliRunner

from core.exits import ExitStatus
from groundswell.cli.main import cli
from tests.test_cli import all_commands

README = Path(__file__).parent.parent / "README.md"


def test_readme_table_is_exit_status() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Exit statuses"):]
    rows = re.findall(r"^\| (\d+) \| `([A-Z_]+)` \|", section, re.M)
    assert [(int(code), name) for code, name in rows] == [(s.value, s.name) for s in ExitStatus]


def test_every_help_names_only_real_statuses() -> None:
    codes = {s.value for s in ExitStatus}
    for path in all_commands(cli):
        out = CliRunner().invoke(cli, [*path, "--help"], terminal_width=200).output
        flat = " ".join(out.split())
        for said in re.findall(r"Exit status:(.*?)(?:\.\s+[A-Z]|$)", flat):
            for number in re.findall(r"(?<![\w.-])(\d)(?:-(\d))?(?= )", said):
                for n in range(int(number[0]), int(number[1] or number[0]) + 1):
                    assert n in codes, (path, n, said)


def test_every_command_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    for path in all_commands(cli):
        if path and not isinstance(cli.get_command(click.Context(cli), path[0]), click.Group):
            assert f"groundswell {path[0]}" in text, path
