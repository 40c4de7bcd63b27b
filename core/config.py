"""One YAML file, validated once into frozen typed objects; the environment overrides secrets and endpoints.

Every error names the file, the key path and the bad value, so a user can fix the file without reading code.
`Config` is generic in its rules: the core does not know the alert rule types, so `load()` here leaves `rules:`
as written, and the application (groundswell.config) loads `Config[RuleSpec]`, which validates them too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

CONFIG_ENV = "GROUNDSWELL_CONFIG"
DEFAULT_CONFIG_NAME = "groundswell.yaml"
PREFIX_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,60}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


class ConfigError(Exception):
    """A configuration problem, already worded for the user (file, key, bad value)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Brand(_Frozen):
    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()


_XPATH_START = ("/", "./", "../", "(", "@")
_OFFSET_TEXT_RE = re.compile(r"^(UTC|Z|[+-]\d{1,2}(:?\d{2})?)$", re.IGNORECASE)


class ReviewSelectors(_Frozen):
    """How the generic `reviews` spider reads one site: a selector per field, each CSS (parsel's `::text` and
    `::attr(name)` included) or XPath (`xpath:` prefix, or starting with `/`, `./`, `(` or `@`), relative to an
    item. Checked when the file is loaded, so a typo fails then, naming its key, not as an empty crawl later."""

    item: str = Field(min_length=1)  # one review
    text: str = Field(min_length=1)
    time: str = Field(min_length=1)
    author: str = ""
    rating: str = ""
    next: str = ""  # the next page's link (an href), on the whole page
    id: str = ""  # empty: an id hashed from author, time and text
    likes: str = ""
    title: str = ""
    start_url: str | None = None  # the first page, absolute or relative to the source's base_url
    browser: bool = False  # render each page in Chromium first (for pages built by JavaScript)
    timezone: str = "UTC"  # the zone of times printed without one: UTC or an offset like +08:00

    @staticmethod
    def selector_names() -> tuple[str, ...]:
        return ("item", "text", "time", "author", "rating", "next", "id", "likes", "title")

    @staticmethod
    def to_xpath(selector: str) -> str:
        """The XPath a selector stands for; ValueError saying why it parses as neither CSS nor XPath."""
        from cssselect import SelectorError
        from lxml import etree
        from parsel.csstranslator import css2xpath

        text = selector.strip()
        if text.startswith("xpath:") or (text.startswith(_XPATH_START) and not text.startswith("css:")):
            expr = text.removeprefix("xpath:").strip()
            try:
                etree.XPath(expr)
            except etree.XPathSyntaxError as exc:
                raise ValueError(f"not a valid XPath expression ({exc})") from None
            return expr
        try:
            return str(css2xpath(text.removeprefix("css:").strip()))
        except SelectorError as exc:  # a syntax error, or a pseudo-class cssselect cannot translate
            raise ValueError(
                f"not a valid CSS selector ({exc}); XPath must start with / ./ ( @ or xpath:"
            ) from None

    @field_validator("item", "text", "time", "author", "rating", "next", "id", "likes", "title")
    @classmethod
    def _parses(cls, value: str) -> str:
        if value.strip():
            cls.to_xpath(value)
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not _OFFSET_TEXT_RE.match(value.strip()):
            raise ValueError(f"expected UTC or an offset like +08:00, got {value!r}")
        return value.strip()


class Source(_Frozen):
    name: str = Field(min_length=1)
    spider: str = Field(min_length=1)
    base_url: str | None = None
    keywords: tuple[str, ...] = ()
    interval_minutes: int | None = Field(default=None, gt=0)
    cron: str | None = None
    max_pages: int = Field(default=5, gt=0)
    enabled: bool = True
    # scheduling (`groundswell run`): interval_minutes or cron, spread by up to jitter_seconds; a crawl still
    # running after time_limit_minutes is killed
    jitter_seconds: int = Field(default=30, ge=0)
    time_limit_minutes: float = Field(default=15.0, gt=0)
    # the generic `reviews` spider's selectors for this site (`groundswell crawl reviews -a source=NAME`)
    selectors: ReviewSelectors | None = None


class Recipients(_Frozen):
    notice: tuple[str, ...] = ()
    urgent: tuple[str, ...] = ()
    crisis: tuple[str, ...] = ()

    @field_validator("notice", "urgent", "crisis")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if not EMAIL_RE.match(address):
                raise ValueError(f"not an email address: {address!r}")
        return value


