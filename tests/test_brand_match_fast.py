"""core.brands' word-boundary check written without helper calls decides as the straightforward version did, and
match_with (the brand stage's automaton compiled once) finds what match finds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.brands import at_word_boundary, compile_brands, match, match_with
from core.config import Brand


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def reference_boundary(text: str, start: int, end: int) -> bool:
    first, last = text[start], text[end - 1]
    if start > 0:
        before = text[start - 1]
        if (_latin(first) and _latin(before)) or (first.isdigit() and before.isdigit()):
            return False
    if end < len(text):
        after = text[end]
        if (_latin(last) and _latin(after)) or (last.isdigit() and after.isdigit()):
            return False
    return True


_CHARS = list("aZm15٣²小米 -_,。Ｍé")


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from(_CHARS), min_size=1, max_size=8), st.data())
def test_word_boundary_as_the_straightforward_version(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    end = data.draw(st.integers(min_value=start + 1, max_value=len(text)))
    assert at_word_boundary(text, start, end) == reference_boundary(text, start, end)


BRANDS = (Brand(name="小米", aliases=("Xiaomi", "MI"), products=("小米14",), exclusions=("小米粥",)),
          Brand(name="Apple", aliases=("iPhone", "苹果"), products=("iPhone 15",)), Brand(name="3M"))


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("小米粥14MIXiaomi Apple苹果iPhone 3m，")), max_size=30),
       st.one_of(st.none(), st.text(alphabet=st.sampled_from(list("小米MI苹果 3M")), max_size=8)))
def test_match_with_a_compiled_matcher_is_match(text: str, title: str | None) -> None:
    assert match_with(compile_brands(BRANDS), text, title) == match(text, title, BRANDS)
    assert match_with(compile_brands(()), text, title) is None
