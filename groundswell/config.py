"""The application's configuration: the core settings (core.config) with `rules:` validated as alert rule specs.

Assembled here, on the top floor, because only the application knows both: the core defines the file's other
sections and how it is read, alerts defines the rule types. Every command loads it through `load()`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alerts.rules.registry import AnyRule, RuleSpec
from core.config import Config, ConfigError, resolve_path
from core.config import load as load_settings

AppConfig = Config[RuleSpec]  # the Annotated validator picks a rule model per `type`

__all__ = ["AppConfig", "Config", "ConfigError", "load", "resolve_path"]


def load(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Config[AnyRule]:
    """The whole configuration, rules included; ConfigError with a message fit to print."""
    cfg: Config[Any] = load_settings(explicit, env, model=AppConfig)
    return cfg
