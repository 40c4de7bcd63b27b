"""One YAML file, validated once into frozen typed objects; the environment overrides secrets and endpoints.

Every error names the file, the key path and the bad value, so a user can fix the file without reading code.
`Config` is generic in its rules: the core does not know the alert rule types, so `load()` here leaves `rules:`
as written, and the application (groundswell.config) loads `Config[RuleSpec]`, which validates them too.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from core import redact, yamlfile
from core.timefmt import zone_named

CONFIG_ENV = "GROUNDSWELL_CONFIG"
SECRET_ENV = "GROUNDSWELL_SECRET_KEY"
DEFAULT_CONFIG_NAME = "groundswell.yaml"
PREFIX_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,60}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


class ConfigError(Exception):
    """A configuration problem, already worded for the user (file, key, bad value)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Brand(_Frozen):
    name: str = Field(min_length=1, description="The brand as mentions are tagged with it (`brand`), e.g. 小米.")
    aliases: tuple[str, ...] = Field(default=(), description="Other names of the brand (Xiaomi, MI): any of them is "
        "a mention. Latin names match as whole words only.")
    products: tuple[str, ...] = Field(default=(), description="Product names and SKUs that mean the brand (小米14).")
    exclusions: tuple[str, ...] = Field(default=(), description="Phrases containing a name that are not the brand "
        "(小米粥, apple pie): only that occurrence is cancelled.")


_XPATH_START = ("/", "./", "../", "(", "@")
_OFFSET_TEXT_RE = re.compile(r"^(UTC|Z|[+-]\d{1,2}(:?\d{2})?)$", re.IGNORECASE)


class ReviewSelectors(_Frozen):
    """How the generic `reviews` spider reads one site: a selector per field, each CSS (parsel's `::text` and
    `::attr(name)` included) or XPath (`xpath:` prefix, or starting with `/`, `./`, `(` or `@`), relative to an
    item. Checked when the file is loaded, so a typo fails then, naming its key, not as an empty crawl later."""

    item: str = Field(min_length=1, description="One review on the page.")
    text: str = Field(min_length=1, description="The review's text, within an item.")
    time: str = Field(min_length=1, description="When it was written, as the page prints it (localized and relative "
        "dates are read: 2024年3月5日, 3天前).")
    author: str = Field(default="", description="Its author.")
    rating: str = Field(default="", description="Its rating (a number, or stars counted from the text).")
    next: str = Field(default="", description="The next page's link (an href), on the whole page.")
    id: str = Field(default="", description="A stable id; empty: one hashed from author, time and text.")
    likes: str = Field(default="", description="How many found it helpful.")
    title: str = Field(default="", description="Its title.")
    start_url: str | None = Field(default=None, description="The first page, absolute or relative to the source's "
        "base_url.")
    browser: bool = Field(default=False, description="Render each page in Chromium first (pages built by "
        "JavaScript).")
    timezone: str = Field(default="UTC", description="The zone of times printed without one: UTC or an offset like "
        "+08:00.")

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
    name: str = Field(min_length=1, description="The source's name: `groundswell crawl NAME`, its jobs in "
        "`groundswell status`.")
    spider: str = Field(min_length=1, description="The spider that crawls it: weibo, bilibili, reddit, jd, "
        "xiaohongshu or reviews.")
    base_url: str | None = Field(default=None, description="Crawl this host instead of the real site (e.g. the "
        "simulator of `groundswell sites`); every host the spider uses is pointed at it.")
    keywords: tuple[str, ...] = Field(default=(), description="What to search for, one crawl each; empty: every "
        "brand in `brands:`.")
    interval_minutes: int | None = Field(default=None, gt=0, description="`groundswell run` crawls it this often (or "
        "on `cron`; with neither it is crawled only by hand).")
    cron: str | None = Field(default=None, description="A crontab line (`0 */2 * * *`) instead of interval_minutes, "
        "in the configured `timezone:`.")
    max_pages: int = Field(default=5, gt=0, description="Search pages per crawl at most.")
    enabled: bool = Field(default=True, description="false: not scheduled (still crawlable by hand).")
    jitter_seconds: int = Field(default=30, ge=0, description="Each scheduled crawl starts up to this many seconds "
        "late, so sources do not all start at once.")
    time_limit_minutes: float = Field(default=15.0, gt=0, description="A scheduled crawl still running after this "
        "long gets SIGTERM (then SIGKILL after `run --kill-grace`).")
    selectors: ReviewSelectors | None = Field(default=None, description="How the generic `reviews` spider reads this "
        "site, when it has no schema.org markup (below).")


