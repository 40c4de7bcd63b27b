"""Every rule type, found in alerts.rules.kinds, and what is done with a rule: read it from the configuration
(`parse_rule`, `RuleSpec`) and evaluate it at an instant (`evaluate`, `evaluate_all`).

A type is registered by its module's `KIND`, so the registry, the configuration and the evaluation need no
edit when a type is added."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from typing import Annotated, Any

from elasticsearch import ApiError, TransportError
from pydantic import PlainValidator, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from alerts.model import Match
from alerts.rules import kinds
from alerts.rules.base import EvalContext, RuleBase, RuleKind
from alerts.rules.common import RuleQueryError

log = logging.getLogger(__name__)

AnyRule = RuleBase  # a rule of any registered type


@cache
def rule_kinds() -> Mapping[str, RuleKind[Any, Any]]:
    """`type:` -> its kind, for every module of alerts.rules.kinds, in module name order."""
    found: dict[str, RuleKind[Any, Any]] = {}
    for info in sorted(pkgutil.iter_modules(kinds.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{kinds.__name__}.{info.name}")
        kind = getattr(module, "KIND", None)
        if not isinstance(kind, RuleKind):
            raise TypeError(f"{module.__name__} defines no KIND = RuleKind(...)")
        if kind.name in found:
            raise TypeError(f"{module.__name__}: rule type {kind.name!r} is registered twice")
        found[kind.name] = kind
    return found


def kind_of(rule: RuleBase) -> RuleKind[Any, Any]:
    return rule_kinds()[rule.type]


def parse_rule(value: Any) -> RuleBase:
    """Pick the model by `type`; its errors keep their own location (`tiers.urgent`), under the rule's index.

    (Dispatching here rather than through pydantic's tagged union keeps error paths like `rules[2].tiers.urgent`
    instead of `rules[2].viral_spread.tiers.urgent`.)"""
    if isinstance(value, RuleBase):
        return value
    if not isinstance(value, dict):
        raise PydanticCustomError("rule_mapping", "expected a mapping with name and type")
    kind = value.get("type")
    known = rule_kinds()
    if not isinstance(kind, str) or kind not in known:
        raise ValidationError.from_exception_data(
            "rule",
            [
                InitErrorDetails(
                    type=PydanticCustomError("rule_type", "expected one of {types}", {"types": ", ".join(known)}),
                    loc=("type",),
                    input=kind,
                )
            ],
        )
    rule: RuleBase = known[kind].spec.model_validate(value)
    return rule


RuleSpec = Annotated[RuleBase, PlainValidator(parse_rule)]


def evaluate(rule: RuleBase, ctx: EvalContext) -> list[Match]:
    """One rule's matches at ctx.at (point in time: nothing published, first seen or crawled after it is used)."""
    kind = kind_of(rule)
    return [kind.explain(m, ctx) for m in kind.judge(rule, kind.query(rule, ctx), ctx.at)]


RULE_ERROR = "rule_error"  # the rule_type of a match about a rule that could not run


def failure(exc: Exception) -> tuple[str, bool]:
    """(what stopped a rule, in one line; whether the store refused the query itself, which no retry heals)."""
    if isinstance(exc, ApiError):
        body: dict[str, Any] = exc.body if isinstance(exc.body, dict) else {}
        found = body.get("error")
        err: dict[str, Any] = found if isinstance(found, dict) else {}
        causes = [c for c in (err.get("root_cause") or []) if isinstance(c, dict)]
        shards = [f.get("reason") for f in (err.get("failed_shards") or []) if isinstance(f, dict)]
        cause: dict[str, Any] = next((c for c in [*causes, *shards] if isinstance(c, dict) and c.get("reason")), err)
        what = f"{cause.get('type') or err.get('type') or 'error'}: {cause.get('reason') or exc.message}"
        return f"Elasticsearch answered {exc.meta.status}: {what}", 400 <= exc.meta.status < 500
    if isinstance(exc, RuleQueryError):
        return str(exc), False
    if isinstance(exc, TransportError):
        return f"Elasticsearch did not answer: {exc.message}", False
    return f"{type(exc).__name__}: {exc}", False


def blind(rule: RuleBase, at: datetime, reason: str, refused: bool) -> Match:
    """A match about the rule itself: it could not run, so whatever it watches goes unseen until it can. Like a
    broken crawler's, it opens its own incident (keyed on the rule), urgent when the store refuses the query."""
    return Match(
        rule=rule.name,
        rule_type=RULE_ERROR,
        severity="urgent" if refused else "notice",
        at=at,
        summary=f"rule:{rule.name}: cannot run, so it watches nothing: {reason}",
        source_key=f"rule:{rule.name}",
        window_start=at,
    )


def evaluate_all(rules: Iterable[RuleBase], ctx: EvalContext, errors: list[str] | None = None) -> list[Match]:
    """Every enabled rule's matches. A rule that fails (a query the store refuses, shards that fail, a store
    error) is reported in `errors` (and logged) with its name and yields a match about itself, so someone is told
    the watch is blind; the others are still evaluated."""
    out: list[Match] = []
    for rule in rules:
        if not rule.enabled:
            continue
        try:
            out.extend(evaluate(rule, ctx))
        except Exception as exc:  # any failure is reported and alerted on; the other rules still run
            reason, refused = failure(exc)
            message = f"rule {rule.name!r} ({rule.type}) failed: {reason}"
            log.error("%s", message)
            if errors is not None:
                errors.append(message)
            out.append(blind(rule, ctx.at, reason, refused))
    return out
