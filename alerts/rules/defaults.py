"""The rule set that ships: it works with no configuration, on every brand found in the index (rules without a
`brand` watch every brand of EvalContext.brands). Configured rules replace a default of the same name."""

from __future__ import annotations

from alerts.rules.base import RuleBase as AnyRule
from alerts.rules.kinds.health import CrawlerHealthRule
from alerts.rules.kinds.newterm import NewTermRule
from alerts.rules.kinds.surge import NegativeSurgeRule
from alerts.rules.kinds.viral import ViralSpreadRule
from core.config import Config

DEFAULT_RULES: tuple[AnyRule, ...] = (
    ViralSpreadRule(name="viral-spread", description="a negative post or its copies spreading fast"),
    NegativeSurgeRule(name="negative-surge", description="negative mentions far above the usual for this hour"),
    NewTermRule(name="new-complaint-term", description="a complaint phrase never seen before, used by many"),
    CrawlerHealthRule(name="crawler-health", description="a source broken, silent or not running"),
)


class DuplicateRuleName(ValueError):
    """Two configured rules share a name: which one should win is unclear."""


def merge_rules(defaults: tuple[AnyRule, ...], configured: tuple[AnyRule, ...]) -> list[AnyRule]:
    """Defaults in their order (a configured rule of the same name takes its place), then the other configured
    rules in file order; disabled ones are left out (`enabled: false` under a default's name turns it off)."""
    names: dict[str, int] = {}
    for i, rule in enumerate(configured):
        if rule.name in names:
            first = names[rule.name]
            raise DuplicateRuleName(f"rules[{i}].name: duplicate rule name, as rules[{first}] (got {rule.name!r})")
        names[rule.name] = i
    by_name = {r.name: r for r in configured}
    merged = [by_name.pop(d.name, d) for d in defaults]
    merged.extend(r for r in configured if r.name in by_name)
    return [r for r in merged if r.enabled]


def effective_rules(cfg: Config[AnyRule]) -> list[AnyRule]:
    """The rules to evaluate: defaults (unless alerting.default_rules is false) merged with `rules:` by name."""
    defaults = DEFAULT_RULES if cfg.alerting.default_rules else ()
    return merge_rules(defaults, tuple(cfg.rules))
