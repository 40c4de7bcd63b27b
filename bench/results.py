"""bench/RESULTS.md: each benchmark owns one `## ` section and `--write` replaces only that section, re-reading the
file first so that other benchmarks' sections written meanwhile stay."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(heading: str, report: str, *, first: bool = False) -> None:
    """Replace the section that starts with `heading` by `report` (which starts with it); a new section goes at the
    end, or before every other section with `first` (the headline figures)."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    body = report.rstrip("\n") + "\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: body + "\n", text, count=1)
    elif first and "\n## " in text:
        head, _, rest = text.partition("\n## ")
        text = head.rstrip("\n") + "\n\n" + body + "\n## " + rest
    else:
        text = text.rstrip("\n") + "\n\n" + body
    RESULTS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
