"""Complaint tagging: which complaint categories a mention raises, how severe, and whether it is a complaint.

The taxonomy is data (complaint_taxonomy.yaml), loaded once into frozen objects; every phrase of every
category, its exclusions and the per-brand extras go into ONE Aho-Corasick automaton, so tagging costs one
pass over the text however many phrases there are. A category phrase alone does not make a complaint:
"物流很快，没有破损" names logistics words in a happy text, so `is_complaint` also asks the sentiment.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import pickle
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import ahocorasick
import yaml

from core import paths, yamlfile
from core.brands import find_all
from core.textfold import fold
from pipelines.complaint_quantities import durations

DEFAULT_TAXONOMY = Path(__file__).with_name("complaint_taxonomy.yaml")
SEVERITIES: tuple[str, ...] = ("notice", "urgent", "crisis")
NEGATIVE_BELOW = 0.4  # sentiment score under which a categorised mention is a complaint
NEUTRAL_BELOW = 0.6  # crisis-level tags count already in the neutral band: missing one costs more
_ALT_RE = re.compile(r"\{([^{}]*)\}")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")

Severity = Literal["notice", "urgent", "crisis"]


class TaxonomyError(ValueError):
    """A taxonomy problem, worded for the user: file, key path and bad value."""


@dataclass(frozen=True)
class NearRule:
    """An object near a problem ("送餐" ... "太慢"): both within `window` characters of each other, in one sentence.

    Ordinary wording puts words between the two ("外卖送得也太慢了"), which no fixed phrase list covers."""

    objects: tuple[str, ...]
    problems: tuple[str, ...]
    window: int


@dataclass(frozen=True)
class WaitRule:
    """A long wait: a duration of at least `min_minutes` with a cue ("等了", "才到") within `window` characters and
    a context word ("外卖", "骑手") within `context_window` characters: "等了两个小时买到演唱会门票" is no complaint."""

    min_minutes: float
    cues: tuple[str, ...]
    context: tuple[str, ...]
    window: int = 6
    context_window: int = 20


@dataclass(frozen=True)
class SubCategory:
    id: str  # "logistics.late_delivery"
    label: str
    severity: str
    keywords: tuple[str, ...]
    exclusions: tuple[str, ...]
    negatable: bool
    near: tuple[NearRule, ...] = ()
    waits: WaitRule | None = None


@dataclass(frozen=True)
class Category:
    id: str
    label: str
    severity: str
    exclusions: tuple[str, ...]
    subcategories: tuple[SubCategory, ...]


@dataclass(frozen=True)
class Taxonomy:
    categories: tuple[Category, ...]
    negation_prefixes: tuple[str, ...] = ()
    negation_suffixes: tuple[str, ...] = ()
    path: str = "<memory>"
    context: tuple[str, ...] = ()  # commerce words that let short, generic keywords count (see the YAML)
    short_phrase: int = 4

    def subcategory(self, sub_id: str) -> SubCategory | None:
        return next((s for c in self.categories for s in c.subcategories if s.id == sub_id), None)


@dataclass(frozen=True)
class BrandKeywords:
    """Extra phrases one brand adds to the taxonomy: {"product_quality.defect": ("续航尿崩",)} or a
    category id (then the phrases go to its first sub-category). Exclusions work the same way."""

    brand: str
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exclusions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class TagResult:
    categories: tuple[str, ...] = ()
    subcategories: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    severity: str | None = None

    def __bool__(self) -> bool:
        return bool(self.categories)


@dataclass(frozen=True)
class _Hit:
    kind: Literal["keyword", "exclusion", "object", "problem", "cue", "context", "commerce"]
    scope: str  # a sub-category id, or a category id for category-wide exclusions; "sub#n" for near/wait parts
    phrase: str  # as written in the taxonomy (after {a|b} expansion)
    brand: str | None  # None: for every brand; else only for mentions of this (folded) brand
    negatable: bool = False  # a negation right before (or, for Chinese, right after) cancels this keyword
    cjk: bool = False


@dataclass(frozen=True, eq=False)
class Rules:
    """The compiled taxonomy: one automaton plus what is needed to turn hits into a TagResult."""

    taxonomy: Taxonomy
    automaton: Any
    order: Mapping[str, int]  # sub-category id -> position in the taxonomy, for stable output
    severity: Mapping[str, str]
    # negations are checked around each keyword hit instead of being multiplied into the automaton
    # (that made ~190k phrases and a 3 s build): "没有" + "破损" is the keyword 破损 preceded by 没有
    neg_prefix_zh: tuple[str, ...] = ()
    neg_prefix_en: tuple[str, ...] = ()
    neg_suffix_zh: tuple[str, ...] = ()
    windows: Mapping[str, int] = field(default_factory=dict)  # "sub#i" -> its near rule's window
    waits: Mapping[str, WaitRule] = field(default_factory=dict)  # "sub#wait" -> the sub-category's wait rule


# ---------------------------------------------------------------- loading


def expand(phrase: str) -> list[str]:
    """ "{物流|快递}{太|}慢" -> ["物流太慢", "物流慢", "快递太慢", "快递慢"]."""
    parts = _ALT_RE.split(phrase)
    choices = [[p] if i % 2 == 0 else p.split("|") for i, p in enumerate(parts)]
    return ["".join(c) for c in itertools.product(*choices)]


def _phrases(where: str, raw: Any) -> tuple[str, ...]:
    """A list of phrases, or {zh: [...], en: [...]}; expanded; each must be non-empty text."""
    if raw is None:
        return ()
    groups: list[tuple[str, Any]] = (
        [(f"{where}.{k}", v) for k, v in raw.items()] if isinstance(raw, Mapping) else [(where, raw)]
    )
    out: list[str] = []
    for key, values in groups:
        if values is None:
            continue
        if not isinstance(values, list):
            raise TaxonomyError(f"{key}: expected a list of phrases (got {values!r})")
        for i, value in enumerate(values):
            if not isinstance(value, str) or not value.strip():
                raise TaxonomyError(f"{key}[{i}]: expected a non-empty phrase (got {value!r})")
            if value.count("{") != value.count("}"):
                raise TaxonomyError(f"{key}[{i}]: unbalanced {{a|b}} alternation (got {value!r})")
            out.extend(p for p in expand(value) if p.strip())
    return tuple(dict.fromkeys(out))


def _severity(where: str, raw: Any, default: str | None) -> str:
    if raw is None and default is not None:
        return default
    if raw not in SEVERITIES:
        raise TaxonomyError(f"{where}: expected one of {', '.join(SEVERITIES)} (got {raw!r})")
    return str(raw)


def _mapping(where: str, raw: Any) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise TaxonomyError(f"{where}: expected a mapping (got {raw!r})")
    return raw


def _int(where: str, raw: Any, default: int) -> int:
    if raw is None:
        return default
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
        raise TaxonomyError(f"{where}: expected a whole number of characters or minutes (got {raw!r})")
    return raw


def _near_rules(where: str, raw: Any) -> tuple[NearRule, ...]:
    """`near: [{objects: [...], problems: [...], window: 6}, ...]`."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise TaxonomyError(f"{where}: expected a list of {{objects, problems, window}} (got {raw!r})")
    out: list[NearRule] = []
    for i, item in enumerate(raw):
        m = _mapping(f"{where}[{i}]", item)
        objects = _phrases(f"{where}[{i}].objects", m.get("objects"))
        problems = _phrases(f"{where}[{i}].problems", m.get("problems"))
        if not objects or not problems:
            raise TaxonomyError(f"{where}[{i}]: needs both objects and problems (got {item!r})")
        out.append(NearRule(objects, problems, _int(f"{where}[{i}].window", m.get("window"), 6)))
    return tuple(out)


