"""Brand matching: which configured brand (and product) a text talks about. Pure, so the spiders (what to follow)
and the brand stage (what to keep) match the same way.

Text and names are folded the same way before matching (NFKC width folding, case folding, traditional ->
simplified per character), so "ＡＰＰＬＥ", "apple" and "Apple" are one name and 蘋果 finds 苹果. All aliases,
product names and exclusions of all brands go into one Aho-Corasick automaton, built once per brand set.
Latin names match only at word boundaries ("MI" never inside "MILK"); Chinese has no spaces, so a brand word
inside another word (小米 in 小米粥) is excluded by the brand's `exclusions`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import ahocorasick

from core.config import Brand
from core.textfold import fold


def at_word_boundary(text: str, start: int, end: int) -> bool:
    """A match text[start:end] that begins/ends with a Latin letter (or digit) must not continue a word.

    Letters next to digits are allowed ("iPhone15" still names the iPhone); digits next to digits are not.
    """
    first, last = text[start], text[end - 1]
    if start > 0:
        before = text[start - 1]
        if first.isdigit():
            if before.isdigit():
                return False
        elif first.isascii() and first.isalpha() and before.isascii() and before.isalpha():
            return False
    if end < len(text):
        after = text[end]
        if last.isdigit():
            if after.isdigit():
                return False
        elif last.isascii() and last.isalpha() and after.isascii() and after.isalpha():
            return False
    return True


def find_all(automaton: Any, folded: str) -> Iterator[tuple[int, int, Any]]:
    """(start, end, payload) for every automaton hit that respects Latin word boundaries."""
    if not folded or automaton.kind == ahocorasick.EMPTY:
        return
    for last, (length, payload) in automaton.iter(folded):
        start, end = last - length + 1, last + 1
        if at_word_boundary(folded, start, end):
            yield start, end, payload


Kind = Literal["alias", "product", "exclusion"]


@dataclass(frozen=True)
class _Entry:
    brand_index: int
    kind: Kind
    value: str  # the name as configured, for reporting


@dataclass(frozen=True)
class BrandMatch:
    """Which brand a mention names, the configured product it names (if any) and the alias that matched."""

    brand: str
    product: str | None
    alias: str | None


@dataclass(frozen=True, eq=False)
class BrandMatcher:
    brands: tuple[Brand, ...]
    automaton: Any


@functools.lru_cache(maxsize=32)
def compile_brands(brands: tuple[Brand, ...]) -> BrandMatcher:
    """One automaton for every alias, product and exclusion of every brand; cached per brand set."""
    table: dict[str, list[_Entry]] = {}
    for i, brand in enumerate(brands):
        names: list[tuple[Kind, str]] = [("alias", brand.name)]
        names += [("alias", a) for a in brand.aliases]
        names += [("product", p) for p in brand.products]
        names += [("exclusion", e) for e in brand.exclusions]
        for kind, value in names:
            key = fold(value).strip()
            if key:
                table.setdefault(key, []).append(_Entry(i, kind, value))
    automaton = ahocorasick.Automaton()
    for key, entries in table.items():
        automaton.add_word(key, (len(key), tuple(entries)))
    if table:
        automaton.make_automaton()
    return BrandMatcher(brands, automaton)


@dataclass
class _Score:
    hits: int = 0
    title_hits: int = 0
    first: int = 1 << 60
    alias: str | None = None
    product: str | None = None


def _scan(matcher: BrandMatcher, folded: str, offset: int, in_title: bool, scores: dict[int, _Score]) -> None:
    hits: list[tuple[int, int, _Entry]] = []
    excl: dict[int, list[tuple[int, int, bool]]] = {}
    for start, end, entries in find_all(matcher.automaton, folded):
        for e in entries:
            if e.kind == "exclusion":
                excl.setdefault(e.brand_index, []).append((start, end, False))
            else:
                hits.append((start, end, e))
    # an exclusion containing no name of its brand is a context exclusion: it rules the brand out of the text
    for b, spans in excl.items():
        for j, (s, t, _) in enumerate(spans):
            contains = any(h[2].brand_index == b and s <= h[0] and h[1] <= t for h in hits)
            spans[j] = (s, t, not contains)
    for start, end, e in hits:
        spans = excl.get(e.brand_index, [])
        if any(ctx or (s <= start and end <= t) for s, t, ctx in spans):
            continue
        sc = scores.setdefault(e.brand_index, _Score())
        sc.hits += 1
        sc.title_hits += in_title
        sc.first = min(sc.first, offset + start)
        if e.kind == "alias" and sc.alias is None:
            sc.alias = e.value
        if e.kind == "product" and sc.product is None:
            sc.product = e.value


def match(text: str | None, title: str | None, brands: Sequence[Brand]) -> BrandMatch | None:
    """The brand the mention is most about: most title hits, then most hits, then first mentioned."""
    brands = tuple(brands)
    if not brands:
        return None
    return match_with(compile_brands(brands), text, title)


def match_with(matcher: BrandMatcher, text: str | None, title: str | None) -> BrandMatch | None:
    """match() with the brands' automaton at hand: a caller matching every mention against one brand set compiles
    it once (compile_brands' cache hashes the brands' models on every call: ~5 us a mention with five brands)."""
    if not matcher.brands:
        return None
    scores: dict[int, _Score] = {}
    if title:
        _scan(matcher, fold(title), 0, True, scores)
    if text:
        _scan(matcher, fold(text), 1 << 40, False, scores)
    if not scores:
        return None
    best = min(scores, key=lambda b: (-scores[b].title_hits, -scores[b].hits, scores[b].first, b))
    sc = scores[best]
    return BrandMatch(matcher.brands[best].name, sc.product, sc.alias)
