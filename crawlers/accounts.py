"""Per-platform accounts (session cookies), rotated across requests; an account that hits the login wall is
retired and the request re-sent with the next one, until none is left and the spider's own login-wall check
closes the crawl (never a loop).

Cookies come from the environment (`GROUNDSWELL_COOKIES_WEIBO="SUB=...; SUBP=...||SUB=..."`, accounts
separated by `||`) or from the config's `accounts:` section; they are secrets, so prefer the environment.

In a worker's crawl (`groundswell worker`) each account is leased to one worker at a time and a retired account is
retired for all workers (crawlers.redis_accounts): a worker uses its one leased account instead of rotating.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.http import Response

from core.config import Config
from crawlers.context import CrawlContext

if TYPE_CHECKING:
    from crawlers.redis_accounts import AccountLeases

log = logging.getLogger(__name__)


def _weibo_wall(response: Response) -> bool:
    location = (response.headers.get("Location") or b"").decode("latin-1")
    if response.status in (301, 302, 303, 307, 308) and "/login" in location:
        return True
    return b'"ok": -100' in response.body[:200] or b'"ok":-100' in response.body[:200]


def _bilibili_wall(response: Response) -> bool:
    return b'"code": -101' in response.body[:200] or b'"code":-101' in response.body[:200]


def _jd_wall(response: Response) -> bool:
    location = (response.headers.get("Location") or b"").decode("latin-1")
    return response.status in (301, 302, 303, 307, 308) and ("passport.jd.com" in location or "/login.aspx" in location)


LOGIN_WALLS: dict[str, Callable[[Response], bool]] = {"weibo": _weibo_wall, "bilibili": _bilibili_wall, "jd": _jd_wall}


def accounts_for(platform: str, cfg: Config[Any], env: dict[str, str] | None = None) -> list[str]:
    env = dict(os.environ) if env is None else env
    raw = env.get(f"GROUNDSWELL_COOKIES_{platform.upper()}")
    if raw:
        return [c.strip() for c in raw.split("||") if c.strip()]
    return list(cfg.accounts.get(platform, ()))


class AccountRotation:
    """Downloader middleware: sets each request's Cookie from the platform's live accounts, in turn."""

    def __init__(self, cfg: Config[Any], stats: Any, crawler: Any = None, leases: AccountLeases | None = None):
        self.crawler = crawler
        self.cfg = cfg
        self.stats = stats
        self.live: dict[str, list[int]] = {}
        self.cookies: dict[str, list[str]] = {}
        self.turn: dict[str, itertools.count[int]] = {}
        self.leases = leases  # a worker's crawl: one leased account per platform (crawlers.redis_accounts)
        self._no_free: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Any) -> AccountRotation:
        context = CrawlContext.of(crawler)
        leases = None
        if context.unit is not None:
            from scrapy import signals

            from crawlers.redis_accounts import AccountLeases
            from crawlers.redis_conn import key_prefix

            leases = AccountLeases(context.redis, key_prefix(context.config), context.worker_id or "worker")
        rotation = cls(context.config, crawler.stats, crawler, leases)
        if leases is not None:
            crawler.signals.connect(rotation.spider_closed, signal=signals.spider_closed)
        return rotation

    def spider_closed(self) -> None:
        if self.leases is not None:
            try:
                self.leases.release_all()
            except Exception as exc:  # Redis gone: the leases expire by themselves
                log.warning("account leases not released (they expire): %s", exc)

    def _pick(self, platform: str) -> int | None:
        live = self.live[platform]
        if self.leases is None:
            return live[next(self.turn[platform]) % len(live)]
        index = self.leases.current(platform, [c if i in live else "" for i, c in enumerate(self.cookies[platform])])
        if index is None and platform not in self._no_free:
            self._no_free.add(platform)
            log.warning("%s: every account is leased by another worker or retired; sending without one", platform)
        return index

    def _platform(self, spider: Any) -> str:
        return str(getattr(spider, "platform", "") or getattr(spider, "name", ""))

    def _accounts(self, platform: str) -> list[str]:
        if platform not in self.cookies:
            self.cookies[platform] = accounts_for(platform, self.cfg)
            self.live[platform] = list(range(len(self.cookies[platform])))
            self.turn[platform] = itertools.count()
        return self.cookies[platform]

    def process_request(self, request: Request, spider: Any = None) -> None:
        platform = self._platform(spider or self.crawler.spider)
        if not self._accounts(platform) or not self.live[platform]:
            return
        index = self._pick(platform)
        if index is None:
            return
        request.meta["gs_account"] = index
        request.meta["dont_merge_cookies"] = True
        request.headers["Cookie"] = self.cookies[platform][index]

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Request | Response:
        platform = self._platform(spider or self.crawler.spider)
        index = request.meta.get("gs_account")
        wall = LOGIN_WALLS.get(platform)
        if index is None or wall is None or not wall(response):
            return response
        live = self.live.get(platform, [])
        if self.leases is not None:
            self.leases.retire(platform, self.cookies[platform][index])  # for every worker
        if index in live:
            live.remove(index)
            self.stats.inc_value("groundswell/accounts_expired")
            log.warning("%s account #%d hit the login wall; %d account(s) left", platform, index + 1, len(live))
        if not live:
            return response  # the spider sees the wall and closes the crawl as login_wall
        retry = request.replace(dont_filter=True)
        retry.meta.pop("gs_account", None)
        return retry