def _check_emails(value: tuple[str, ...]) -> tuple[str, ...]:
    for address in value:
        if not EMAIL_RE.match(address):
            raise ValueError(f"not an email address: {address!r}")
    return value


SeverityName = Literal["notice", "urgent", "crisis"]


class Route(_Frozen):
    """Who can act on incidents of a brand, a complaint category and a severity (every key optional).

    The most specific routes that match an incident receive it: brand+category+severity, then category+severity,
    and so on down to the severity-only tiers and the default (alerts.report.recipients_for). `severity` means this
    tier and above; `role` says in the email why its recipients got it ("logistics lead")."""

    to: tuple[str, ...] = Field(min_length=1, description="Email addresses.")
    brand: str | None = Field(default=None, min_length=1, description="Only incidents about this brand (one of "
        "`brands:`).")
    category: str | None = Field(default=None, min_length=1, description="Only incidents of this top-level complaint "
        "category (pipelines/complaint_taxonomy.yaml), e.g. logistics.")
    severity: SeverityName | None = Field(default=None, description="Only incidents of this severity and above.")
    role: str = Field(default="", description="Why its recipients get the email, said in its footer (\"logistics "
        "lead\").")

    @field_validator("to")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_emails(value)


class Recipients(_Frozen):
    """The severity-only tiers (the original form), the routes by who can act, and the broadest fallback."""

    notice: tuple[str, ...] = Field(default=(), description="Who gets notice incidents (when no route matches).")
    urgent: tuple[str, ...] = Field(default=(), description="Who gets urgent incidents (when no route matches).")
    crisis: tuple[str, ...] = Field(default=(), description="Who gets crisis incidents (when no route matches); an "
        "empty tier falls back to the next lower one.")
    default: tuple[str, ...] = Field(default=(), description="Who gets what nothing more specific routes.")
    routes: tuple[Route, ...] = Field(default=(), description="Routes by brand, category and severity (below); the "
        "most specific that match an incident win.")

    @field_validator("notice", "urgent", "crisis", "default")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_emails(value)


class Smtp(_Frozen):
    host: str = Field(default="localhost", description="The mail server.")
    port: int = Field(default=25, gt=0, lt=65536, description="Its port.")
    security: Literal["none", "starttls", "ssl"] = Field(default="none", description="TLS: none, starttls (587) or "
        "ssl (465).")
    username: str | None = Field(default=None, description="Sign-in name (prefer the environment).")
    password: str | None = Field(default=None, description="Sign-in password (a secret: prefer the environment).")
    sender: str = Field(default="groundswell@localhost", description="The From address of every email.")
    timeout_seconds: float = Field(default=10.0, gt=0, description="How long one SMTP conversation may take.")


