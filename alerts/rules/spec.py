"""Rule specifications as the YAML `rules:` section writes them: one frozen pydantic model per rule type.

Severity tiers live inside a rule (`tiers: {notice: 4, urgent: 8, crisis: 16}` on that rule's own score), so one
rule yields three levels and nobody copies a rule to get an escalation. `RuleSpec` dispatches on `type` itself
(instead of pydantic's tagged union) so that errors read `rules[2].tiers.urgent`, not `rules[2].viral_spread...`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from alerts.model import SEVERITIES, RuleType, Severity


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Tiers(_Frozen):
    """Score thresholds per severity; a level left out is never reached. Higher levels need higher scores."""

    notice: float | None = None
    urgent: float | None = None
    crisis: float | None = None

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


class _RuleBase(_Frozen):
    name: str = Field(min_length=1)
    enabled: bool = True
    description: str | None = None


class ViralSpreadRule(_RuleBase):
    """A negative post, or a cluster of its copies, spreading: score = engagement growth + copying authors +
    platforms reached + reach of the posters (each term explained by its unit)."""

    type: Literal["viral_spread"] = "viral_spread"
    brand: str | None = None  # None: every brand
    window_minutes: int = Field(default=360, gt=0)  # mentions of a cluster published this recently count
    growth_minutes: int = Field(default=60, gt=0)  # growth is measured over this much time before `at`
    rate_unit: float = Field(default=250.0, gt=0)  # reposts+comments per hour worth one point
    authors_unit: float = Field(default=25.0, gt=0)  # distinct authors posting copies worth one point
    platform_points: float = Field(default=1.0, ge=0)  # per platform beyond the first
    reach_unit: float = Field(default=10_000.0, gt=0)  # one point per tenfold of followers above this (max 3)
    min_mentions: int = Field(default=1, ge=1)
    max_candidates: int = Field(default=200, gt=0, le=5000)  # clusters and single posts looked at per run
    tiers: Tiers = Tiers(notice=4, urgent=8, crisis=16)


class NegativeSurgeRule(_RuleBase):
    """Negative mentions of a brand (and of each complaint category) in the last window against the same window
    of previous days: score = z-score against a seasonal (hour-of-day, day-of-week) baseline."""

    type: Literal["negative_surge"] = "negative_surge"
    brand: str | None = None
    category: str | None = None  # only this top-level complaint category
    by_category: bool = True  # also judge each top-level complaint category on its own
    window_minutes: int = Field(default=60, gt=0)
    baseline_days: int = Field(default=14, ge=1, le=60)
    min_count: int = Field(default=10, ge=1)
    min_authors: int = Field(default=8, ge=1)
    min_ratio: float = Field(default=2.5, ge=1.0)  # the count must also be this many times the expected count
    tiers: Tiers = Tiers(notice=4, urgent=8, crisis=14)


class ThresholdRule(_RuleBase):
    """Mentions matching any query (Lucene or a plain phrase, as `groundswell search` reads it) in a window:
    score = their count. `threshold` + `severity` is shorthand for a single tier."""

    type: Literal["threshold"] = "threshold"
    query: str = Field(min_length=1)
    brand: str | None = None
    sentiment: Literal["negative", "neutral", "positive"] | None = None
    window_minutes: int = Field(default=60, gt=0)
    threshold: float | None = Field(default=None, gt=0)
    severity: Severity = "notice"
    tiers: Tiers | None = None

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


class NewTermRule(_RuleBase):
    """A complaint phrase never (or rarely) seen in the baseline period that many authors use now:
    score = distinct authors using it in the window."""

    type: Literal["new_term"] = "new_term"
    brand: str | None = None
    window_minutes: int = Field(default=120, gt=0)
    baseline_days: int = Field(default=7, ge=1, le=60)
    min_history_hours: float = Field(default=48.0, ge=0)  # judge nothing new before the index holds this much
    max_baseline: int = Field(default=2, ge=0)  # mentions of the phrase allowed in the baseline period
    min_authors: int = Field(default=5, ge=1)
    tiers: Tiers = Tiers(notice=5, urgent=15, crisis=40)


class CrawlerHealthRule(_RuleBase):
    """Sources whose latest run is broken or silent, or that stopped running: score = consecutive bad runs, or
    how many `stale_minutes` periods passed since the last run."""

    type: Literal["crawler_health"] = "crawler_health"
    sources: tuple[str, ...] = ()  # source keys ("weibo:小米", "weibo:*", "*" for all); empty: the configured ones
    stale_minutes: int = Field(default=360, gt=0)
    tiers: Tiers = Tiers(notice=1, urgent=3)


RULE_TYPES: dict[str, type[_RuleBase]] = {
    "viral_spread": ViralSpreadRule,
    "negative_surge": NegativeSurgeRule,
    "threshold": ThresholdRule,
    "new_term": NewTermRule,
    "crawler_health": CrawlerHealthRule,
}
AnyRule = ViralSpreadRule | NegativeSurgeRule | ThresholdRule | NewTermRule | CrawlerHealthRule


def parse_rule(value: Any) -> AnyRule:
    """Pick the model by `type`; its errors keep their own location (`tiers.urgent`), under the rule's index."""
    if isinstance(value, ViralSpreadRule | NegativeSurgeRule | ThresholdRule | NewTermRule | CrawlerHealthRule):
        return value
    if not isinstance(value, dict):
        raise PydanticCustomError("rule_mapping", "expected a mapping with name and type")
    kind = value.get("type")
    model = RULE_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ValidationError.from_exception_data(
            "rule",
            [
                InitErrorDetails(
                    type=PydanticCustomError("rule_type", "expected one of {types}", {"types": ", ".join(RULE_TYPES)}),
                    loc=("type",),
                    input=kind,
                )
            ],
        )
    rule: AnyRule = model.model_validate(value)  # type: ignore[assignment]
    return rule


RuleSpec = Annotated[AnyRule, PlainValidator(parse_rule)]


def rule_type(rule: AnyRule) -> RuleType:
    return rule.type
