"""Issue 11, the fuzz suite: arbitrary and mangled input to every entry point that reads what strangers or careless
operators write. Each must answer with its documented error or skip, never crash with anything else.

- ingest: the JSON Lines and CSV readers (any bytes), and normalize (any field values; what passes must encode);
- every platform parser (crawlers/parsers/*): arbitrary JSON, the saved responses with one node replaced, and
  arbitrary HTML; only ParseError (LayoutChanged is one) or Blocked (LoginWall is one) may come out;
- the configuration loader: any YAML text and any values under the known keys; only ConfigError;
- search: query building and time parsing for any text; only QueryError.

The budget is the "ci" hypothesis profile (tests/conftest.py): fixed examples, fixed seed, no deadline.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from core.mention import INPUT_FIELDS, Mention
from crawlers.parsers import bilibili, jd, reddit, reviews, weibo, xiaohongshu
from crawlers.parsers.common import Blocked, ParseError, SearchPage, load_json, load_jsonp
from groundswell import config as gsconfig
from groundswell.ingest import fast_json_record, parse_json_line, read
from pipelines.normalize import Rejected, normalize
from store import mapping
from store import search as searching
from tests.conftest import DATA

pytestmark = pytest.mark.fuzz

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
RESPONSES = DATA / "responses"

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=30,
)
times = st.one_of(st.none(), st.text(max_size=40), st.floats(), st.integers(), st.datetimes(
    timezones=st.timezones() | st.none()), st.from_regex(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}",
                                                             fullmatch=True))


# --- ingest ---------------------------------------------------------------------------------------------------


@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("utf-8", "replace")))
def test_json_line_parser_never_raises(line: str) -> None:
    record, error = parse_json_line(line)
    assert (record is None) != (error is None)


numbers = (st.integers(min_value=-(2**70), max_value=2**70).map(str) | st.floats().map(repr)
           | st.from_regex(r"-?\d{1,25}(\.\d{1,25})?[eE][+-]?\d{1,3}", fullmatch=True))


@given(st.dictionaries(st.text(max_size=12), json_values | numbers.map(lambda n: ("number", n)), max_size=6),
       st.booleans())
def test_the_fast_json_path_reads_what_the_checked_one_reads(record: dict[str, Any], ascii_only: bool) -> None:
    """orjson's reading of a line (groundswell.ingest.fast_json_record) is json's, value for value and type for type,
    or it steps aside: big integers, NaN, out-of-range numbers, lone surrogates go the checked way."""
    parts = []
    for key, value in record.items():
        literal = value[1] if isinstance(value, tuple) else json.dumps(value, ensure_ascii=ascii_only)
        parts.append(f"{json.dumps(key, ensure_ascii=ascii_only)}: {literal}")
    line = "{" + ", ".join(parts) + "}\n"
    fast = fast_json_record(line.encode("utf-8", "surrogatepass"))
    checked, _ = parse_json_line(line)
    if fast is not None:
        assert repr(fast) == repr(checked)


@given(st.lists(st.one_of(json_values.map(json.dumps), st.text(max_size=80), st.just('{"a":' * 50)), max_size=8))
def test_jsonl_reader_never_raises(tmp_path_factory: pytest.TempPathFactory, lines: list[str]) -> None:
    path = tmp_path_factory.mktemp("fz") / "m.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    for line in read(str(path)):
        assert (line.mention is None) != (line.error is None)


@given(st.binary(max_size=600), st.sampled_from(["csv", "jsonl"]))
def test_any_bytes_are_read_line_by_line(tmp_path_factory: pytest.TempPathFactory, data: bytes, fmt: str) -> None:
    path = tmp_path_factory.mktemp("fz") / "m.bin"
    path.write_bytes(b"platform,source_id,text,published_at\n" + data if fmt == "csv" else data)
    numbers = []
    for line in read(str(path), fmt):
        assert (line.mention is None) != (line.error is None)
        numbers.append(line.number)
    assert numbers == sorted(numbers)


csv_cells = st.text(alphabet=st.sampled_from(list('ab,"\n\r 小\ufeff')), max_size=12)


@given(st.lists(st.lists(csv_cells, min_size=1, max_size=6), max_size=8))
def test_mangled_csv_keeps_every_well_formed_row(tmp_path_factory: pytest.TempPathFactory,
                                                 rows: list[list[str]]) -> None:
    path = tmp_path_factory.mktemp("fz") / "m.csv"
    body = "".join(",".join(r) + "\n" for r in rows)
    good = "weibo,ok1,小米 fine,2026-11-24T10:00:00Z\n"
    path.write_text("platform,source_id,text,published_at\n" + body + good, encoding="utf-8")
    lines = list(read(str(path)))
    assert all((x.mention is None) != (x.error is None) for x in lines)
    if body.count('"') % 2 == 0:  # an odd quote may legitimately swallow the last row into a cell
        assert any(x.mention is not None and x.mention.source_id == "ok1" for x in lines)


@given(st.fixed_dictionaries({}, optional={name: json_values | times for name in sorted(INPUT_FIELDS)}),
       st.dictionaries(st.text(max_size=8), json_values, max_size=3))
def test_normalize_rejects_or_yields_a_storable_mention(fields: dict[str, Any], extra: dict[str, Any]) -> None:
    base = {"platform": "weibo", "text": "小米 手机", "published_at": "2026-11-24T10:00:00Z", "source_id": "1"}
    try:
        m = normalize(Mention(**{**base, **fields}, extra=extra), NOW)
    except Rejected as exc:
        assert str(exc) and len(str(exc)) < 400
        return
    doc = mapping.to_document(m)
    json.dumps(doc, ensure_ascii=False, allow_nan=False).encode("utf-8")


# --- the platform parsers -------------------------------------------------------------------------------------


def _parsers() -> dict[str, Any]:
    """Every parser that reads a JSON answer, keyed like its saved response."""
    product = jd.Product("100012043978", "小米14")
    return {
        "weibo_search": lambda p: weibo.parse_search(p, NOW, page=2),
        "weibo_comments": lambda p: weibo.parse_comments(p, NOW, "M1"),
        "weibo_long_text": weibo.parse_long_text,
        "weibo_comment_cursor": weibo.comment_cursor,
        "bilibili_search": lambda p: bilibili.parse_search(p, NOW, page=1),
        "bilibili_replies": lambda p: bilibili.parse_replies(p, NOW, "BV1"),
        "bilibili_view": bilibili.parse_view,
        "bilibili_followers": bilibili.parse_followers,
        "bilibili_visitor": bilibili.parse_visitor,
        "reddit_search": lambda p: reddit.parse_search(p, NOW),
        "reddit_comments": lambda p: reddit.parse_comments(p, NOW, "p1"),
        "jd_reviews": lambda p: jd.parse_reviews(p, NOW, product, page=1),
        "xiaohongshu_search": lambda p: xiaohongshu.parse_search([p], NOW),
        "xiaohongshu_detail": lambda p: xiaohongshu.apply_detail(Mention(platform="xiaohongshu", text="x"), p),
    }


PARSERS = _parsers()
FIXTURES: dict[str, Any] = {"weibo_search": "weibo_search.json", "weibo_comments": "weibo_comments.json",
            "weibo_long_text": {"ok": 1, "data": {"longTextContent": "小米手机<br/>黑屏了"}},
            "weibo_comment_cursor": "weibo_comments.json",
            "bilibili_search": "bilibili_search.json", "bilibili_replies": "bilibili_replies.json",
            "bilibili_view": "bilibili_view_doc.json", "bilibili_followers": "bilibili_relation_doc.json",
            "bilibili_visitor": "bilibili_spi_doc.json", "reddit_search": "reddit_search.json",
            "reddit_comments": "reddit_search.json", "jd_reviews": "jd_reviews.json",
            "xiaohongshu_search": "xiaohongshu_search_notes.json", "xiaohongshu_detail": "xiaohongshu_feed.json"}


def _fixture(name: str) -> Any:
    if not isinstance(FIXTURES[name], str):
        return FIXTURES[name]  # no saved response: the documented shape
    path: Path = RESPONSES / FIXTURES[name]
    text = path.read_text(encoding="utf-8")
    return load_jsonp(text, name) if path.suffix == ".jsonp" else load_json(text, name)


def _check(result: Any) -> None:
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], list):  # jd products, skipped
        assert all(isinstance(p, jd.Product) for p in result[0]) and all(isinstance(r, str) for r in result[1])
    if isinstance(result, SearchPage):
        assert all(isinstance(m, Mention) for m in result.mentions)
        assert all(isinstance(s, str) for s in result.skipped)


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(node, dict):
        for k, v in node.items():
            found += _paths(v, (*here, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _paths(v, (*here, i))
    return found


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        return {**node, head: _replace(node[head], rest, value)}
    copy = list(node)
    copy[head] = _replace(node[head], rest, value)
    return copy


@pytest.mark.parametrize("name", sorted(PARSERS))
@given(payload=json_values)
def test_parsers_take_any_json(name: str, payload: Any) -> None:
    with contextlib.suppress(ParseError, Blocked):
        _check(PARSERS[name](payload))


@pytest.mark.parametrize("name", sorted(PARSERS))
@given(data=st.data())
def test_parsers_take_their_own_response_with_one_node_mangled(name: str, data: st.DataObject) -> None:
    payload = _fixture(name)
    where = data.draw(st.sampled_from(_paths(payload)))
    mangled = _replace(payload, where, data.draw(json_values | times))
    with contextlib.suppress(ParseError, Blocked):
        _check(PARSERS[name](mangled))


@given(st.text(max_size=300) | st.binary(max_size=300))
def test_json_and_jsonp_bodies_are_parse_errors_or_values(body: str | bytes) -> None:
    for loader in (load_json, load_jsonp):
        with contextlib.suppress(ParseError):
            loader(body, "fuzz")


html_fragments = st.lists(st.sampled_from([
    '<div class="review" id="r1">', "</div>", '<p class="text">', "</p>", '<time datetime="', '">', "</time>",
    '<span class="rating">', "★★★", "</span>", '<a class="next" href="', "?page=2", '<ul id="J_goodsList">',
    '<li class="gl-item" data-sku="', "100012043978", '<div class="p-name"><em>', "</em></div>", "</li>",
    '<script type="application/ld+json">', '{"@context": "https://schema.org", "@type": "Product", "review": [',
    '{"@type": "Review", "reviewBody": "', '", "datePublished": "', '", "author": {"name": "a"}}', "]}", "</script>",
    '<div itemscope itemtype="https://schema.org/Review">', '<span itemprop="reviewBody">', "3天前", "2024年3月5日",
    "<script>", "&amp;", "\x00", "\x08", "小米", "<", ">", '"', "9999-12-31T23:59:59-05:00", "-1e20", "</a>",
    "99999999999999999999", "{", "}", "[", "]", ",",
]) | st.text(max_size=10), max_size=40).map("".join)


@given(html_fragments)
def test_html_parsers_take_any_page(html: str) -> None:
    for parse in (lambda h: reviews.parse_page(h, "https://shop.example/reviews", NOW),
                  lambda h: jd.parse_products(h)):
        with contextlib.suppress(ParseError, Blocked):
            _check(parse(html))


# --- the configuration loader ----------------------------------------------------------------------------------

SECTIONS = ["brands", "sources", "rules", "recipients", "smtp", "alerting", "scheduler", "elasticsearch", "accounts"]


@given(st.text(max_size=200))
def test_config_loader_takes_any_text(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("fz") / "g.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        gsconfig.load(str(path), env={})
    except gsconfig.ConfigError as exc:
        assert str(exc).startswith(str(path)) or "environment" in str(exc)


@given(st.dictionaries(st.sampled_from(SECTIONS), json_values | st.dictionaries(st.sampled_from(
    ["name", "type", "query", "port", "url", "job_store_url", "index_prefix", "spider", "keywords", "cron", "tiers",
     "interval_minutes", "selectors", "timezone", "notice", "enabled", "local", "version", "heap"]), json_values,
    max_size=5), max_size=4))
def test_config_loader_takes_any_values(tmp_path_factory: pytest.TempPathFactory, doc: dict[str, Any]) -> None:
    path = tmp_path_factory.mktemp("fz") / "g.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    try:
        gsconfig.load(str(path), env={})
    except gsconfig.ConfigError as exc:
        assert str(exc)


# --- search ------------------------------------------------------------------------------------------------------


@given(st.text(max_size=80), st.text(max_size=30))
def test_search_query_building_and_times(query: str, when: str) -> None:
    built = searching.build_query(searching.SearchRequest(query=query))
    json.dumps(built, ensure_ascii=False)
    searching.quote_cjk_terms(query)
    try:
        parsed = searching.parse_time(when, "--since", NOW)
    except searching.QueryError:
        return
    searching.build_query(searching.SearchRequest(query=query, since=parsed))


# --- what the fuzzing found, kept as plain examples -------------------------------------------------------------


@pytest.mark.parametrize("value", [1e20, float("inf"), float("nan"), "9" * 5000, 2**70, -5, "²"])
def test_parser_times_out_of_the_calendar_are_skips(value: object) -> None:
    from crawlers.parsers.common import Skip, from_epoch

    with pytest.raises(Skip):
        from_epoch(value)
    with pytest.raises(Skip):
        weibo.parse_time("99999999999999小时前", NOW)
    note = Mention(platform="xiaohongshu", text="小米", published_at=NOW)
    xiaohongshu.apply_detail(note, {"code": 0, "success": True, "data": {"items": [{"note_card": {"time": 10**30}}]}})
    assert note.published_at == NOW  # a detail time out of the calendar leaves the search answer's time


def test_control_characters_in_a_page_are_not_a_crash() -> None:
    html = '<ul id="J_goodsList"><li class="gl-item" \x08 data-sku="1"><div class="p-name"><em>小米</em></div></li>'
    products, _skipped = jd.parse_products(html)  # no ValueError from lxml
    assert [p.product_id for p in products] == ["1"]


def test_bilibili_nested_replies_that_are_not_a_list_are_ignored() -> None:
    payload = _fixture("bilibili_replies")
    payload["data"]["replies"][0]["replies"] = 1
    assert bilibili.parse_replies(payload, NOW, "BV1").mentions
