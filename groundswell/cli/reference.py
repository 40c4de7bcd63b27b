"""What the command line says about itself, in one place for its --help, the README and the tests: every command's
path and the exit statuses it declares (`exit_statuses` in groundswell.cli.common), as the README's table."""

from __future__ import annotations

from collections.abc import Iterator

import click

from core.exits import ExitStatus


def walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command and group under `command` (itself first), with its path of names."""
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from walk(sub, (*path, name))


def runnable(root: click.Group) -> dict[tuple[str, ...], click.Command]:
    """The commands a person runs: every leaf, and a group that does something itself (`web`)."""
    return {
        path: cmd for path, cmd in walk(root)
        if path and (not isinstance(cmd, click.Group) or cmd.invoke_without_command)
    }


def statuses(command: click.Command) -> tuple[ExitStatus, ...]:
    return tuple(getattr(command, "exit_statuses", ()))


def users_of(root: click.Group, status: ExitStatus) -> str:
    """The README's "commands" cell: `all`, or the commands that may end with `status`, a group named once when
    all its commands may."""
    commands = runnable(root)
    using = {path for path, cmd in commands.items() if status in statuses(cmd)}
    if using == set(commands):
        return "all"
    names: list[str] = []
    for path in sorted(using):
        group = path[:1]
        members = {p for p in commands if p[:1] == group and len(p) > 1}
        if len(path) > 1 and members and members <= using:
            if " ".join(group) not in names:
                names.append(" ".join(group))
        else:
            names.append(" ".join(path))
    return ", ".join(names)


def exit_table(root: click.Group) -> str:
    """The README's exit-status table (Markdown), from ExitStatus and what each command declares."""
    rows = ["| code | name | meaning | commands |", "|---|---|---|---|"]
    for status in ExitStatus:
        rows.append(f"| {int(status)} | `{status.name}` | {status.meaning} | {users_of(root, status)} |")
    return "\n".join(rows)
