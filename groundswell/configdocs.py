"""docs/configuration.md, generated from the configuration models: every key of the file (core.config and the rule
types of alerts.rules.kinds) with its type, default and meaning (each field's `description`), and every environment
variable, whether it sets a key (core.config.ENV_KEYS) or is read elsewhere (OTHER_ENV below).

`groundswell config docs` prints it; `tests/test_configdocs.py` fails when the committed file is stale, when a key
has no description or when the code reads a GROUNDSWELL_ name documented nowhere."""

from __future__ import annotations

import types
from collections.abc import Iterator
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from alerts.rules.base import RuleBase, Tiers
from alerts.rules.registry import rule_kinds
from core.config import ENV_KEYS, Config

# Variables read outside the configuration: what each one does. The test finds every GROUNDSWELL_ name in the code
# and wants it here, in ENV_KEYS or in SCRAPY_SETTINGS.
OTHER_ENV: dict[str, str] = {
    "GROUNDSWELL_CONFIG": "The configuration file when `--config` is not given (else `./groundswell.yaml`, else "
    "built-in defaults).",
    "GROUNDSWELL_HOME": "The data home: the local node's data and logs, the ingest spool, the job store, the mail "
    "sink's and the demo's files. Default `~/.local/share/groundswell` (`/var/lib/groundswell` for root).",
    "GROUNDSWELL_CACHE": "Downloads (the Elasticsearch distribution). Default `~/.cache/groundswell` "
    "(`/var/cache/groundswell` for root).",
    "GROUNDSWELL_CLOCK": "A simulated clock every process shares: `<start>@<speed>[@<epoch>]`, the start an ISO time "
    "with its offset, the speed in simulated seconds per real second, the epoch the real Unix time at which the "
    "simulated time was the start (default: when the process read it; `groundswell run` pins it for its children). "
    "Example: `2026-11-24T10:00:00+08:00@60` (an hour a minute). Unset: the real time. A bad value is a usage error "
    "(exit 2) naming it.",
    "GROUNDSWELL_COOKIES_<PLATFORM>": "Session cookies of a platform's accounts, separated by `||` "
    "(`GROUNDSWELL_COOKIES_WEIBO=\"SUB=...||SUB=...\"`, JD: `GROUNDSWELL_COOKIES_JD=\"thor=...; pin=...\"`); they "
    "join `accounts:` and are never printed.",
    "GROUNDSWELL_CHROMIUM": "The Chromium the browser spiders launch (default: Debian's `chromium`, else "
    "`chromium-browser`, found on the PATH).",
    "GROUNDSWELL_REDDIT_OWNER": "The Reddit user named in the default User-Agent when no "
    "`platforms.reddit.username` is set.",
    "GROUNDSWELL_REVISIT_HOURS": "How far back a crawl fetches known posts again (default 48; also a Scrapy setting; "
    "`groundswell run` passes `scheduler.revisit_hours`).",
    "GROUNDSWELL_SHARED_DATA": "For developers: the shared review data that `pipelines/sentiment_model/train.py` and "
    "the benchmarks read (default `../shared/data` beside the checkout).",
    "GROUNDSWELL_PARENT_PID": "Set by `groundswell run` in each crawl child: the service it belongs to; the child "
    "stops when that process is gone.",
    "GROUNDSWELL_KILL_GRACE": "Set by `groundswell run` in each crawl child: seconds between its SIGTERM and SIGKILL "
    "when the service is gone (`run --kill-grace`).",
    "GROUNDSWELL_FUZZ": "For developers: `deep` makes the fuzz suite (`tests/test_fuzz.py`) explore far more cases.",
}

