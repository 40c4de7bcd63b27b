"""The application's configuration: the core settings (core.config) with `rules:` validated as alert rule specs.

Assembled here, on the top floor, because only the application knows all of it: the core defines the file's other
sections and how it is read, alerts defines the rule types, pipelines the complaint taxonomy that recipient routes
name categories of. Every command loads it through `load()`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alerts.rules.registry import AnyRule, RuleSpec
from core.config import Config, ConfigError, resolve_path
from core.config import load as load_settings
from pipelines.complaints import TaxonomyError, load_taxonomy

AppConfig = Config[RuleSpec]  # the Annotated validator picks a rule model per `type`

__all__ = ["AppConfig", "Config", "ConfigError", "load", "resolve_path"]


def load(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Config[AnyRule]:
    """The whole configuration, rules included; ConfigError with a message fit to print."""
    cfg: Config[Any] = load_settings(explicit, env, model=AppConfig)
    check_routes(cfg)
    return cfg


def check_routes(cfg: Config[Any]) -> None:
    """A route naming a category the taxonomy lacks, or a brand not configured, would silently never match."""
    where = cfg.path or "defaults"
    try:
        categories = [c.id for c in load_taxonomy().categories]
    except TaxonomyError as exc:
        raise ConfigError(str(exc)) from None
    brands = {b.name for b in cfg.brands}
    for i, route in enumerate(cfg.recipients.routes):
        key = f"recipients.routes[{i}]"
        if route.category is not None and route.category not in categories:
            raise ConfigError(f"{where}: {key}.category: unknown complaint category {route.category!r} "
                              f"(expected one of {', '.join(categories)})")
        if route.brand is not None and brands and route.brand not in brands:
            raise ConfigError(f"{where}: {key}.brand: not a configured brand {route.brand!r} "
                              f"(brands: {', '.join(sorted(brands))})")
