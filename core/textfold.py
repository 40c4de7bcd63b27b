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
import unicodedata
from pathlib import Path

_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F) if chr(cp - 0xFEE0).isalnum()}
_WIDTH[0x3000] = 0x20


def fold_width(text: str) -> str:
    return unicodedata.normalize("NFC", text).translate(_WIDTH)

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


def fold(text: str) -> str:
    """The one folding used for matching: full-width -> half-width, case, traditional -> simplified."""
    return unicodedata.normalize("NFKC", text).casefold().translate(_t2s_table())
