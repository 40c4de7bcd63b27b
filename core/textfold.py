"""Width folding shared by indexing and querying, so a full-width query finds half-width text and back.

Only full-width letters, digits and the ideographic space are folded: Chinese punctuation (，。！) stays as
written, since people read the stored text and the tokenizer ignores punctuation anyway.
"""

from __future__ import annotations

import unicodedata

_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F) if chr(cp - 0xFEE0).isalnum()}
_WIDTH[0x3000] = 0x20


def fold_width(text: str) -> str:
    return unicodedata.normalize("NFC", text).translate(_WIDTH)