def _wait_rule(where: str, raw: Any) -> WaitRule | None:
    """`waits: {min_minutes: 40, cues: [...], context: [...], window: 6, context_window: 20}`."""
    if raw is None:
        return None
    m = _mapping(where, raw)
    cues = _phrases(f"{where}.cues", m.get("cues"))
    context = _phrases(f"{where}.context", m.get("context"))
    if not cues or not context:
        raise TaxonomyError(f"{where}: needs cues and context phrases (got {raw!r})")
    return WaitRule(
        float(_int(f"{where}.min_minutes", m.get("min_minutes"), 40)),
        cues,
        context,
        _int(f"{where}.window", m.get("window"), 6),
        _int(f"{where}.context_window", m.get("context_window"), 20),
    )


def parse_taxonomy(data: Any, path: str = "<memory>") -> Taxonomy:
    """Validate the parsed YAML into frozen objects; errors name the file, the key and the bad value."""
    top = _mapping(f"{path}: (top level)", data)
    neg = _mapping(f"{path}: negation", top.get("negation") or {})
    cats_raw = _mapping(f"{path}: categories", top.get("categories"))
    categories: list[Category] = []
    for cid, craw in cats_raw.items():
        cwhere = f"{path}: categories.{cid}"
        if not isinstance(cid, str) or not _ID_RE.match(cid):
            raise TaxonomyError(f"{cwhere}: category ids are lowercase words like 'logistics' (got {cid!r})")
        c = _mapping(cwhere, craw)
        csev = _severity(f"{cwhere}.severity", c.get("severity"), "notice")
        subs_raw = _mapping(f"{cwhere}.subcategories", c.get("subcategories"))
        subs: list[SubCategory] = []
        for sid, sraw in subs_raw.items():
            swhere = f"{cwhere}.subcategories.{sid}"
            if not isinstance(sid, str) or not _ID_RE.match(sid):
                raise TaxonomyError(f"{swhere}: sub-category ids are lowercase words (got {sid!r})")
            s = _mapping(swhere, sraw)
            keywords = _phrases(f"{swhere}.keywords", s.get("keywords"))
            near = _near_rules(f"{swhere}.near", s.get("near"))
            waits = _wait_rule(f"{swhere}.waits", s.get("waits"))
            if not keywords and not near and waits is None:
                raise TaxonomyError(f"{swhere}.keywords: a sub-category needs at least one phrase (got none)")
            negatable = s.get("negatable", True)
            if not isinstance(negatable, bool):
                raise TaxonomyError(f"{swhere}.negatable: expected true or false (got {negatable!r})")
            subs.append(
                SubCategory(
                    id=f"{cid}.{sid}",
                    label=str(s.get("label", sid)),
                    severity=_severity(f"{swhere}.severity", s.get("severity"), csev),
                    keywords=keywords,
                    exclusions=_phrases(f"{swhere}.exclusions", s.get("exclusions")),
                    negatable=negatable,
                    near=near,
                    waits=waits,
                )
            )
        categories.append(
            Category(
                id=cid,
                label=str(c.get("label", cid)),
                severity=csev,
                exclusions=_phrases(f"{cwhere}.exclusions", c.get("exclusions")),
                subcategories=tuple(subs),
            )
        )
    ctx = _mapping(f"{path}: context", top.get("context") or {})
    return Taxonomy(
        categories=tuple(categories),
        negation_prefixes=_phrases(f"{path}: negation.prefixes", neg.get("prefixes")),
        negation_suffixes=_phrases(f"{path}: negation.suffixes", neg.get("suffixes")),
        path=path,
        context=_phrases(f"{path}: context", {k: v for k, v in ctx.items() if k != "short_phrase"}),
        short_phrase=_int(f"{path}: context.short_phrase", ctx.get("short_phrase"), 4),
    )


