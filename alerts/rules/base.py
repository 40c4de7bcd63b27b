"""What every rule type is made of: a spec as the YAML `rules:` section writes it, severity tiers inside it, and a
`RuleKind` tying the spec to the query that reads the store and the pure judge over the query's results.

Severity tiers live inside a rule (`tiers: {notice: 4, urgent: 8, crisis: 16}` on that rule's own score), so one
rule yields three levels and nobody copies a rule to get an escalation. Each type's module (alerts.rules.kinds)
defines its spec, `query`, `judge` and a module-level `KIND`; the registry finds them, so adding a type touches
one module. Judges take only the query's results and the instant, so they are tested without Elasticsearch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from alerts.model import SEVERITIES, Match, Severity

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch


@dataclass(frozen=True)
class EvalContext:
    """`at` is the instant evaluated: rules see only mentions published and first crawled (first_seen_at) by then,
    and observations crawled by then.

    `brands`: the brands to watch (empty: every brand in the index). `source_keys`: configured sources as
    "spider:keyword" or "spider:*" (empty: every source that has run records)."""

    es: Elasticsearch
    prefix: str
    at: datetime
    brands: tuple[str, ...] = ()
    source_keys: tuple[str, ...] = ()
    # when the scheduler evaluating (`groundswell run`) started, product time; None for an evaluation by hand, a
    # `run --once` or a backtest. A source is stale only for the time it could have run (kinds.health)
    running_since: datetime | None = None


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Tiers(Frozen):
    """Score thresholds per severity; a level left out is never reached. Higher levels need higher scores."""

    notice: float | None = Field(default=None, description="The score that makes a notice (unset: never notice).")
    urgent: float | None = Field(default=None, description="The score that makes it urgent (at least notice's).")
    crisis: float | None = Field(default=None, description="The score that makes it a crisis (at least urgent's).")

    @field_validator("urgent", "crisis")
    @classmethod
    def _ascending(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None:
            return value
        for lower in SEVERITIES[: SEVERITIES.index(info.field_name)]:
            below = info.data.get(lower)
            if below is not None and value < below:
                raise ValueError(f"must be at least the {lower} threshold ({below:g})")
        return value

    @model_validator(mode="after")
    def _some_level(self) -> Tiers:
        if self.notice is None and self.urgent is None and self.crisis is None:
            raise ValueError("give at least one of notice, urgent, crisis")
        return self

    def level(self, score: float) -> Severity | None:
        """The highest severity whose threshold the score reaches, or None."""
        reached: Severity | None = None
        for sev in SEVERITIES:
            threshold = getattr(self, sev)
            if threshold is not None and score >= threshold:
                reached = sev
        return reached

    def lowest(self) -> float:
        return min(v for v in (self.notice, self.urgent, self.crisis) if v is not None)


class RuleBase(Frozen):
    """The fields every rule has; each type adds `type: Literal[...]` and its own knobs."""

    type: str = Field(description="The rule type: threshold, negative_surge, viral_spread, new_term or "
        "crawler_health.")
    name: str = Field(min_length=1, description="Its name in incidents and emails; a shipped rule's name replaces "
        "that rule.")
    enabled: bool = Field(default=True, description="false: the rule is off (under a shipped rule's name: that rule "
        "is off).")
    description: str | None = Field(default=None, description="What it watches, in words, for the people who read "
        "it.")


SpecT = TypeVar("SpecT", bound=RuleBase)
DataT = TypeVar("DataT")


def keep(match: Match, ctx: EvalContext) -> Match:
    """The default `explain`: the judge already chose the posts to quote (or there are none)."""
    return match


@dataclass(frozen=True)
class RuleKind(Generic[SpecT, DataT]):
    """One rule type. `query` reads the store as of ctx.at; `judge` turns its results into matches without any
    I/O; `explain` (store-reading again) adds what an email quotes to each match: its top posts, the complaint
    cluster that dominates it."""

    spec: type[SpecT]
    query: Callable[[SpecT, EvalContext], DataT]
    judge: Callable[[SpecT, DataT, datetime], list[Match]]
    explain: Callable[[Match, EvalContext], Match] = keep

    @property
    def name(self) -> str:
        """The `type:` a rule of this kind is written with."""
        default: Any = self.spec.model_fields["type"].default
        return str(default)
