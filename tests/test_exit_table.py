"""One exit-status table, from core.exits.ExitStatus and what each command declares, in every --help and the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.exits import ExitStatus
from groundswell.cli.main import cli
from groundswell.cli.reference import exit_table, runnable, statuses

README = Path(__file__).parent.parent / "README.md"
COMMANDS = runnable(cli)


def test_readme_table_is_the_commands_declaration() -> None:
    text = README.read_text(encoding="utf-8")
    expected = exit_table(cli)
    assert expected in text, "README's exit table differs; it should read:\n" + expected


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_help_lists_exactly_the_declared_statuses(path: tuple[str, ...]) -> None:
    declared = statuses(COMMANDS[path])
    assert ExitStatus.OK in declared and ExitStatus.USAGE in declared, path
    out = CliRunner().invoke(cli, [*path, "--help"], terminal_width=200).output
    block = out[out.index("Exit status:"):].split("\n\n")[0]
    listed = [int(n) for n in re.findall(r"^\s+(\d)\s{2}", block, re.M)]
    assert listed == [int(s) for s in declared], (path, block)


def test_every_command_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    for path in COMMANDS:
        name = " ".join(path)
        assert f"groundswell {name}" in text or f"`{name} " in text or f"`{name}`" in text, path
