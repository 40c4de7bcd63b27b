"""mapping.phrase_segments (one regex split) cuts where the loop over separators it replaced cut: at a whole run of
separators that touches a CJK character or holds a separator that is not ASCII, keeping a last piece only if it is
not blank."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from store.mapping import phrase_segments

_PARTS = re.compile(r"([\W_]+)")
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af\U00020000-\U0002ffff]")


def _loop(text: str | None) -> list[str]:
    """The previous phrase_segments, as it was."""
    if not text:
        return []
    parts = _PARTS.split(text)
    segments: list[str] = []
    current = ""
    for i in range(0, len(parts), 2):
        word = parts[i]
        sep = parts[i + 1] if i + 1 < len(parts) else ""
        current += word
        if not sep:
            continue
        nxt = parts[i + 2] if i + 2 < len(parts) else ""
        touches_cjk = bool(word and _CJK.match(word[-1])) or bool(nxt and _CJK.match(nxt[0]))
        if touches_cjk or not sep.isascii():
            if current:
                segments.append(current)
            current = ""
        else:
            current += sep
    if current.strip():
        segments.append(current)
    return segments


# every kind of character the cut rules tell apart: ASCII words and separators, CJK ideographs, kana, hangul and
# the CJK ranges' own punctuation (。、「 ・ ー), full-width forms, other scripts' letters, emoji, line breaks
CHARS = list("ab1 _-,.!?/:#@\t\n中文字。，！？、「」…　ｂ２éßЖ・ー한\u2e80\u303f\U00020001😀")


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(CHARS), max_size=16).map("".join))
def test_the_cuts_of_the_loop(text: str) -> None:
    assert phrase_segments(text) == _loop(text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_the_cuts_of_the_loop_on_any_text(text: str) -> None:
    assert phrase_segments(text) == _loop(text)


def test_examples() -> None:
    assert phrase_segments("充电宝，用了两天就坏了！iPhone 15 Pro") == ["充电宝", "用了两天就坏了", "iPhone 15 Pro"]
    assert phrase_segments("well, ok...") == ["well, ok..."]
    assert phrase_segments("a・b") == ["a", "b"]
    assert phrase_segments("  ") == [] and phrase_segments(None) == [] and phrase_segments("") == []
    assert phrase_segments("!中文!") == ["中文"] and phrase_segments("abc ") == ["abc "]
