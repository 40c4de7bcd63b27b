"""One sanitizer for crawled text wherever a person reads it: the terminal, email text and HTML, the web console.

A post is written by strangers. Shown raw, it can move a terminal's cursor or recolour it (ANSI/VT escapes), fake
extra lines (CR, LF, U+2028), or reverse what follows it on screen (bidi overrides such as U+202E, which turn
"moc.elgoog//:sptth" into a convincing link). Stored text keeps what the site sent; every place that shows it
passes it through `line` (one line: terminal tables, subjects, link text) or `lines` (newlines kept: bodies).
Escaping for HTML is the template's job and comes after this.
"""

from __future__ import annotations

import re
import unicodedata

# ANSI/VT escape sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other ESC-introduced strings (DCS,
# SOS, PM, APC up to ST) and two-character escapes; the 8-bit C1 forms (U+009B CSI, U+009D OSC) too.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, to BEL or ST (or the end)
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*(?:\x1b\\|\x9c)?"  # DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]?"  # any other escape (and a lone ESC)
)
# bidirectional controls: embeddings and overrides, isolates, the marks, the Arabic letter mark
BIDI_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)] + ["\u200e", "\u200f", "\u061c"]
)
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_SPACES = re.compile(r"[ \t]+")


def _keep(ch: str) -> bool:
    return ch not in BIDI_CONTROLS and (ch in "\n\t" or unicodedata.category(ch) != "Cc")


def lines(value: object) -> str:
    """Text with its line breaks (CR LF, CR, U+2028... all become \\n) and nothing that can drive a screen."""
    text = _ESCAPES.sub("", "" if value is None else str(value))
    text = text.replace("\r\n", "\n")
    text = "".join("\n" if ch in _LINE_BREAKS else ch for ch in text)
    return "".join(ch if _keep(ch) else "" for ch in text)


def line(value: object, limit: int | None = None) -> str:
    """One line: every line break and tab is a space, runs of spaces one; cut at `limit` characters with an ellipsis."""
    text = lines(value).replace("\n", " ").replace("\t", " ")
    text = _SPACES.sub(" ", text).strip()
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "…"
    return text


def width(text: str) -> int:
    """Columns `text` takes on a terminal: a CJK character two, a combining mark none (wcwidth)."""
    from wcwidth import wcswidth

    columns = wcswidth(text)
    return columns if columns >= 0 else len(text)  # a control character left in: count it as one column


def pad(text: str, columns: int, *, right: bool = False) -> str:
    """`text` padded with spaces to `columns` display columns (str.ljust counts characters, not columns)."""
    gap = " " * max(0, columns - width(text))
    return gap + text if right else text + gap


def table(rows: list[list[str]], *, right: frozenset[int] = frozenset(), gap: str = "  ") -> list[str]:
    """Rows of cells as lines whose columns line up on a terminal, CJK included; the last column is not padded."""
    if not rows:
        return []
    count = max(len(r) for r in rows)
    widths = [max((width(r[i]) for r in rows if i < len(r)), default=0) for i in range(count)]
    out = []
    for r in rows:
        cells = [pad(cell, widths[i], right=i in right) if i < len(r) - 1 or i in right else cell
                 for i, cell in enumerate(r)]
        out.append(gap.join(cells).rstrip())
    return out