# Scrapy settings of our own, for `scrapy crawl SPIDER -s NAME=VALUE` (crawlers/settings.py); `groundswell crawl`
# sets them itself.
SCRAPY_SETTINGS: dict[str, str] = {
    "GROUNDSWELL_CONFIG_PATH": "The configuration file a crawl reads (default: as the command line finds it).",
    "GROUNDSWELL_BATCH_SIZE": "Mentions per bulk request to Elasticsearch in a crawl (default 500; "
    "`ingest --batch-size`, default 1000).",
    "GROUNDSWELL_LOOK_AHEAD": "true: hold each full batch until the next one is full, whose stored lookups then run "
    "while the held one is resolved (default false; `ingest` sets it: throughput over how soon a mention is "
    "written).",
    "GROUNDSWELL_ES_RETRIES": "Retries with backoff before an unreachable Elasticsearch makes the crawl spool "
    "(default 3; `ingest --retries`).",
    "GROUNDSWELL_ES_BACKOFF": "The first retry's wait in seconds, doubling (default 0.5).",
    "GROUNDSWELL_REVISIT_HOURS": "As the environment variable of the same name.",
    "GROUNDSWELL_COMPLAINT_TAXONOMY": "Another complaint taxonomy file (default "
    "`pipelines/complaint_taxonomy.yaml`).",
    "GROUNDSWELL_COMPLAINT_NEGATIVE_BELOW": "A tagged mention is a complaint when its sentiment score is below this "
    "(default 0.4).",
    "GROUNDSWELL_COMPLAINT_MODEL": "false: tag complaints by the taxonomy's rules only, without the learned model "
    "(default true).",
    "GROUNDSWELL_STAGES": "The item stages a crawl runs, in order (crawls run them in batches through the one "
    "item pipeline `pipelines.batching.BatchingPipeline`; ingest builds the same chain).",
    "GROUNDSWELL_CRAWL_BATCH": "Items a crawl hands to its analysis at once (default 100).",
    "GROUNDSWELL_CRAWL_BATCH_WAIT": "Seconds a crawl's batch waits to fill before it is analysed anyway (default 1).",
    "GROUNDSWELL_CRAWL_WORKERS": "Analysis processes per crawl (default 0: the crawl's batch thread analyses, so a "
    "crawl stays small).",
    "GROUNDSWELL_UNIT": "Set by `groundswell worker`: the crawl unit (Redis) this crawl runs for.",
    "GROUNDSWELL_UNIT_SHARED": "Set by `groundswell worker`: whether other workers may take this crawl's pages.",
    "GROUNDSWELL_WORKER_ID": "Set by `groundswell worker`: the worker named in leases and acknowledgements.",
    "GROUNDSWELL_CHECKPOINT": "Seconds between a shared crawl's checkpoints (acknowledged requests, stats) in Redis "
    "(default 1).",
}

# keys the loader sets or refuses in the file: documented with the environment, not as keys
NOT_IN_FILE = {"path", "secret_key"}
SECTION_ORDER = ("brands", "sources", "rules", "recipients", "smtp", "alerting", "scheduler", "elasticsearch", "web",
                 "redis", "platforms", "accounts", "timezone")


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation holds (Source in `tuple[Source, ...] | None`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models(arg)]


def type_text(annotation: Any) -> str:
    """A field's type as a person reads it: `list of text`, `number`, `one of none, starttls, ssl`."""
    origin = get_origin(annotation)
    args = [a for a in get_args(annotation) if a is not type(None)]
    if origin in (Union, types.UnionType):
        return " or ".join(type_text(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in get_args(annotation))
    if origin is tuple:
        if args and not isinstance(args[0], type) and get_origin(args[0]) is None:
            return "list of rules (below)"  # Config's rules: a type variable until the application fills it
        return f"list of {type_text(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping of {type_text(args[0])} to {type_text(args[1])}"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "mapping (below)" if annotation is not Tiers else "tiers: {notice, urgent, crisis}"
        if issubclass(annotation, Enum):
            return "one of " + ", ".join(str(e.value) for e in annotation)
        return {str: "text", int: "whole number", float: "number", bool: "true or false",
                SecretStr: "text (secret)"}.get(annotation, annotation.__name__)
    if isinstance(annotation, str):
        return annotation
    return str(annotation)


def _bounds(info: FieldInfo) -> str:
    said = []
    for m in info.metadata:
        for kind, sign in ((Gt, ">"), (Ge, "≥"), (Lt, "<"), (Le, "≤")):
            if isinstance(m, kind):
                said.append(f"{sign} {getattr(m, kind.__name__.lower())}")
        if isinstance(m, MinLen) and m.min_length > 0:
            said.append("not empty" if m.min_length == 1 else f"at least {m.min_length}")
        if isinstance(m, MaxLen):
            said.append(f"at most {m.max_length} characters")
    return ", ".join(said)


def default_text(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        if isinstance(value, Tiers):
            return "`" + ", ".join(f"{k}: {v:g}" for k, v in value.model_dump().items() if v is not None) + "`"
        return "(below)"
    if value is None:
        return "unset"
    if isinstance(value, dict | tuple) and not value:
        return "`{}`" if isinstance(value, dict) else "`[]`"
    if value == "":
        return '`""`'
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _env_for(key: str) -> list[str]:
    return [var for var, target in ENV_KEYS.items() if target == key]


def field_rows(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, FieldInfo]]:
    for name, info in model.model_fields.items():
        if not prefix and name in NOT_IN_FILE:
            continue
        yield (f"{prefix}{name}", info)


def table(model: type[BaseModel], prefix: str, skip: frozenset[str] = frozenset()) -> list[str]:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, info in field_rows(model, prefix):
        if key.rsplit(".", 1)[-1].removesuffix("[]") in skip:
            continue
        kind = type_text(info.annotation)
        bounds = _bounds(info)
        env = _env_for(key.replace("[]", ""))
        meaning = (info.description or "").strip()
        if env:
            meaning += f" Environment: {', '.join(f'`{v}`' for v in env)}."
        rows.append(f"| `{key}` | {kind}{f' ({bounds})' if bounds else ''} | {default_text(info)} | "
                    f"{_cell(meaning)} |")
    return rows


def sections(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, type[BaseModel], str]]:
    """(heading key, model, key prefix) of every nested section, depth first, rules apart."""
    for name, info in model.model_fields.items():
        if not prefix and name in ("rules", *NOT_IN_FILE):
            continue
        for sub in _models(info.annotation):
            if sub is Tiers:
                continue
            listed = get_origin(info.annotation) is tuple or any(get_origin(a) is tuple
                                                                  for a in get_args(info.annotation))
            key = f"{prefix}{name}{'[]' if listed else ''}"
            yield key, sub, f"{key}."
            yield from sections(sub, f"{key}.")


