"""Search for PR teams: a plain phrase finds exactly the mentions containing it; Lucene syntax works too.

Chinese is indexed one character a token, so a phrase query is an exact substring match. Lucene's query
parser would turn an unquoted Chinese word into loose single characters (小米 -> 小 AND 米 anywhere), so
bare Chinese terms are quoted before parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch

from core.textfold import fold_width
from store import mapping

# the boundary-aware copies of text and title (see mapping.phrase_segments)
SEARCH_FIELDS = ("text_phrase", "title_phrase")
_LUCENE_HINT = re.compile(r'(\b(AND|OR|NOT)\b|[":()*?~^\[\]{}]|(^|\s)[+-]\S)')
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
# a bare term (outside quotes) possibly preceded by field: ; we quote its value when it has CJK in it
_TERM = re.compile(r'"(?:\\.|[^"\\])*"|([^\s"()]+)')
_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
SORTS: dict[str, list[str | dict[str, str]]] = {
    "newest": [{"@timestamp": "desc"}],
    "oldest": [{"@timestamp": "asc"}],
    "engagement": [{"engagement": "desc"}, {"@timestamp": "desc"}],
    "relevance": ["_score", {"@timestamp": "desc"}],
}


class QueryError(ValueError):
    """A search option or query the user must fix; the message says which."""


def is_lucene(query: str) -> bool:
    return bool(_LUCENE_HINT.search(query))


def quote_cjk_terms(query: str) -> str:
    def repl(m: re.Match[str]) -> str:
        term = m.group(1)
        if term is None or not _CJK.search(term) or any(c in term for c in "*?~"):
            return m.group(0)
        if term in ("AND", "OR", "NOT"):
            return term
        field, sep, value = term.partition(":")
        if sep and value:
            return f'{field}:"{value}"'
        lead = term[0] if term[0] in "+-" else ""
        return f'{lead}"{term[len(lead) :]}"'

    return _TERM.sub(repl, query)


def parse_time(value: str, name: str, now: datetime, tz: tzinfo | None = None) -> datetime:
    """ISO 8601 (date or datetime; no offset means the zone `tz`, the configured `timezone:`, default UTC) or
    relative: 30m, 24h, 7d, 2w ago. A time that leaves the calendar (999999d ago, year 9999 at -05:00) is a
    QueryError, not an overflow."""
    raw = value.strip()
    m = _RELATIVE.match(raw)
    if m:
        n, unit = int(m.group(1)) if len(m.group(1)) < 12 else 10**12, m.group(2)
        try:
            delta = {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n),
                     "w": timedelta(weeks=n)}[unit]
            return now - delta
        except OverflowError:
            raise QueryError(f"{name}: {value!r} reaches before the year 1; try a shorter span or a date") from None
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(
            f"{name}: expected an ISO time (2026-11-24, 2026-11-24T10:00+08:00) or 24h/7d, got {value!r}"
        ) from None
    dt = dt if dt.tzinfo else dt.replace(tzinfo=tz or UTC)
    try:
        dt.astimezone(UTC)
    except OverflowError:
        raise QueryError(f"{name}: {value!r} is outside the years 1 to 9999 once in UTC") from None
    return dt


@dataclass(frozen=True)
class SearchRequest:
    query: str = ""
    since: datetime | None = None
    until: datetime | None = None
    platforms: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    sentiment: str | None = None
    categories: tuple[str, ...] = ()
    complaints_only: bool = False
    limit: int = 20
    sort: str = "newest"


def build_query(req: SearchRequest) -> dict[str, Any]:
    """The Elasticsearch query for a request (pure, for tests)."""
    must: list[dict[str, Any]] = []
    q = fold_width(req.query).strip()  # the folding the indexed text got
    if q and q != "*":
        if is_lucene(q):
            must.append(
                {
                    "query_string": {
                        "query": quote_cjk_terms(q),
                        "fields": list(SEARCH_FIELDS),
                        "phrase_slop": 0,
                        "default_operator": "AND",
                        "auto_generate_synonyms_phrase_query": False,
                    }
                }
            )
        else:
            must.append(
                {
                    "bool": {
                        "should": [{"match_phrase": {f: {"query": q}}} for f in SEARCH_FIELDS],
                        "minimum_should_match": 1,
                    }
                }
            )
    filters: list[dict[str, Any]] = []
    if req.since or req.until:
        rng: dict[str, str] = {}
        if req.since:
            rng["gte"] = req.since.isoformat()
        if req.until:
            rng["lt"] = req.until.isoformat()
        filters.append({"range": {"@timestamp": rng}})
    if req.platforms:
        filters.append({"terms": {"platform": [p.lower() for p in req.platforms]}})
    if req.brands:
        filters.append({"terms": {"brand": list(req.brands)}})
    if req.sentiment:
        filters.append({"term": {"sentiment.label": req.sentiment}})
    if req.categories:
        filters.append({"terms": {"complaint.categories": list(req.categories)}})
    if req.complaints_only:
        filters.append({"term": {"complaint.is_complaint": True}})
    return {"bool": {"must": must or [{"match_all": {}}], "filter": filters}}


@dataclass(frozen=True)
class Found:
    """What a search found. `failures` names the shards that failed: then `total` and `hits` are partial, and
    whoever shows them must say so."""

    total: int
    hits: list[dict[str, Any]]
    failures: tuple[str, ...] = ()


class ShardsFailed(RuntimeError):
    """Some shards failed (not because of the query): the answer would be partial."""


# shard failures that mean the query itself is wrong (a parse error, a value the field cannot take)
_QUERY_FAILURES = {"query_shard_exception", "parse_exception", "search_parse_exception", "parsing_exception",
                   "query_parsing_exception", "number_format_exception", "illegal_argument_exception",
                   "x_content_parse_exception", "too_many_nested_clauses", "too_many_clauses"}


def _causes(reason: Any) -> list[dict[str, Any]]:
    """A failure's reason and its caused_by chain, outermost first."""
    chain = []
    while isinstance(reason, dict):
        chain.append(reason)
        reason = reason.get("caused_by")
    return chain


