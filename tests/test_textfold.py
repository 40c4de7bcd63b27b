"""The two folds skip their translation when a text has nothing it would change: the same strings as always
translating, on texts drawn from the characters that matter (full-width forms, traditional characters, their
neighbours, ASCII, emoji)."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from core.textfold import _WIDTH, _t2s_table, fold, fold_width

_CHARS = st.one_of(
    st.sampled_from(sorted(map(chr, _t2s_table()))),
    st.sampled_from([chr(c) for c in range(0xFF00, 0xFF70)] + ["\u3000", "，", "。"]),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1F6FF),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_CHARS, max_size=40).map("".join))
def test_the_folds_equal_their_full_translation(text: str) -> None:
    assert fold_width(text) == unicodedata.normalize("NFC", text).translate(_WIDTH)
    assert fold(text) == unicodedata.normalize("NFKC", text).casefold().translate(_t2s_table())


def test_examples() -> None:
    assert fold("蘋果ＡＰＰＬＥ手機") == "苹果apple手机"
    assert fold_width("ｉＰｈｏｎｅ\u3000１５，很好") == "iPhone 15，很好"
    assert fold_width("没有全角") == "没有全角"