class Smtp(_Frozen):
    host: str = "localhost"
    port: int = Field(default=25, gt=0, lt=65536)
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password: str | None = None
    sender: str = "groundswell@localhost"
    timeout_seconds: float = Field(default=10.0, gt=0)


class Alerting(_Frozen):
    """How incidents behave and are mailed; the rules themselves are `rules:`."""

    default_rules: bool = True  # the shipped rule set runs beside (and is overridden by name by) `rules:`
    quiet_minutes: int = Field(default=180, gt=0)  # an incident with no new match for this long resolves
    digest_minutes: int | None = Field(default=None, gt=0)  # opt-in: notices go out as one digest per period
    kibana_url: str | None = None  # e.g. http://localhost:5601, for the "open in Kibana" link in emails


class Scheduler(_Frozen):
    """`groundswell run`: the long-running service."""

    job_store_url: str | None = None  # any SQLAlchemy URL; default: SQLite under the Groundswell home
    alerts_every_minutes: float = Field(default=1.0, gt=0)
    revisit_every_minutes: float = Field(default=60.0, gt=0)
    revisit_hours: float = Field(default=48.0, gt=0)  # posts this recent are re-crawled so engagement grows
    retention_months: int | None = Field(default=None, gt=0)  # monthly mention indices older than this are dropped
    misfire_grace_seconds: int = Field(default=300, gt=0)


class LocalNode(_Frozen):
    """The node `groundswell es start` manages when no external cluster is configured; `nodes: 3` (or
    `es start --nodes 3`) makes it a cluster of that many nodes on consecutive ports from `port`."""

    version: str = "8.19.21"
    port: int = Field(default=9200, gt=0, lt=65436)
    heap: str = "1g"
    nodes: int = Field(default=1, ge=1, le=5)

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not re.fullmatch(r"\d+\.\d+\.\d+", value):
            raise ValueError(f"expected a version like 8.19.21, got {value!r}")
        return value

    @field_validator("heap")
    @classmethod
    def _heap(cls, value: str) -> str:
        if not re.fullmatch(r"\d+[mg]", value):
            raise ValueError(f"expected a heap size like 512m or 1g, got {value!r}")
        return value