def _query_error(reasons: list[Any]) -> QueryError | None:
    """The QueryError these shard failure reasons amount to, if the query is what they blame."""
    for reason in reasons:
        chain = _causes(reason)
        if chain and any(c.get("type") in _QUERY_FAILURES for c in chain):
            texts = [str(c.get("reason") or "").strip() for c in chain]
            said = next((t for t in reversed(texts) if t.startswith("Cannot parse")), None)
            said = said or next((t for t in reversed(texts) if t), str(chain[0].get("type")))
            return QueryError(f"the query is broken: {said.splitlines()[0]}")
    return None


def _failures(resp: Any) -> tuple[str, ...]:
    """Shard failures of a 200 answer; QueryError when they blame the query."""
    shards = resp.get("_shards") or {}
    failed = shards.get("failures") or []
    if not failed and not shards.get("failed"):
        return ()
    err = _query_error([f.get("reason") for f in failed if isinstance(f, dict)])
    if err is not None:
        raise err
    out = []
    for f in failed:
        chain = _causes(f.get("reason"))
        why = chain[-1].get("reason") if chain else None
        out.append(f"{f.get('index', '?')}[{f.get('shard', '?')}]: {why or (chain[0].get('type') if chain else '?')}")
    return tuple(out) or (f"{shards.get('failed')} of {shards.get('total')} shards failed",)


def _call(fn: Any, **kwargs: Any) -> Any:
    """A search or count; a 400 that blames the query becomes a QueryError."""
    try:
        return fn(**kwargs)
    except BadRequestError as exc:
        body: dict[str, Any] = exc.body if isinstance(exc.body, dict) else {}
        error: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else {}
        reasons = [f.get("reason") for f in error.get("failed_shards") or [] if isinstance(f, dict)]
        err = _query_error([*reasons, error, *(error.get("root_cause") or [])])
        if err is not None:
            raise err from None
        raise


def find(es: Elasticsearch, prefix: str, req: SearchRequest) -> Found:
    """The matching mentions; QueryError for a query Elasticsearch cannot parse (on any shard)."""
    if req.sort not in SORTS:
        raise QueryError(f"--sort: expected one of {', '.join(SORTS)}, got {req.sort!r}")
    resp = _call(
        es.search,
        index=mapping.alias(prefix),
        query=build_query(req),
        size=req.limit,
        sort=SORTS[req.sort],
        track_total_hits=True,
        source_excludes=["engagement_history", "extra", *mapping.INDEX_ONLY],
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    failures = _failures(resp)
    hits = [h["_source"] | {"_id": h["_id"], "_index": h["_index"]} for h in resp["hits"]["hits"]]
    return Found(int(resp["hits"]["total"]["value"]), hits, failures)


def tally(es: Elasticsearch, prefix: str, req: SearchRequest) -> Found:
    """How many mentions match (no hits); QueryError as `find`."""
    resp = _call(es.count, index=mapping.alias(prefix), query=build_query(req), ignore_unavailable=True,
                 allow_no_indices=True)
    return Found(int(resp["count"]), [], _failures(resp))


def search(es: Elasticsearch, prefix: str, req: SearchRequest) -> tuple[int, list[dict[str, Any]]]:
    """`find` for callers that cannot show a partial answer: ShardsFailed instead of one."""
    found = find(es, prefix, req)
    if found.failures:
        raise ShardsFailed("; ".join(found.failures))
    return found.total, found.hits


def count(es: Elasticsearch, prefix: str, req: SearchRequest) -> int:
    found = tally(es, prefix, req)
    if found.failures:
        raise ShardsFailed("; ".join(found.failures))
    return found.total
