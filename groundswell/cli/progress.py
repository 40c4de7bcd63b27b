"""Progress for long commands: a rich spinner on a terminal only; silent in --json mode and when piped."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def wanted(as_json: bool = False) -> bool:
    """Progress only for a person watching: stderr is a terminal and the output is not meant for a program."""
    return not as_json and sys.stderr.isatty()


@contextmanager
def spinner(text: str, show: bool) -> Iterator[Callable[[str], None]]:
    """`with spinner("crawling", show) as update: update("12 items")`; a no-op when `show` is false."""
    if not show:
        yield lambda _text: None
        return
    from rich.console import Console

    console = Console(stderr=True)
    with console.status(text) as status:
        yield lambda new: status.update(new)
