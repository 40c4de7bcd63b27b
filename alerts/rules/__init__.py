"""Alert rules: typed specs (spec), the shipped defaults (defaults), and their evaluation at an instant (run).

The evaluation side is imported on first use: groundswell.config imports alerts.rules.spec, and loading the
configuration should not pull in the Elasticsearch client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alerts.rules.context import EvalContext, brands_in_index, context_for
    from alerts.rules.run import evaluate, evaluate_all

__all__ = ["EvalContext", "brands_in_index", "context_for", "evaluate", "evaluate_all"]


def __getattr__(name: str) -> Any:
    if name in ("EvalContext", "brands_in_index", "context_for"):
        from alerts.rules import context

        return getattr(context, name)
    if name in ("evaluate", "evaluate_all"):
        from alerts.rules import run

        return getattr(run, name)
    raise AttributeError(f"module 'alerts.rules' has no attribute {name!r}")
