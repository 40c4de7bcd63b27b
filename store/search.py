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

from elasticsearch import Elasticsearch

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
    relative: 30m, 24h, 7d, 2w ago."""
    raw = value.strip()
    m = _RELATIVE.match(raw)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        delta = {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}
        return now - delta[unit]
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(
            f"{name}: expected an ISO time (2026-11-24, 2026-11-24T10:00+08:00) or 24h/7d, got {value!r}"
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=tz or UTC)


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


def search(es: Elasticsearch, prefix: str, req: SearchRequest) -> tuple[int, list[dict[str, Any]]]:
    if req.sort not in SORTS:
        raise QueryError(f"--sort: expected one of {', '.join(SORTS)}, got {req.sort!r}")
    resp = es.search(
        index=mapping.alias(prefix),
        query=build_query(req),
        size=req.limit,
        sort=SORTS[req.sort],
        track_total_hits=True,
        source_excludes=["engagement_history", "extra", "text_phrase", "title_phrase"],
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    hits = [h["_source"] | {"_id": h["_id"], "_index": h["_index"]} for h in resp["hits"]["hits"]]
    for h in hits:
        h.pop("text_phrase", None)
        h.pop("title_phrase", None)
    return int(resp["hits"]["total"]["value"]), hits


def count(es: Elasticsearch, prefix: str, req: SearchRequest) -> int:
    resp = es.count(index=mapping.alias(prefix), query=build_query(req), ignore_unavailable=True, allow_no_indices=True)
    return int(resp["count"])
