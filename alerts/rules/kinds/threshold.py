"""Threshold: mentions matching a query (and a brand) in the window; score = how many."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from alerts.model import SEVERITIES, Match, Severity
from alerts.rules.base import EvalContext, RuleBase, RuleKind, Tiers
from alerts.rules.common import AUTHORS, known_between, lucene_and, mentions, quote, search, top_posts
from core.textfold import fold_width
from store.lucene import syntax_error
from store.search import SearchRequest, build_query, is_lucene, quote_cjk_terms


class ThresholdRule(RuleBase):
    """Mentions matching any query (Lucene or a plain phrase, as `groundswell search` reads it) in a window:
    score = their count. `threshold` + `severity` is shorthand for a single tier."""

    type: Literal["threshold"] = Field(default="threshold", description="threshold")
    query: str = Field(min_length=1, description="What to count, as `groundswell search` reads it: a plain phrase or "
        "Lucene (\"食品安全\" OR 吃坏肚子).")
    brand: str | None = Field(default=None, description="Only mentions of this brand.")
    sentiment: Literal["negative", "neutral", "positive"] | None = Field(default=None, description="Only mentions "
        "with this sentiment label.")
    window_minutes: int = Field(default=60, gt=0, description="Count mentions published this recently.")
    threshold: float | None = Field(default=None, gt=0, description="Shorthand for one tier: this count makes a "
        "match of `severity` (give tiers or threshold).")
    severity: Severity = Field(default="notice", description="The severity of the `threshold` shorthand.")
    tiers: Tiers | None = Field(default=None, description="Counts per severity: {notice: 1, urgent: 5, crisis: 20}.")

    @field_validator("query")
    @classmethod
    def _lucene(cls, value: str) -> str:
        """Checked when the configuration loads, as it will be sent: a query the store cannot parse would leave
        the rule blind (it never fires)."""
        q = fold_width(value).strip()
        if is_lucene(q) and q != "*":
            why = syntax_error(q) or syntax_error(quote_cjk_terms(q))  # as written, and as sent
            if why:
                raise ValueError(f"not a valid Lucene query: {why}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("tiers") is None:
            if data.get("threshold") is None:
                raise ValueError("give tiers (e.g. {notice: 1, urgent: 10}) or threshold and severity")
            severity = data.get("severity", "notice")
            level = severity if isinstance(severity, str) and severity in SEVERITIES else "notice"
            data = {**data, "tiers": {level: data["threshold"]}}  # a bad severity is worded by its own field
        return data

    @property
    def levels(self) -> Tiers:
        assert self.tiers is not None, "set by the shorthand validator"
        return self.tiers


@dataclass(frozen=True)
class Counted:
    """What the query found: matching mentions and their distinct authors, and the filter that found them."""

    count: int
    authors: int
    scope: dict[str, Any]


def _text_query(query: str) -> dict[str, Any]:
    """The same reading of a query as `groundswell search`: a plain phrase, or Lucene."""
    built = build_query(SearchRequest(query=query))
    return {"bool": {"must": built["bool"]["must"]}}


def lucene_of(query: str) -> str:
    q = fold_width(query).strip()
    return q if is_lucene(q) or q == "*" else quote(q)


def query(rule: ThresholdRule, ctx: EvalContext) -> Counted:
    start = ctx.at - timedelta(minutes=rule.window_minutes)
    filters: list[dict[str, Any]] = [known_between(start, ctx.at), _text_query(rule.query)]
    if rule.brand:
        filters.append({"term": {"brand": rule.brand}})
    if rule.sentiment:
        filters.append({"term": {"sentiment.label": rule.sentiment}})
    scope = {"bool": {"filter": filters}}
    res = search(
        ctx.es,
        mentions(ctx.prefix),
        size=0,
        track_total_hits=True,
        query=scope,
        aggs={"authors": AUTHORS},
    )
    count = int(res["hits"]["total"]["value"])
    authors = int(res.get("aggregations", {}).get("authors", {}).get("value", 0))
    return Counted(count=count, authors=authors, scope=scope)


def judge(rule: ThresholdRule, counted: Counted, at: datetime) -> list[Match]:
    count = counted.count
    severity = rule.levels.level(float(count))
    if severity is None:
        return []
    where = f" for {rule.brand}" if rule.brand else ""
    return [
        Match(
            rule=rule.name,
            rule_type="threshold",
            severity=severity,
            at=at,
            summary=f"{count} mentions of {rule.query}{where} in the last {rule.window_minutes} min",
            brand=rule.brand,
            query=lucene_and(
                lucene_of(rule.query),
                f"brand:{quote(rule.brand)}" if rule.brand else None,
                f"sentiment.label:{rule.sentiment}" if rule.sentiment else None,
            ),
            window_start=at - timedelta(minutes=rule.window_minutes),
            evidence={"score": float(count), "mentions": float(count), "authors": float(counted.authors)},
            scope=counted.scope,
        )
    ]


KIND = RuleKind(spec=ThresholdRule, query=query, judge=judge, explain=top_posts)
