"""The two text folds, one per purpose.

`fold_width` is for what is stored and searched: indexing and querying both apply it, so a full-width query finds
half-width text and back. Only full-width letters, digits and the ideographic space are folded: Chinese
punctuation (，。！) stays as written, since people read the stored text and the tokenizer ignores it anyway.

`fold` is for matching names and phrases (brands, complaint phrases, near-duplicate shingles): NFKC width
folding, case folding and traditional -> simplified per character, so "ＡＰＰＬＥ", "apple" and "Apple" are one
name and 蘋果 finds 苹果. Nothing folded this way is shown to people.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F) if chr(cp - 0xFEE0).isalnum()}
_WIDTH[0x3000] = 0x20
# str.translate with a dict looks every character up, ~7 us for a post; most posts hold none of these (9 in 10 of
# the benchmark's): a search for one in C first, 1 us
_HAS_WIDE = re.compile("[" + "".join(map(chr, sorted(_WIDTH))) + "]")


def fold_width(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    return text.translate(_WIDTH) if _HAS_WIDE.search(text) else text

@functools.cache
def _t2s_table() -> dict[int, int]:
    """Traditional -> simplified, one character at a time, from OpenCC's own table (first candidate).

    Character-level folding is enough for matching because both sides are folded the same way, and
    str.translate keeps it as fast as the width folding (phrase-level OpenCC conversion is ~100x slower).
    """
    import opencc  # opencc-python-reimplemented: only its data file is used

    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    table: dict[int, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and len(parts[0]) == 1:
            target = parts[1].split(" ")[0]
            if len(target) == 1 and target != parts[0]:
                table[ord(parts[0])] = ord(target)
    return table


@functools.cache
def _traditional() -> frozenset[str]:
    """The characters _t2s_table changes."""
    return frozenset(map(chr, _t2s_table()))


def fold(text: str) -> str:
    """The one folding used for matching: full-width -> half-width, case, traditional -> simplified."""
    text = unicodedata.normalize("NFKC", text).casefold()
    # most text has no traditional character: finding that out by a set's isdisjoint is cheaper than translating
    return text if _traditional().isdisjoint(text) else text.translate(_t2s_table())
