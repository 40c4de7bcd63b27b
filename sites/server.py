"""One loopback HTTP server for every simulated platform (told apart by path), plus `/_control/...` endpoints
that move the clock, flip faults and start the viral scenario while spiders run against it."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import datetime
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from core.times import iso
from sites import bilibili, jd, reddit, reviews, weibo, xiaohongshu
from sites.clock import DEFAULT_START, SimClock
from sites.core import Env, Handler, Request, Response, json_response, text_response
from sites.faults import FaultDice, Faults
from sites.world import World

ROBOTS = """User-agent: *
Disallow: /private/
Disallow: /_control/
Allow: /api/
Allow: /comments/
Allow: /x/
Allow: /search
Allow: /comment/
Allow: /reviews/
Allow: /
"""

PLATFORM_ROUTES: dict[str, Handler] = {
    **weibo.ROUTES, **bilibili.ROUTES, **reddit.ROUTES, **jd.ROUTES, **xiaohongshu.ROUTES,
}
PREFIX_ROUTES: dict[str, Handler] = {**reviews.PREFIX_ROUTES, **reddit.PREFIX_ROUTES, **xiaohongshu.PREFIX_ROUTES}
POST_ROUTES = reddit.POST_ROUTES | xiaohongshu.POST_ROUTES


class Simulator:
    """The simulated sources. `with Simulator(seed=1) as sim:` starts it on a free port; `sim.url` is the base URL
    every spider setting points at. Time stands still unless `advance()` is called or `speed` (simulated seconds
    per real second) is above 0."""

    def __init__(self, seed: int = 0, port: int = 0, faults: Faults | Mapping[str, Any] | None = None,
                 speed: float = 0.0, start: datetime = DEFAULT_START, quiet: bool = True) -> None:
        self.seed = seed
        self.port = port
        self.quiet = quiet
        self.clock = SimClock(start, speed)
        self.world = World(seed, self.clock)
        self.faults = faults if isinstance(faults, Faults) else Faults()
        if faults is not None and not isinstance(faults, Faults):
            self.faults.update(faults)
        self.dice = FaultDice(seed)
        self.stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> str:
        """Bind 127.0.0.1 (never a public interface) and serve in a background thread; returns the base URL."""
        if self._httpd is not None:
            return self.url
        httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        httpd.daemon_threads = True
        httpd.simulator = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self.stopping.clear()
        self._thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), name="sites-simulator",
                                        daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self.stopping.set()  # wakes handlers sleeping in a slow response
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- control (also reachable over HTTP under /_control/) -------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, minutes: float) -> datetime:
        """Move simulated time on: new posts appear, counts grow, viral reposts pile up."""
        return self.clock.advance(minutes)

    def set_faults(self, **changes: Any) -> Faults:
        self.faults.update(changes)
        return self.faults

    def reset_faults(self) -> Faults:
        self.faults = Faults()
        self.dice.reset()
        return self.faults

    def inject_viral(self, keyword: str = "小米", platform: str = "weibo", text: str | None = None) -> str:
        """Start the viral scenario now; returns the original post's id (a Weibo mid by default)."""
        return str(self.world.inject_viral(keyword, platform, text).id)

    def state(self) -> dict[str, Any]:
        return {"now": iso(self.now()), "speed": self.clock.speed, "seed": self.seed, "url": self.url,
                "requests": self.dice.count, "faults": self.faults.as_dict()}

    # --- dispatch --------------------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        if req.path == "/robots.txt":
            return text_response(ROBOTS)
        if req.path.startswith("/_control/"):
            return self._control(req)
        if req.path == "/":
            return self._home(req)
        public = {**weibo.PUBLIC_ROUTES, **jd.PUBLIC_ROUTES}
        if req.path in public:
            return public[req.path](req, Env(self.world, self.faults))
        handler = PLATFORM_ROUTES.get(req.path) or next(
            (h for prefix, h in PREFIX_ROUTES.items() if req.path.startswith(prefix)), None)
        if handler is None or (req.method not in ("GET", "HEAD") and req.path not in POST_ROUTES):
            return json_response({"error": "not found", "path": req.path}, 404)
        faults = self.faults
        verdict = self.dice.roll(faults)
        if verdict == "rate_limit" or req.forced("429"):
            return Response(429, b'{"error":"Too Many Requests"}', headers={"Retry-After": str(faults.retry_after)})
        if verdict == "error" or req.forced("500"):
            status = faults.error_status if verdict == "error" else 500
            return Response(status, b"<html><body><h1>Service Unavailable</h1></body></html>",
                            "text/html; charset=utf-8")
        delay = faults.slow_seconds or (5.0 if req.forced("slow") else 0.0)
        if delay and self.stopping.wait(delay):
            return Response(503, b"")
        return handler(req, Env(self.world, faults))

    def _home(self, req: Request) -> Response:
        """The home page of every simulated platform at once (they share this host): it sets each one's visitor
        cookies, as www.bilibili.com (buvid3) and m.weibo.cn (its visitor session) do for a browser."""
        n = self.dice.count + self.seed * 1000
        cookies = [*bilibili.visitor_cookies(n), *weibo.visitor_cookies(n)]
        return Response(200, b"<!doctype html><html><head><meta charset='utf-8'><title>Groundswell sites</title>"
                        b"</head><body>simulated platforms</body></html>", "text/html; charset=utf-8",
                        {"Set-Cookie": cookies})

    def _control(self, req: Request) -> Response:
        action = req.path.removeprefix("/_control/").strip("/")
        if action == "state" and req.method == "GET":
            return json_response(self.state())
        if req.method != "POST":
            return json_response({"error": "control actions other than state need POST"}, 405)
        params: dict[str, Any] = {k: v for k, v in req.query.items() if not k.startswith("_")}
        if req.body.strip():
            try:
                body = json.loads(req.body)
            except ValueError:
                return json_response({"error": "body is not JSON"}, 400)
            if not isinstance(body, dict):
                return json_response({"error": "body must be a JSON object"}, 400)
            params.update(body)
        try:
            if action == "advance":
                self.advance(float(params.get("minutes", 1)))
            elif action == "faults":
                self.set_faults(**params)
            elif action == "reset":
                self.reset_faults()
            elif action == "viral":
                mid = self.inject_viral(str(params.get("keyword", "小米")), str(params.get("platform", "weibo")))
                return json_response({**self.state(), "viral_id": mid})
            else:
                return json_response({"error": f"unknown control action {action!r}",
                                      "actions": ["state", "advance", "faults", "reset", "viral"]}, 404)
        except (ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(self.state())


class _Handler(BaseHTTPRequestHandler):
    server_version = "GroundswellSites/1.0"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        sim: Simulator = self.server.simulator  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        cookies: dict[str, str] = {}
        try:
            jar: SimpleCookie = SimpleCookie(self.headers.get("Cookie") or "")
            cookies = {k: m.value for k, m in jar.items()}
        except CookieError:
            pass
        req = Request(method, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                      dict(self.headers.items()), cookies, body, self.path)
        try:
            resp = sim.handle(req)
        except Exception as exc:  # a simulator bug should look like a 500, not a dropped connection
            resp = json_response({"error": f"simulator error: {exc!r}"}, 500)
        try:
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            for name, value in resp.headers.items():
                for one in value if isinstance(value, list) else [value]:
                    self.send_header(name, one)
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(resp.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first (its timeout, during a slow answer): what real servers see too

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.simulator.quiet:  # type: ignore[attr-defined]
            super().log_message(format, *args)