class Elasticsearch(_Frozen):
    url: str | None = None  # None: the local node managed by `groundswell es`
    username: str | None = None
    password: str | None = None
    api_key: str | None = None
    ca_certs: str | None = None
    verify_certs: bool = True
    index_prefix: str = "groundswell"
    request_timeout: float = Field(default=30.0, gt=0)
    # shards and replicas of every index Groundswell creates (the mention template and the bookkeeping
    # indices); None: 1 shard, and a replica as soon as a second node is there (auto_expand_replicas 0-1)
    shards: int | None = Field(default=None, ge=1, le=64)
    replicas: int | None = Field(default=None, ge=0, le=8)
    local: LocalNode = LocalNode()

    @field_validator("index_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not PREFIX_RE.match(value):
            raise ValueError(f"index prefix must be lowercase letters, digits, '-', '_' or '.', got {value!r}")
        return value

    @field_validator("url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for one in value.split(","):
            if not re.match(r"^https?://[^\s/]+", one.strip()):
                raise ValueError(f"expected http(s)://host:port, or several separated by commas; got {one!r}")
        return value

    @property
    def hosts(self) -> list[str]:
        """Every node the client may talk to: the configured URLs (comma-separated), or the local node(s)."""
        if self.url:
            return [u.strip() for u in self.url.split(",") if u.strip()]
        return [f"http://127.0.0.1:{self.local.port + i}" for i in range(self.local.nodes)]

    @property
    def effective_url(self) -> str:
        """The cluster as messages name it: its node URLs, comma-separated."""
        return ",".join(self.hosts)

    @property
    def is_local(self) -> bool:
        return self.url is None


class Redis(_Frozen):
    """Beyond one machine: crawl workers, standby schedulers and shared politeness meet in one Redis.

    Without a URL everything runs in one `groundswell run`, as on a single machine. The URL may carry a password
    (`redis://:secret@host:6379/0`): prefer GROUNDSWELL_REDIS_URL, and it is never printed whole."""

    url: str | None = None
    workers: bool = False  # `groundswell run` hands crawls to `groundswell worker`s instead of running them
    key_prefix: str | None = None  # default: groundswell:<index prefix>
    lease_seconds: float = Field(default=10.0, ge=1, le=300)  # the active scheduler's lease (renewed at a third)
    visibility_seconds: float = Field(default=60.0, ge=5)  # a request a dead worker held goes back after this
    worker_lease_seconds: float = Field(default=30.0, ge=5)  # a crawl a dead worker held goes to another after this

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(redis|rediss|unix)://", value):
            raise ValueError("expected redis://[:password@]host:port/db, rediss://... or unix://...")
        return value

    @property
    def enabled(self) -> bool:
        return self.url is not None

    @property
    def shown_url(self) -> str:
        """The URL without its password, for messages."""
        return re.sub(r"//[^@/]*@", "//***@", self.url or "")


class RedditApp(_Frozen):
    """A Reddit app (reddit.com/prefs/apps): its id and secret get an OAuth2 token; with a username and password (a
    "script" app) the token acts for that account, else it is application-only. Secrets: prefer the environment."""

    client_id: str | None = None
    client_secret: SecretStr | None = None  # SecretStr: never shown by repr() or a log line
    username: str | None = None
    password: SecretStr | None = None
    user_agent: str | None = None  # default: "<platform>:groundswell:<version> (by /u/<username>)"


class XiaohongshuLogin(_Frozen):
    """A logged-in browser profile: a Playwright storage-state file (cookies + local storage) of xiaohongshu.com."""

    storage_state: str | None = None


class Platforms(_Frozen):
    """Per-platform credentials beyond session cookies (those are `accounts:`)."""

    reddit: RedditApp = RedditApp()
    xiaohongshu: XiaohongshuLogin = XiaohongshuLogin()


RuleT = TypeVar("RuleT")


class Config(_Frozen, Generic[RuleT]):
    brands: tuple[Brand, ...] = ()
    # session cookies per platform (prefer GROUNDSWELL_COOKIES_<PLATFORM>: they are secrets)
    accounts: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    platforms: Platforms = Platforms()  # app credentials and browser profiles (prefer GROUNDSWELL_REDDIT_*, ...)
    sources: tuple[Source, ...] = ()
    rules: tuple[RuleT, ...] = ()  # one model per rule `type` once the application parametrises Config
    recipients: Recipients = Recipients()
    smtp: Smtp = Smtp()
    alerting: Alerting = Alerting()
    scheduler: Scheduler = Scheduler()
    elasticsearch: Elasticsearch = Elasticsearch()
    redis: Redis = Redis()
    path: str | None = None  # where it was read from, for messages

    @field_validator("rules", "sources")
    @classmethod
    def _unique_names(cls, value: tuple[Any, ...], info: Any) -> tuple[Any, ...]:
        """Two rules (or sources) of one name: which one wins would be a guess, so say so at load time."""
        seen: dict[str, int] = {}
        for i, item in enumerate(value):
            name = item.get("name") if isinstance(item, Mapping) else getattr(item, "name", None)
            if not isinstance(name, str):
                continue  # a rule left as written (core load) is named by the application's validation
            if name in seen:
                raise ValueError(f"{info.field_name}[{i}] has the same name as {info.field_name}[{seen[name]}]"
                                 f": {name!r}")
            seen[name] = i
        return value

    def source(self, name: str) -> Source | None:
        """The configured source of this name, if any."""
        return next((s for s in self.sources if s.name == name), None)


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _format_validation(where: str, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        bad = e.get("input")
        shown = repr(bad)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {_format_loc(e['loc'])}: {msg} (got {shown})")
    return "\n".join(lines)


def _env_overrides(env: Mapping[str, str], where: str) -> dict[str, dict[str, Any]]:
    """Secrets and endpoints from the environment; they win over the file."""
    es: dict[str, Any] = {}
    smtp: dict[str, Any] = {}
    rec: dict[str, Any] = {}
    alerting: dict[str, Any] = {}
    redis: dict[str, Any] = {}
    simple = {
        "GROUNDSWELL_ES_URL": (es, "url"),
        "GROUNDSWELL_ES_USERNAME": (es, "username"),
        "GROUNDSWELL_ES_PASSWORD": (es, "password"),
        "GROUNDSWELL_ES_API_KEY": (es, "api_key"),
        "GROUNDSWELL_ES_CA_CERTS": (es, "ca_certs"),
        "GROUNDSWELL_INDEX_PREFIX": (es, "index_prefix"),
        "GROUNDSWELL_SMTP_HOST": (smtp, "host"),
        "GROUNDSWELL_SMTP_USERNAME": (smtp, "username"),
        "GROUNDSWELL_SMTP_PASSWORD": (smtp, "password"),
        "GROUNDSWELL_KIBANA_URL": (alerting, "kibana_url"),
        "GROUNDSWELL_REDIS_URL": (redis, "url"),
    }
    for var, (target, key) in simple.items():
        if env.get(var):
            target[key] = env[var]
    if env.get("GROUNDSWELL_ES_VERIFY_CERTS"):
        raw = env["GROUNDSWELL_ES_VERIFY_CERTS"].strip().lower()
        if raw not in {"0", "1", "true", "false", "yes", "no"}:
            raise ConfigError(f"environment: GROUNDSWELL_ES_VERIFY_CERTS: expected true or false (got {raw!r})")
        es["verify_certs"] = raw in {"1", "true", "yes"}
    if env.get("GROUNDSWELL_SMTP_PORT"):
        raw = env["GROUNDSWELL_SMTP_PORT"]
        if not raw.isdigit():
            raise ConfigError(f"environment: GROUNDSWELL_SMTP_PORT: expected a port number (got {raw!r})")
        smtp["port"] = int(raw)
    if env.get("GROUNDSWELL_ALERT_TO"):
        addresses = tuple(a.strip() for a in env["GROUNDSWELL_ALERT_TO"].split(",") if a.strip())
        rec = {"notice": addresses, "urgent": addresses, "crisis": addresses}
    reddit = {key: env[f"GROUNDSWELL_REDDIT_{key.upper()}"] for key in RedditApp.model_fields
              if env.get(f"GROUNDSWELL_REDDIT_{key.upper()}")}
    xhs = {"storage_state": env["GROUNDSWELL_XHS_STORAGE_STATE"]} if env.get("GROUNDSWELL_XHS_STORAGE_STATE") else {}
    platforms = {k: v for k, v in (("reddit", reddit), ("xiaohongshu", xhs)) if v}
    local: dict[str, Any] = {}
    if env.get("GROUNDSWELL_ES_VERSION"):
        local["version"] = env["GROUNDSWELL_ES_VERSION"]
    if env.get("GROUNDSWELL_ES_PORT"):
        raw = env["GROUNDSWELL_ES_PORT"]
        if not raw.isdigit():
            raise ConfigError(f"environment: GROUNDSWELL_ES_PORT: expected a port number (got {raw!r})")
        local["port"] = int(raw)
    if env.get("GROUNDSWELL_ES_NODES"):
        raw = env["GROUNDSWELL_ES_NODES"]
        if not raw.isdigit():
            raise ConfigError(f"environment: GROUNDSWELL_ES_NODES: expected a number of nodes (got {raw!r})")
        local["nodes"] = int(raw)
    if local:
        es["local"] = local
    return {"elasticsearch": es, "smtp": smtp, "recipients": rec, "alerting": alerting, "platforms": platforms,
            "redis": redis}


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        elif isinstance(value, Mapping) and not value:
            continue
        else:
            out[key] = value
    return out


def resolve_path(explicit: str | None, env: Mapping[str, str]) -> Path | None:
    """--config wins, then GROUNDSWELL_CONFIG, then ./groundswell.yaml if present; else run on defaults."""
    if explicit:
        return Path(explicit)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    here = Path(DEFAULT_CONFIG_NAME)
    return here if here.is_file() else None


def load(
    explicit: str | None = None, env: Mapping[str, str] | None = None, model: type[Config[Any]] = Config
) -> Config[Any]:
    """Read, validate and freeze the configuration as `model`; raise ConfigError with a message fit to print."""
    env = os.environ if env is None else env
    path = resolve_path(explicit, env)
    raw: dict[str, Any] = {}
    where = str(path) if path else "defaults"
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config file: {exc}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(f"{path}: {at}invalid YAML: {problem}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: (top level): expected a mapping of sections (got {type(loaded).__name__})")
        raw = loaded
    try:
        merged = _merge(raw, _env_overrides(env, where))
    except ConfigError:
        raise
    merged["path"] = str(path) if path else None
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_format_validation(where if path else "environment", exc)) from None