class Alerting(_Frozen):
    """How incidents behave and are mailed; the rules themselves are `rules:`."""

    default_rules: bool = Field(default=True, description="The shipped rules (viral-spread, negative-surge, "
        "new-complaint-term, crawler-health) run beside `rules:`, which can replace one by its name; false: only "
        "`rules:`.")
    quiet_minutes: int = Field(default=180, gt=0, description="An incident with no new match for this long resolves.")
    digest_minutes: int | None = Field(default=None, gt=0, description="Send notices as one digest per this many "
        "minutes (urgent and crisis still go at once); unset: each at once.")
    kibana_url: str | None = Field(default=None, description="Kibana's address (http://localhost:5601), for the "
        "\"open in Kibana\" link in emails.")
    console_url: str | None = Field(default=None, description="The console's address as people reach it, for the "
        "incident and acknowledge links in emails.")
    ack_link_hours: float = Field(default=72.0, gt=0, description="How long an email's acknowledge link works.")

    @field_validator("console_url", "kibana_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"expected an http(s) address like https://groundswell.example.com, got {value!r}")
        return value.strip().rstrip("/")


class WebUser(_Frozen):
    """A person who may sign in to the console. `password_hash` comes from `groundswell web hash-password`;
    without one the person signs in only through the trusted proxy header."""

    name: str = Field(min_length=1, max_length=100, description="The name to sign in with, recorded with what the "
        "person does.")
    email: str | None = Field(default=None, description="Their address (an acknowledge link sent to it records "
        "them).")
    password_hash: str | None = Field(default=None, description="From `groundswell web hash-password` (argon2); "
        "none: they sign in only through web.trusted_header.")
    role: Literal["responder", "viewer"] = Field(default="responder", description="A viewer reads; a responder also "
        "acknowledges, resolves and writes notes.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if any(not c.isprintable() for c in value) or value != value.strip():
            raise ValueError(f"a user name is printable text without leading or trailing spaces, got {value!r}")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None:
            _check_emails((value,))
        return value

    @field_validator("password_hash")
    @classmethod
    def _hash(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("$argon2"):
            raise ValueError("not an argon2 hash: make one with `groundswell web hash-password` "
                             "(the hash is shown, never the password)")
        return value


class Web(_Frozen):
    """`groundswell web`: the console for service leads and PR teams (also started by `groundswell run` if enabled)."""

    enabled: bool = Field(default=False, description="`groundswell run` serves the console too.")
    host: str = Field(default="127.0.0.1", description="Address the console listens on.")
    port: int = Field(default=8600, gt=0, lt=65536, description="Its port.")
    users: tuple[WebUser, ...] = Field(default=(), description="Who may sign in (below).")
    trusted_header: str | None = Field(default=None, description="A reverse proxy that signed the person in names "
        "them in this header (X-Remote-User), as a configured user's name or email.")
    trusted_proxies: tuple[str, ...] = Field(default=(), description="The proxies (addresses or networks) believed "
        "about trusted_header; needed with it.")
    session_hours: float = Field(default=12.0, gt=0, description="How long a sign-in lasts.")
    threads: int = Field(default=8, gt=0, le=64, description="Requests served at once.")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"expected an IP address or network like 127.0.0.1 or 10.0.0.0/8, got {item!r}") from None
        return value

    @field_validator("trusted_header")
    @classmethod
    def _header(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9-]+", value):
            raise ValueError(f"expected a header name like X-Remote-User, got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Web:
        if self.trusted_header and not self.trusted_proxies:
            raise ValueError("trusted_header needs trusted_proxies: the addresses of the proxies allowed to set it")
        names = [u.name for u in self.users]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"two users have the same name: {', '.join(dupes)}")
        return self


class Clusters(_Frozen):
    """Near-duplicate clusters: copies of one post (reposts, cross-posts, pasted complaints) share a cluster id."""

    window_days: float = Field(default=30.0, gt=0, le=3660, description="A mention joins a stored cluster only "
        "when the cluster's first mention was first seen within this many days of it (copies spread while a post is "
        "new); a later copy starts a cluster of its own. Bounds the stored clusters each batch searches to the monthly "
        "indices of this window, so ingest does not slow down as the store grows. A repost still joins its "
        "original's cluster, and a re-crawled post keeps its own, whatever their age.")


class Scheduler(_Frozen):
    """`groundswell run`: the long-running service."""

    job_store_url: str | None = Field(default=None, description="Where jobs persist: any SQLAlchemy URL; default: "
        "SQLite at <data home>/jobs-<prefix>.sqlite.")
    alerts_every_minutes: float = Field(default=1.0, gt=0, description="How often the alert rules are evaluated.")
    revisit_every_minutes: float = Field(default=60.0, gt=0, description="How often each source's recent posts are "
        "fetched again (engagement history).")
    revisit_hours: float = Field(default=48.0, gt=0, description="Posts this recent are fetched again by a revisit, "
        "so their engagement history keeps growing.")
    retention_months: int | None = Field(default=None, gt=0, description="Drop each monthly mention index whose "
        "month ended more than this many months ago; unset: keep everything.")
    compact_after_days: float | None = Field(default=7.0, gt=0, description="Merge each monthly mention index into "
        "one segment once its month ended this many days ago (once per index): the lookups every batch makes across "
        "all months then cost one seek there instead of tens. Unset: never.")
    fork_children: bool = Field(default=True, description="Fork each crawl from one warm process that loaded what "
        "every crawl loads (Scrapy, the spiders, the analysis stages), so parallel crawls share that memory; false: "
        "each crawl starts as a fresh `groundswell crawl` process.")
    misfire_grace_seconds: int = Field(default=300, gt=0, description="Runs missed while the service was down are "
        "coalesced into one if less than this late, else skipped.")

    @field_validator("job_store_url")
    @classmethod
    def _store_url(cls, value: str | None) -> str | None:
        """A URL SQLAlchemy can parse, of a dialect it knows, checked now rather than when `run` starts."""
        if value is None:
            return None
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            make_url(value).get_dialect()
        except ArgumentError:
            raise ValueError("expected a SQLAlchemy URL like sqlite:////var/lib/groundswell/jobs.sqlite or "
                             "postgresql://user@host/db") from None
        except NoSuchModuleError as exc:
            raise ValueError(f"unknown database kind ({exc})") from None
        return value


class LocalNode(_Frozen):
    """The node `groundswell es start` manages when no external cluster is configured; `nodes: 3` (or
    `es start --nodes 3`) makes it a cluster of that many nodes on consecutive ports from `port`."""

    version: str = Field(default="8.19.21", description="The Elasticsearch version fetched from Maven Central.")
    port: int = Field(default=9200, gt=0, lt=65436, description="Its HTTP port (of the first node); the transport "
        "port is this + 100.")
    heap: str = Field(default="1g", description="Its Java heap (512m, 1g), per node.")
    nodes: int = Field(default=1, ge=1, le=5, description="How many nodes `groundswell es start` runs here, on "
        "consecutive ports from `port` (a local cluster for trying replicas; production clusters are set by `url`).")

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
    url: str | None = Field(default=None, description="An existing cluster (several node URLs: comma-separated); "
        "unset: the local node of `groundswell es start`.")
    username: str | None = Field(default=None, description="Basic authentication (prefer the environment).")
    password: str | None = Field(default=None, description="Basic authentication (a secret: prefer the environment).")
    api_key: str | None = Field(default=None, description="An API key instead (a secret: prefer the environment).")
    ca_certs: str | None = Field(default=None, description="A CA bundle that signed the cluster's certificate.")
    verify_certs: bool = Field(default=True, description="false: do not check the certificate (warned once per "
        "process).")
    index_prefix: str = Field(default="groundswell", description="The start of every index, alias and template name.")
    request_timeout: float = Field(default=30.0, gt=0, description="Seconds one request may take.")
    shards: int | None = Field(default=None, ge=1, le=64, description="Primary shards of every index Groundswell "
        "creates (the mention template and the bookkeeping indices); unset: 1.")
    replicas: int | None = Field(default=None, ge=0, le=8, description="Replicas of every index Groundswell creates; "
        "unset: none on one node, one as soon as a second node is there (auto_expand_replicas 0-1).")
    local: LocalNode = Field(default=LocalNode(), description="The local node (below).")

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
    def display_url(self) -> str:
        """The URL to print or store: its password masked (the client gets `effective_url`)."""
        return redact.url(self.effective_url)

    @property
    def is_local(self) -> bool:
        return self.url is None


class Redis(_Frozen):
    """Beyond one machine: crawl workers, standby schedulers and shared politeness meet in one Redis.

    Without a URL everything runs in one `groundswell run`, as on a single machine. The URL may carry a password
    (`redis://:secret@host:6379/0`): prefer GROUNDSWELL_REDIS_URL, and it is never printed whole."""

    url: str | None = Field(default=None, description="redis://[:password@]host:port/db (a secret when it carries a "
        "password: prefer GROUNDSWELL_REDIS_URL); unset: no Redis.")
    workers: bool = Field(default=False, description="true: `groundswell run` hands crawls to `groundswell worker`s "
        "instead of running them itself.")
    key_prefix: str | None = Field(default=None, description="The start of every Redis key; unset: "
        "groundswell:<index prefix>.")
    lease_seconds: float = Field(default=10.0, ge=1, le=300, description="The active scheduler's lease (renewed at "
        "a third of it): how soon a standby takes over from one that died.")
    visibility_seconds: float = Field(default=60.0, ge=5, description="A request a dead worker held goes back to the "
        "queue after this.")
    worker_lease_seconds: float = Field(default=30.0, ge=5, description="A crawl a dead worker held goes to another "
        "worker after this.")

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

    client_id: str | None = Field(default=None, description="The app's id.")
    client_secret: SecretStr | None = Field(default=None, description="The app's secret; never printed.")
    username: str | None = Field(default=None, description="A \"script\" app's owner: the token acts for this "
        "account; unset: application-only.")
    password: SecretStr | None = Field(default=None, description="That account's password.")
    user_agent: str | None = Field(default=None, description="Default: <platform>:groundswell:<version> (by "
        "/u/<username>).")


class XiaohongshuLogin(_Frozen):
    """A logged-in browser profile: a Playwright storage-state file (cookies + local storage) of xiaohongshu.com."""

    storage_state: str | None = Field(default=None, description="A Playwright storage-state file saved from a "
        "logged-in xiaohongshu.com session.")


class Platforms(_Frozen):
    """Per-platform credentials beyond session cookies (those are `accounts:`)."""

    reddit: RedditApp = Field(default=RedditApp(), description="The Reddit app the crawls use (below).")
    xiaohongshu: XiaohongshuLogin = Field(default=XiaohongshuLogin(), description="A logged-in Xiaohongshu browser "
        "profile (below).")


RuleT = TypeVar("RuleT")


class Config(_Frozen, Generic[RuleT]):
    brands: tuple[Brand, ...] = Field(default=(), description="The brands to watch (below); none: every mention "
        "passes and a crawl's keyword is its brand.")
    accounts: dict[str, tuple[str, ...]] = Field(default_factory=dict, description="Session cookies per platform "
        "(weibo: [\"SUB=...\"], jd: [\"thor=...; pin=...\"]), rotated across requests; prefer "
        "GROUNDSWELL_COOKIES_<PLATFORM>: they are secrets.")
    platforms: Platforms = Field(default=Platforms(), description="App credentials and browser profiles per platform "
        "(below).")
    sources: tuple[Source, ...] = Field(default=(), description="What to crawl and when (below).")
    rules: tuple[RuleT, ...] = Field(default=(), description="Alert rules (below, by `type`); they run beside the "
        "shipped ones unless alerting.default_rules is false.")
    recipients: Recipients = Field(default=Recipients(), description="Who receives incident emails (below).")
    smtp: Smtp = Field(default=Smtp(), description="The mail server (below).")
    alerting: Alerting = Field(default=Alerting(), description="How incidents behave and are mailed (below).")
    scheduler: Scheduler = Field(default=Scheduler(), description="`groundswell run`, the service (below).")
    clusters: Clusters = Field(default=Clusters(), description="Near-duplicate clusters (below).")
    elasticsearch: Elasticsearch = Field(default=Elasticsearch(), description="The cluster (below).")
    web: Web = Field(default=Web(), description="The console (below).")
    timezone: str = Field(default="UTC", description="IANA name (Asia/Shanghai): the zone of every time a person "
        "reads (email, console, command line) and types without an offset, and of `cron` lines; stored times and "
        "--json stay UTC.")
    secret_key: SecretStr | None = Field(default=None, description="Signs console sessions and acknowledge links: "
        "only from GROUNDSWELL_SECRET_KEY, refused in the file.")
    redis: Redis = Field(default=Redis(), description="More than one machine: crawl workers, standby schedulers "
        "(below); unset: everything runs in one `groundswell run`.")
    path: str | None = Field(default=None, description="Where the configuration was read from (set by the loader, "
        "for messages; not a key of the file).")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone_named(value)
        return value.strip()

    @field_validator("secret_key")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("GROUNDSWELL_SECRET_KEY must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The zone people read times in."""
        return zone_named(self.timezone)

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
        shown = "(hidden)" if e["loc"] and e["loc"][0] == "secret_key" else repr(bad)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {_format_loc(e['loc'])}: {msg} (got {shown})")
    return "\n".join(lines)


# Each environment variable that sets a key of the file, and the key: the environment wins over the file. Secrets
# and endpoints belong here (docs/configuration.md lists them, with the variables read elsewhere).
ENV_KEYS: dict[str, str] = {
    "GROUNDSWELL_ES_URL": "elasticsearch.url",
    "GROUNDSWELL_ES_USERNAME": "elasticsearch.username",
    "GROUNDSWELL_ES_PASSWORD": "elasticsearch.password",
    "GROUNDSWELL_ES_API_KEY": "elasticsearch.api_key",
    "GROUNDSWELL_ES_CA_CERTS": "elasticsearch.ca_certs",
    "GROUNDSWELL_ES_VERIFY_CERTS": "elasticsearch.verify_certs",
    "GROUNDSWELL_INDEX_PREFIX": "elasticsearch.index_prefix",
    "GROUNDSWELL_ES_VERSION": "elasticsearch.local.version",
    "GROUNDSWELL_ES_PORT": "elasticsearch.local.port",
    "GROUNDSWELL_ES_NODES": "elasticsearch.local.nodes",
    "GROUNDSWELL_SMTP_HOST": "smtp.host",
    "GROUNDSWELL_SMTP_PORT": "smtp.port",
    "GROUNDSWELL_SMTP_USERNAME": "smtp.username",
    "GROUNDSWELL_SMTP_PASSWORD": "smtp.password",
    "GROUNDSWELL_ALERT_TO": "recipients.default",
    "GROUNDSWELL_KIBANA_URL": "alerting.kibana_url",
    "GROUNDSWELL_CONSOLE_URL": "alerting.console_url",
    **{f"GROUNDSWELL_REDDIT_{key.upper()}": f"platforms.reddit.{key}" for key in RedditApp.model_fields},
    "GROUNDSWELL_XHS_STORAGE_STATE": "platforms.xiaohongshu.storage_state",
    "GROUNDSWELL_REDIS_URL": "redis.url",
    SECRET_ENV: "secret_key",
}
_PORTS = {"GROUNDSWELL_SMTP_PORT", "GROUNDSWELL_ES_PORT"}


def _env_value(var: str, raw: str) -> Any:
    """A variable's text as its key's value; ConfigError naming the variable when it cannot be."""
    if var == "GROUNDSWELL_ES_VERIFY_CERTS":
        flag = raw.strip().lower()
        if flag not in {"0", "1", "true", "false", "yes", "no"}:
            raise ConfigError(f"environment: {var}: expected true or false (got {flag!r})")
        return flag in {"1", "true", "yes"}
    if var in _PORTS:
        if not raw.isdigit():
            raise ConfigError(f"environment: {var}: expected a port number (got {raw!r})")
        return int(raw)
    if var == "GROUNDSWELL_ES_NODES":
        if not raw.isdigit():
            raise ConfigError(f"environment: {var}: expected a number of nodes (got {raw!r})")
        return int(raw)
    if var == "GROUNDSWELL_ALERT_TO":  # the broadest fallback: routes and tiers in the file still come first
        return tuple(a.strip() for a in raw.split(",") if a.strip())
    return raw


def _env_overrides(env: Mapping[str, str], where: str) -> dict[str, Any]:
    """Secrets and endpoints from the environment (ENV_KEYS), as a nested mapping that wins over the file."""
    out: dict[str, Any] = {}
    for var, key in ENV_KEYS.items():
        if not env.get(var):
            continue
        *parents, leaf = key.split(".")
        target = out
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = _env_value(var, env[var])
    return out


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
            loaded = yamlfile.safe_load(text)
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
        if "secret_key" in raw:
            raise ConfigError(f"{path}: secret_key: a secret does not belong in the file; "
                              f"set {SECRET_ENV} in the environment")
    try:
        merged = _merge(raw, _env_overrides(env, where))
    except ConfigError:
        raise
    merged["path"] = str(path) if path else None
    try:
        cfg = model.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(redact.scrub(_format_validation(where if path else "environment", exc))) from None
    _remember_secrets(cfg, env)
    return cfg


def _remember_secrets(cfg: Config[Any], env: Mapping[str, str]) -> None:
    """Every secret the configuration holds, so that no message, log line or record shows it."""
    es, smtp = cfg.elasticsearch, cfg.smtp
    url_password = None
    if es.url and "@" in es.url:
        from urllib.parse import unquote, urlsplit

        try:
            raw = urlsplit(es.url).password
        except ValueError:
            raw = None
        url_password = unquote(raw) if raw else None
    jars = [*cfg.accounts.values(),
            *(v.split("||") for k, v in env.items() if k.startswith("GROUNDSWELL_COOKIES_") and v)]
    cookies = [c for jar in jars for cookie in jar for c in (cookie.strip(), *_cookie_values(cookie))]
    redact.remember(es.password, es.api_key, smtp.password, url_password, *cookies)


def _cookie_values(cookie: str) -> list[str]:
    """The values of `SUB=...; SUBP=...`, each a secret on its own (a log may show one cookie of the jar)."""
    return [part.partition("=")[2].strip() for part in cookie.split(";") if "=" in part]
