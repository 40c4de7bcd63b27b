"""`groundswell worker`: one crawl worker process. Run any number, on any host that reaches the Redis and the
Elasticsearch cluster.

A worker takes crawl units from Redis (queue.py) and runs each as a Scrapy crawl in this process, up to
`--crawls` at once. The unit's owner runs it as `groundswell crawl` would: its pipelines write to Elasticsearch (or
the local spool), its spider saves the cursor and its run record when it ends well. A unit of a spider whose pages
can be shared (crawlers.spiders.base.shares_pages) takes its requests from the unit's Redis queue
(crawlers.redis_scheduler), and idle workers join it as helpers, so one source's pages spread over the workers.

Stopping (SIGTERM, Ctrl-C): no new unit; crawls close as Scrapy does at a shutdown (requests in flight finish, the
pipelines flush); shared units' requests held here go back to their queue, and the units this worker owned go
back to the front of the line for another worker. Killed (SIGKILL, a dead host): its leases and held requests time
out and other workers take them over; nothing it had not made durable was acknowledged.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.ossignal import install_shutdown_handlers
from scrapy.utils.project import get_project_settings
from scrapy.utils.reactor import install_reactor
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from core.config import Config
from crawlers.redis_conn import connect, key_prefix
from crawlers.redis_crawl import UnitSpec
from groundswell.workers.queue import UnitQueue

log = logging.getLogger("groundswell.worker")

TICK_SECONDS = 0.5
SCHEDULER = "crawlers.redis_scheduler.RedisScheduler"

Emit = Callable[[dict[str, Any]], None]


@dataclass
class Running:
    spec: UnitSpec
    role: str  # "owner" or "helper"
    crawler: Crawler
    started: float = field(default_factory=time.monotonic)


def _stop_reactor() -> None:
    from twisted.internet import reactor

    if reactor.running:
        reactor.stop()  # type: ignore[misc]


def plain_stats(stats: dict[str, Any]) -> dict[str, Any]:
    """The stats that travel as JSON: numbers and texts."""
    return {k: v for k, v in stats.items() if isinstance(v, int | float | str) and not isinstance(v, bool)}


class Worker:
    def __init__(self, cfg: Config[Any], settings: Settings, max_crawls: int, emit: Emit) -> None:
        self.cfg = cfg
        self.settings = settings
        self.max_crawls = max_crawls
        self.emit = emit
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.queue = UnitQueue(connect(cfg.redis), key_prefix(cfg), cfg.redis.worker_lease_seconds)
        # the reactor the crawls ask for (TWISTED_REACTOR), installed before anything imports the default one
        install_reactor(settings["TWISTED_REACTOR"])
        self.process = CrawlerProcess(settings)
        self.running: dict[str, Running] = {}
        self.stopping = False
        self.done = 0
        self._loop = LoopingCall(self._tick)
        self._complained = False

    # -- lifecycle -------------------------------------------------------------------------------------------

    def run(self) -> None:
        """Until SIGTERM or Ctrl-C (a second one stops at once)."""
        from twisted.internet import reactor

        def begin() -> None:
            install_shutdown_handlers(self._on_signal)
            self._loop.start(TICK_SECONDS).addErrback(self._loop_failed)

        reactor.callWhenRunning(begin)
        self.emit({"event": "worker_started", "worker": self.worker_id, "crawls": self.max_crawls,
                   "redis": self.cfg.redis.shown_url})
        self.process.start(stop_after_crawl=False, install_signal_handlers=False)
        try:
            self.queue.leave(self.worker_id)
        except Exception as exc:  # Redis gone: our heartbeat simply ages out
            log.warning("could not sign out of Redis: %s", exc)
        self.emit({"event": "worker_stopped", "worker": self.worker_id, "units": self.done})

    def _on_signal(self, signum: int, _frame: Any) -> None:
        from twisted.internet import reactor

        if self.stopping:
            reactor.callFromThread(_stop_reactor)
            return
        reactor.callFromThread(self.shutdown)

    def shutdown(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        log.warning("stopping: %d crawl(s) close as at a Scrapy shutdown; units go back to the queue",
                    len(self.running))
        if self._loop.running:
            self._loop.stop()
        self.process.stop().addBoth(lambda _: _stop_reactor())

    def _loop_failed(self, failure: Failure) -> None:
        log.error("worker loop failed: %s", failure.getTraceback())
        self.shutdown()

    # -- taking work -----------------------------------------------------------------------------------------

    def _tick(self) -> None:
        try:
            self.queue.heartbeat(self.worker_id, {"host": socket.gethostname(), "pid": os.getpid(),
                                                  "running": sorted(self.running)})
            owned = [u for u, r in self.running.items() if r.role == "owner"]
            lost = set(owned) - self.queue.renew(self.worker_id, owned)
            for unit_id in lost:
                log.error("%s: lease lost (this worker was too slow to renew it); another worker may take it "
                          "over", unit_id)
            while not self.stopping and len(self.running) < self.max_crawls:
                spec = self.queue.take(self.worker_id)
                if spec is None:
                    break
                helping = self.running.get(spec.unit_id)
                if helping is not None:  # its owner died while we helped: we own it now
                    helping.role = "owner"
                    self.queue.unit(spec.unit_id).set_status("running", owner=self.worker_id)
                    log.warning("%s: took over from its owner", spec.unit_id)
                    continue
                self._start(spec, "owner")
            if not self.stopping and len(self.running) < self.max_crawls:
                self._join_one()
            self._complained = False
        except Exception as exc:  # Redis unreachable: keep crawling what we have, try again next tick
            if not self._complained:
                log.error("worker: %s: %s", type(exc).__name__, exc)
                self._complained = True

    def _join_one(self) -> None:
        """Help crawl a shared unit that is open and not already crawled here."""
        for unit_id in self.queue.open_units():
            if unit_id in self.running:
                continue
            unit = self.queue.unit(unit_id)
            spec = unit.spec()
            if spec is None or unit.status() != "running" or unit.done():
                self.queue.close(unit_id)
                continue
            self._start(spec, "helper")
            return

    def _settings(self, spec: UnitSpec, role: str) -> Settings:
        settings = self.settings.copy()
        settings.set("GROUNDSWELL_UNIT", spec.unit_id, priority="cmdline")
        settings.set("GROUNDSWELL_UNIT_SHARED", spec.shared, priority="cmdline")
        settings.set("GROUNDSWELL_WORKER_ID", self.worker_id, priority="cmdline")
        if spec.shared:
            settings.set("SCHEDULER", SCHEDULER, priority="cmdline")
            # take from the shared queue no more than this worker can send at once: requests waiting in one
            # worker's download slot would wait there while other workers idle
            settings.set("CONCURRENT_REQUESTS", settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"),
                         priority="cmdline")
        if spec.time_limit_seconds and role == "owner":
            settings.set("CLOSESPIDER_TIMEOUT", spec.time_limit_seconds, priority="cmdline")
        return settings

    def _start(self, spec: UnitSpec, role: str) -> None:
        try:
            spidercls = self.process.spider_loader.load(spec.spider)
        except KeyError:
            self._give_up(spec, role, f"no spider named {spec.spider!r}")
            return
        crawler = Crawler(spidercls, self._settings(spec, role))
        unit = self.queue.unit(spec.unit_id)
        if role == "owner":
            unit.set_status("running", owner=self.worker_id)
            if spec.shared:
                self.queue.open(spec.unit_id)
        self.running[spec.unit_id] = Running(spec, role, crawler)
        self.emit({"event": "unit_started", "worker": self.worker_id, "unit": spec.unit_id, "role": role,
                   "spider": spec.spider, "keyword": spec.keyword, "source": spec.source})
        args = {**spec.args, **({"keyword": spec.keyword} if spec.keyword else {})}
        self.process.crawl(crawler, **args).addBoth(self._finished, spec.unit_id)

    def _give_up(self, spec: UnitSpec, role: str, error: str) -> None:
        log.error("%s: %s", spec.unit_id, error)
        if role == "owner":
            self.queue.unit(spec.unit_id).finish({"finish_reason": "error", "error": error, "stats": {}})
            self.queue.release(self.worker_id, spec.unit_id, requeue=False)

    # -- finishing -------------------------------------------------------------------------------------------

    def _finished(self, outcome: Any, unit_id: str) -> None:
        run = self.running.pop(unit_id, None)
        if run is None:
            return
        error = None
        if isinstance(outcome, Failure):
            error = f"{type(outcome.value).__name__}: {outcome.value}"
            log.error("%s: the crawl failed: %s", unit_id, error)
        stats = dict(run.crawler.stats.get_stats()) if run.crawler.stats is not None else {}
        reason = str(stats.get("finish_reason") or ("error" if error else "unknown"))
        event = {"event": "unit_done", "worker": self.worker_id, "unit": unit_id, "role": run.role,
                 "finish_reason": reason, "items": stats.get("item_scraped_count", 0),
                 "seconds": round(time.monotonic() - run.started, 3)}
        try:
            self._settle(run, reason, stats, error)
        except Exception as exc:  # Redis gone: the lease times out and another worker finishes the unit
            log.error("%s: cannot record the outcome in Redis: %s", unit_id, exc)
        self.done += 1
        self.emit(event)

    def _settle(self, run: Running, reason: str, stats: dict[str, Any], error: str | None) -> None:
        spec, unit = run.spec, self.queue.unit(run.spec.unit_id)
        if run.role == "helper":
            return
        if reason == "shutdown" and self.stopping:  # not done: the next worker in line takes it over
            self.queue.release(self.worker_id, spec.unit_id, requeue=True)
            return
        if spec.shared:
            if reason != "finished":
                unit.stop(reason)  # helpers stop too
            stats = {**unit.stats(), "finish_reason": reason}
        unit.finish({"finish_reason": reason, "error": error, "worker": self.worker_id,
                     "keyword": spec.keyword, "stats": plain_stats(stats)})
        self.queue.release(self.worker_id, spec.unit_id, requeue=False)


def worker_settings(cfg: Config[Any], config_path: str | None, verbose: int) -> Settings:
    """The project's Scrapy settings, with the loaded configuration, as `groundswell crawl` sets them."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawlers.settings")
    settings = get_project_settings()
    settings.set("GROUNDSWELL_CONFIG_PATH", config_path, priority="cmdline")
    settings.set("GROUNDSWELL_CONFIG", cfg, priority="cmdline")
    settings.set("LOG_LEVEL", "INFO" if verbose else "WARNING", priority="cmdline")
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
    settings.set("TELNETCONSOLE_ENABLED", False, priority="cmdline")
    return settings

