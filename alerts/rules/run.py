"""Run rules at an instant: each type's evaluation, and all of them with one failing rule isolated."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from alerts.model import Match
from alerts.rules import health, newterm, surge, threshold, viral
from alerts.rules.context import EvalContext
from alerts.rules.spec import (
    AnyRule,
    CrawlerHealthRule,
    NegativeSurgeRule,
    NewTermRule,
    ThresholdRule,
    ViralSpreadRule,
)

log = logging.getLogger(__name__)


def evaluate(rule: AnyRule, ctx: EvalContext) -> list[Match]:
    """One rule's matches at ctx.at (point in time: nothing published or crawled after it is used)."""
    if isinstance(rule, ViralSpreadRule):
        return viral.evaluate(rule, ctx)
    if isinstance(rule, NegativeSurgeRule):
        return surge.evaluate(rule, ctx)
    if isinstance(rule, ThresholdRule):
        return threshold.evaluate(rule, ctx)
    if isinstance(rule, NewTermRule):
        return newterm.evaluate(rule, ctx)
    if isinstance(rule, CrawlerHealthRule):
        return health.evaluate(rule, ctx)
    raise TypeError(f"unknown rule type {type(rule).__name__}")


def evaluate_all(rules: Iterable[AnyRule], ctx: EvalContext, errors: list[str] | None = None) -> list[Match]:
    """Every enabled rule's matches. A rule that fails (a bad query, a store error) is reported in `errors`
    (and logged) with its name; the others are still evaluated."""
    out: list[Match] = []
    for rule in rules:
        if not rule.enabled:
            continue
        try:
            out.extend(evaluate(rule, ctx))
        except Exception as exc:
            message = f"rule {rule.name!r} ({rule.type}) failed: {type(exc).__name__}: {exc}"
            log.error("%s", message)
            if errors is not None:
                errors.append(message)
    return out