@functools.lru_cache(maxsize=8)
def load_taxonomy(path: str | Path = DEFAULT_TAXONOMY) -> Taxonomy:
    """Read and validate a taxonomy file once (cached per path)."""
    p = Path(path)
    try:
        data = yamlfile.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaxonomyError(f"{p}: taxonomy file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise TaxonomyError(f"{p}: {at}invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    return parse_taxonomy(data, str(p))


# ---------------------------------------------------------------- compiling


def _is_cjk(phrase: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in phrase)


def compile_rules(taxonomy: Taxonomy | None = None, extra_per_brand: Iterable[BrandKeywords] = ()) -> Rules:
    """Every keyword, exclusion, generated negation and brand extra of the taxonomy in one automaton."""
    taxonomy = taxonomy or load_taxonomy()
    table: dict[str, dict[_Hit, None]] = {}

    def add(phrase: str, hit: _Hit) -> None:
        key = fold(phrase)
        if key.strip():
            table.setdefault(key, {})[hit] = None

    zh_pre = [p for p in taxonomy.negation_prefixes if _is_cjk(p)]
    en_pre = [p for p in taxonomy.negation_prefixes if not _is_cjk(p)]
    order: dict[str, int] = {}
    severity: dict[str, str] = {}
    windows: dict[str, int] = {}
    waits: dict[str, WaitRule] = {}

    def add_sub(sub: SubCategory, keywords: Iterable[str], exclusions: Iterable[str], brand: str | None) -> None:
        for kw in keywords:
            add(kw, _Hit("keyword", sub.id, kw, brand, sub.negatable, _is_cjk(kw)))
        for ex in exclusions:
            add(ex, _Hit("exclusion", sub.id, ex, brand))

    for cat in taxonomy.categories:
        for ex in cat.exclusions:
            add(ex, _Hit("exclusion", cat.id, ex, None))
        for sub in cat.subcategories:
            order[sub.id] = len(order)
            severity[sub.id] = sub.severity
            add_sub(sub, sub.keywords, sub.exclusions, None)
            for i, rule in enumerate(sub.near):
                windows[f"{sub.id}#{i}"] = rule.window
                for ob in rule.objects:
                    add(ob, _Hit("object", f"{sub.id}#{i}", ob, None))
                for pr in rule.problems:
                    add(pr, _Hit("problem", f"{sub.id}#{i}", pr, None, sub.negatable, _is_cjk(pr)))
            if sub.waits is not None:
                waits[f"{sub.id}#wait"] = sub.waits
                for cue in sub.waits.cues:
                    add(cue, _Hit("cue", f"{sub.id}#wait", cue, None))
                for ctx in sub.waits.context:
                    add(ctx, _Hit("context", f"{sub.id}#wait", ctx, None))

    for extra in extra_per_brand:
        brand = fold(extra.brand)
        for what, mapping in (("keywords", extra.keywords), ("exclusions", extra.exclusions)):
            for target, phrases in mapping.items():
                sub_or_none = taxonomy.subcategory(target)
                if sub_or_none is None:
                    cat_match = next((c for c in taxonomy.categories if c.id == target), None)
                    if cat_match is None:
                        raise TaxonomyError(
                            f"brand {extra.brand!r}: {what}.{target}: no such category or sub-category "
                            f"in {taxonomy.path} (got {target!r})"
                        )
                    sub_or_none = cat_match.subcategories[0]
                for i, phrase in enumerate(phrases):
                    if not isinstance(phrase, str) or not phrase.strip():
                        where = f"brand {extra.brand!r}: {what}.{target}[{i}]"
                        raise TaxonomyError(f"{where}: expected a non-empty phrase (got {phrase!r})")
                expanded = [p for ph in phrases for p in expand(ph)]
                if what == "keywords":
                    add_sub(sub_or_none, expanded, (), brand)
                else:
                    add_sub(sub_or_none, (), expanded, brand)

    for word in taxonomy.context:
        add(word, _Hit("commerce", "*", word, None))
    automaton = ahocorasick.Automaton()
    for key, hits in table.items():
        automaton.add_word(key, (len(key), tuple(hits)))
    if table:
        automaton.make_automaton()
    return Rules(
        taxonomy,
        automaton,
        order,
        severity,
        neg_prefix_zh=tuple(fold(p) for p in zh_pre),
        neg_prefix_en=tuple(fold(p) for p in en_pre),
        neg_suffix_zh=tuple(fold(p) for p in taxonomy.negation_suffixes),
        windows=windows,
        waits=waits,
    )


def _rules_cache_key(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes())
    digest.update(Path(__file__).read_bytes())  # the compiler's own code changes what it builds
    digest.update(ahocorasick.__name__.encode())
    return digest.hexdigest()[:20]


@functools.lru_cache(maxsize=8)
def cached_rules(path: str | Path = DEFAULT_TAXONOMY) -> Rules:
    """Compiled rules for a taxonomy file, from an on-disk cache when the file and this code are unchanged.

    Expanding negations puts ~190k phrases in the automaton, about 3 s to build; unpickling it takes a
    fraction of that, which matters because every `groundswell ingest` and crawl process needs the rules.
    """
    p = Path(path)
    cache = paths.cache() / f"complaint-rules-{_rules_cache_key(p)}.pickle"
    try:
        with open(cache, "rb") as f:
            rules = pickle.load(f)
        if isinstance(rules, Rules):
            return rules
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        pass
    rules = compile_rules(load_taxonomy(p))
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".tmp-{os.getpid()}")
        with open(tmp, "wb") as f:
            pickle.dump(rules, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(cache)
    except OSError:
        pass  # a read-only cache only costs start-up time
    return rules


def default_rules() -> Rules:
    """The packaged taxonomy, compiled once per process (and cached on disk across processes)."""
    return cached_rules(DEFAULT_TAXONOMY)


# ---------------------------------------------------------------- tagging


_BOUNDARY = re.compile(r"[。！？!?;；\n]")


def _negated(rules: Rules, folded: str, start: int, end: int, h: _Hit) -> bool:
    """A negation right before the hit (or, for Chinese, right after it) cancels it: "没有破损", "破损都没有"."""
    return h.negatable and (
        folded.endswith(rules.neg_prefix_zh if h.cjk else rules.neg_prefix_en, 0, start)
        or (h.cjk and folded.startswith(rules.neg_suffix_zh, end))
    )


def _near(folded: str, a: tuple[int, int], b: tuple[int, int], window: int) -> bool:
    """Two spans that do not overlap, at most `window` characters apart, with no sentence end between them."""
    lo, hi = (a, b) if a[0] <= b[0] else (b, a)
    gap = hi[0] - lo[1]
    return 0 <= gap <= window and not _BOUNDARY.search(folded, lo[1], hi[0])


def _waited(rules: Rules, folded: str, parts: dict[str, list[tuple[int, int, _Hit]]]) -> dict[str, str]:
    """Sub-category -> phrase for every wait rule whose duration, cue and context line up."""
    out: dict[str, str] = {}
    found = list(durations(folded)) if any(s.endswith("#wait") for s in parts) else []
    for d in found:
        for scope, hits in parts.items():
            rule = rules.waits.get(scope)
            if rule is None or d.minutes < rule.min_minutes:
                continue
            cues = [h for s, e, h in hits if h.kind == "cue" and _near(folded, (s, e), (d.start, d.end), rule.window)]
            cue = max(cues, key=lambda h: len(h.phrase), default=None)
            ctx = any(
                h.kind == "context" and _near(folded, (s, e), (d.start, d.end), rule.context_window)
                for s, e, h in hits
            )
            if cue is not None and ctx:
                out.setdefault(scope.split("#", 1)[0], f"{cue.phrase}…{d.text}")
    return out


def has_commerce_context(text: str, rules: Rules | None = None) -> bool:
    """Whether the text names any of the taxonomy's commerce words (shop, courier, price, ...)."""
    rules = rules or default_rules()
    return any(h.kind == "commerce" for _, _, hits in find_all(rules.automaton, fold(text)) for h in hits)


def _short(phrase: str, limit: int) -> bool:
    """A generic keyword: fewer than `limit` characters (Chinese) or a single word (Latin)."""
    return len(phrase) < limit if _is_cjk(phrase) else " " not in phrase.strip()


def tag(
    text: str | None, rules: Rules | None = None, brand: str | None = None, require_context: bool = False
) -> TagResult:
    """Categories, sub-categories, matched phrases and the highest severity of one text.

    Three kinds of evidence, all from the one automaton pass: fixed phrases; an object near a problem
    (`near`); a long wait next to a delivery word (`waits`). Exclusions and negations cancel phrases and problems.
    `require_context`: the text names no brand and is no review, so short generic keywords need a commerce word.
    """
    if not text:
        return TagResult()
    rules = rules or default_rules()
    folded = fold(text)
    brand_key = fold(brand) if brand else None
    keywords: list[tuple[int, int, _Hit]] = []
    exclusions: list[tuple[int, int, str]] = []
    parts: dict[str, list[tuple[int, int, _Hit]]] = {}
    commerce = False
    for start, end, hits in find_all(rules.automaton, folded):
        for h in hits:
            if h.brand is not None and h.brand != brand_key:
                continue
            if h.kind == "commerce":
                commerce = True
            elif h.kind == "keyword":
                keywords.append((start, end, h))
            elif h.kind == "exclusion":
                exclusions.append((start, end, h.scope))
            else:
                parts.setdefault(h.scope, []).append((start, end, h))

    def excluded(start: int, end: int, sub_id: str) -> bool:
        category = sub_id.split(".", 1)[0]
        return any(s < end and start < t and scope in (sub_id, category) for s, t, scope in exclusions)

    subs: dict[str, None] = {}
    phrases: dict[str, None] = {}
    gate = require_context and not commerce
    limit = rules.taxonomy.short_phrase
    for start, end, h in keywords:
        if excluded(start, end, h.scope) or _negated(rules, folded, start, end, h):
            continue
        if gate and h.brand is None and _short(h.phrase, limit):
            continue
        subs[h.scope] = None
        phrases[h.phrase] = None
    for scope, hits in parts.items():
        window = rules.windows.get(scope)
        if window is None:
            continue
        sub_id = scope.split("#", 1)[0]
        objects = [(s, e, h) for s, e, h in hits if h.kind == "object" and not excluded(s, e, sub_id)]
        problems = [
            (s, e, h)
            for s, e, h in hits
            if h.kind == "problem" and not excluded(s, e, sub_id) and not _negated(rules, folded, s, e, h)
        ]
        pair = next(
            ((o, p) for o in objects for p in problems if _near(folded, o[:2], p[:2], window)),
            None,
        )
        if pair is not None:
            subs[sub_id] = None
            phrases[f"{pair[0][2].phrase}…{pair[1][2].phrase}"] = None
    for sub_id, phrase in _waited(rules, folded, parts).items():
        subs[sub_id] = None
        phrases[phrase] = None
    if not subs:
        return TagResult()
    ordered = sorted(subs, key=rules.order.__getitem__)
    categories = tuple(dict.fromkeys(s.split(".", 1)[0] for s in ordered))
    worst = max((rules.severity[s] for s in ordered), key=SEVERITIES.index)
    return TagResult(categories, tuple(ordered), tuple(phrases), worst)


def is_complaint(result: TagResult, sentiment_score: float | None, negative_below: float = NEGATIVE_BELOW) -> bool:
    """A complaint is a categorised mention that is also negative.

    Category words turn up in happy texts too ("物流很快，没有破损" once exclusions miss one), so a category
    alone is not enough; a negative text with no category is unhappy but not actionable by a service team.
    Crisis-level tags already count in the neutral band; with no sentiment at all the categories decide.
    """
    if not result.categories:
        return False
    if sentiment_score is None:
        return True
    if sentiment_score < negative_below:
        return True
    return result.severity == "crisis" and sentiment_score < NEUTRAL_BELOW
