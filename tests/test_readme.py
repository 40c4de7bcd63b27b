"""The README's checkable claims hold: its YAML blocks load through the real loader, its shell lines name commands and
options that exist (parsed by click's own parser, nothing run), the command table's options exist, `make` targets
exist, and its counts match what they count."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from groundswell import config as gsconfig
from groundswell.cli.main import cli
from pipelines.complaints import load_taxonomy

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", README, re.M | re.S)
ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def parse(args: list[str]) -> click.Command:
    """The command `groundswell ARGS` names, its options and arguments checked as click checks them; UsageError
    otherwise. Nothing runs."""
    ctx = cli.make_context("groundswell", list(args))
    command: click.Command = cli
    while isinstance(command, click.Group):
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            break
        name, sub, rest = command.resolve_command(ctx, rest)
        assert name is not None and sub is not None, args
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return command


def shell_lines(text: str) -> list[str]:
    joined = text.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = re.sub(r"\s+#\s.*$", "", line).strip().removesuffix("&").strip()
        if line:
            out.append(line)
    return out


YAML = [body for lang, body in BLOCKS if lang == "yaml"]
SHELL = [line for lang, body in BLOCKS if lang in ("", "sh", "shell", "bash") for line in shell_lines(body)]


def test_the_readme_has_blocks_to_check() -> None:
    assert len(YAML) >= 5 and len(SHELL) >= 8


@pytest.mark.parametrize("body", YAML, ids=lambda b: b.splitlines()[0][:40])
def test_yaml_blocks_load(body: str, tmp_path: Path) -> None:
    path = tmp_path / "groundswell.yaml"
    path.write_text(body, encoding="utf-8")
    gsconfig.load(str(path), env={})


@pytest.mark.parametrize("line", SHELL)
def test_shell_lines_name_real_commands(line: str) -> None:
    words = shlex.split(line)
    while words and ENV_ASSIGNMENT.match(words[0]):
        words.pop(0)
    if words[0] == "make":
        targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M))
        assert set(words[1:]) - {w for w in words[1:] if "=" in w} <= targets, line
    elif words[0] == "groundswell":
        parse(words[1:])
    else:
        assert words[0] in ("curl", "source", "openssl", "export"), f"unknown command in the README: {line}"


def _table_synopses() -> list[tuple[tuple[str, ...], list[str]]]:
    """(command path, options named) for each synopsis in the command table: `groundswell alerts list [--status]`,
    and `alerts show ID` after it in the same cell."""
    section = README[README.index("## The command line"):README.index("### Times")]
    found = []
    for row in re.findall(r"^\| (`groundswell .*?`(?:, `.*?`)*) \|", section, re.M):
        group: tuple[str, ...] = ()
        for synopsis in re.findall(r"`([^`]+)`", row):
            words = synopsis.replace("\\|", "|").split()
            if words[0] == "groundswell":
                words = words[1:]
            elif group:
                words = [*group, *words] if words[0] != group[0] else words
            path: list[str] = []
            command: click.Command = cli
            for w in words:
                if isinstance(command, click.Group) and w in command.commands:
                    path.append(w)
                    command = command.commands[w]
                else:
                    break
            group = tuple(path[:1]) if isinstance(cli.commands.get(path[0]), click.Group) else ()
            found.append((tuple(path), re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", synopsis)))
    return found


@pytest.mark.parametrize(("path", "options"), _table_synopses(), ids=lambda v: " ".join(v) if isinstance(v, tuple)
                         else None)
def test_command_table_names_real_options(path: tuple[str, ...], options: list[str]) -> None:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    names = {o for p in command.params for o in getattr(p, "opts", ())}
    assert not isinstance(command, click.Group) or command.invoke_without_command or not options, path
    for option in options:
        assert option in names, (path, option)


def _inline() -> list[str]:
    return sorted(set(re.findall(r"`(groundswell [^`]+)`", README)))


@pytest.mark.parametrize("code", _inline())
def test_inline_commands_and_options_exist(code: str) -> None:
    """Every `groundswell ...` in the prose names a command that exists and only options it has."""
    words = code.replace("\\|", "|").split()[1:]
    command: click.Command = cli
    path = []
    for w in words:
        if isinstance(command, click.Group) and w in command.commands:
            command = command.commands[w]
            path.append(w)
        elif (isinstance(command, click.Group) and re.fullmatch(r"[a-z][a-z-]*", w)
              and not command.invoke_without_command):
            pytest.fail(f"no command {' '.join([*path, w])!r} ({code})")
        else:
            break
    names = {o for p in command.params for o in getattr(p, "opts", ())} | {"--help", "-h", "--version"}
    for option in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", code):
        assert option in names, (code, option)


def test_every_command_is_in_the_table() -> None:
    listed = {p for p, _ in _table_synopses()}
    for name, command in cli.commands.items():
        if isinstance(command, click.Group):
            for sub in command.commands:
                assert (name, sub) in listed, (name, sub)
        else:
            assert (name,) in listed, name


def test_taxonomy_counts() -> None:
    categories, subcategories = map(int, re.search(r"defines (\d+) categories and (\d+) sub-categories",
                                                    README).groups())  # type: ignore[union-attr]
    taxonomy = load_taxonomy()
    assert categories == len(taxonomy.categories)
    assert subcategories == sum(len(c.subcategories) for c in taxonomy.categories)
