"""Alert rules: typed specs (spec), the shipped defaults (defaults), and their evaluation at an instant (run)."""

from alerts.rules.context import EvalContext, brands_in_index, context_for
from alerts.rules.run import evaluate, evaluate_all

__all__ = ["EvalContext", "brands_in_index", "context_for", "evaluate", "evaluate_all"]