def _doc(model: type[BaseModel]) -> str:
    text = " ".join((model.__doc__ or "").split())
    return text if text and not text.startswith(("Usage docs", "!!!")) else ""


def render() -> str:
    """The whole of docs/configuration.md."""
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated by `groundswell config docs` from the configuration models (core/config.py, "
        "alerts/rules/kinds/); do not edit by hand: `groundswell config docs --out docs/configuration.md`. -->",
        "",
        "Groundswell reads one YAML file: the one given by `--config FILE` (before or after the command's name), else "
        "the one `$GROUNDSWELL_CONFIG` names, else `./groundswell.yaml`, else none (built-in defaults). Every key "
        "below is optional. The file is checked when it is read, and an error names the file, the key and the value "
        "(exit status 2). `groundswell config check [FILE]` checks a file and prints the configuration in effect, "
        "secrets masked.",
        "",
        "Secrets and endpoints come from the environment, which wins over the file (see "
        "[Environment variables](#environment-variables)). Times a person types or reads are in `timezone:`; "
        "stored times and `--json` output are UTC.",
        "",
        "## Top level",
        "",
        *table(Config, "", skip=frozenset()),
    ]
    for key, model, prefix in sections(Config):
        out += ["", f"## `{key}`", ""]
        if _doc(model):
            out += [_doc(model), ""]
        out += table(model, prefix)
    out += ["", "## `rules[]`", "",
            "Each rule has a `type`; its other keys depend on it. A rule named like a shipped rule (viral-spread, "
            "negative-surge, new-complaint-term, crawler-health) replaces it; `enabled: false` turns it off. A rule's "
            "severity comes from its score and `tiers`: the highest level whose threshold the score reaches (`tiers: "
            "{notice: 1, urgent: 5, crisis: 20}`; a level left out is never reached; each level at least the one "
            "below). A `threshold` rule may give `threshold` and `severity` instead of `tiers`, for one level.", ""]
    kinds = rule_kinds()
    for name in sorted(kinds):
        spec = kinds[name].spec
        out += [f"### `type: {name}`", "", _doc(spec), ""]
        out += table(spec, "rules[].", skip=frozenset({"type"}))
        out.append("")
    out += ["Every rule also takes `name` (required), `enabled` and `description`:", ""]
    out += table(RuleBase, "rules[].", skip=frozenset({"type"}))
    out += ["", "## Environment variables", "",
            "### Variables that set a key (they win over the file)", "",
            "| variable | key | meaning |", "|---|---|---|"]
    for var, key in ENV_KEYS.items():
        out.append(f"| `{var}` | `{key}` | {_cell(_describe_key(key))} |")
    out += ["", "### Other variables", "", "| variable | meaning |", "|---|---|"]
    for var, text in OTHER_ENV.items():
        out.append(f"| `{var}` | {_cell(text)} |")
    out += ["", "### Scrapy settings", "",
            "For `scrapy crawl SPIDER -a keyword=K -s NAME=VALUE` in the checkout (`groundswell crawl` sets them "
            "itself):", "", "| setting | meaning |", "|---|---|"]
    for name, text in SCRAPY_SETTINGS.items():
        out.append(f"| `{name}` | {_cell(text)} |")
    return "\n".join(out) + "\n"


def _describe_key(key: str) -> str:
    """The description of a dotted key of the file (its field's)."""
    model: type[BaseModel] = Config
    info: FieldInfo | None = None
    for part in key.split("."):
        info = model.model_fields[part]
        subs = _models(info.annotation)
        if subs:
            model = subs[0]
    assert info is not None
    return (info.description or "").strip()


def undocumented() -> list[str]:
    """Keys (of the file and of every rule type) without a description: the test wants none."""
    missing = []
    every: list[tuple[str, type[BaseModel], str]] = [("", Config, ""), *sections(Config)]
    for _key, model, prefix in every:
        missing += [f"{prefix}{n}" for n, i in model.model_fields.items() if not (i.description or "").strip()]
    for name, kind in rule_kinds().items():
        missing += [f"rules[type={name}].{n}" for n, i in kind.spec.model_fields.items()
                    if not (i.description or "").strip()]
    missing += [f"tiers.{n}" for n, i in Tiers.model_fields.items() if not (i.description or "").strip()]
    return missing


__all__ = ["OTHER_ENV", "SCRAPY_SETTINGS", "render", "undocumented"]
