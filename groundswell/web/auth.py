"""Who is signed in: people in `web.users` (argon2 password hashes) or named by a trusted reverse proxy's header.

Nothing but the sign-in page, the static files, the health check and the signed acknowledge links (which carry
their own proof) is served without a person. The session cookie holds only the person's name and is signed with
GROUNDSWELL_SECRET_KEY; a person removed from the configuration is signed out at their next request."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from core.config import Web, WebUser

bp = Blueprint("auth", __name__)
PUBLIC_ENDPOINTS = {"auth.login", "static", "health", "ack.confirm", "ack.acknowledge"}

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("a password nobody has")  # verified against for unknown names: same time either way


def hash_password(password: str) -> str:
    """The argon2id hash to put in `web.users[].password_hash`."""
    return _hasher.hash(password)


def check_password(user: WebUser, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash or _DUMMY_HASH, password) and user.password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class Throttle:
    """Too many failed sign-ins for one name or from one address: wait (slows password guessing)."""

    def __init__(self, limit: int = 5, window: float = 900.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        return [t for t in self._failures.get(key, []) if now - t < self.window]

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.limit for k in keys)

    def fail(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for k in keys:
                self._failures[k] = [*self._recent(k, now), now]


def find_user(web: Web, name: str) -> WebUser | None:
    """A configured person by name, or by email (what a proxy header usually carries)."""
    folded = name.strip().casefold()
    return next((u for u in web.users if u.name.casefold() == folded or (u.email or "").casefold() == folded), None)


def _from_trusted_proxy(web: Web, remote: str | None) -> bool:
    if not web.trusted_header or not remote:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in web.trusted_proxies)


def current_user() -> WebUser | None:
    user = g.get("user")
    return user if isinstance(user, WebUser) else None


def load_user() -> Response | None:
    """before_request: find the person, or send them to sign in (deny by default)."""
    web: Web = current_app.config["GS_WEB"]
    g.user = None
    if web.trusted_header and _from_trusted_proxy(web, request.remote_addr):
        named = request.headers.get(web.trusted_header, "")
        g.user = find_user(web, named) if named else None
    if g.user is None and session.get("user"):
        g.user = find_user(web, str(session["user"]))
        if g.user is None:
            session.clear()  # removed from the configuration since signing in
    if g.user is not None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.method == "GET":
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return Response("sign in first", status=401)


def _safe_next(target: str | None) -> str:
    """Only a path on this console (not //host or a scheme): the sign-in form is no open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("incidents.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    web: Web = current_app.config["GS_WEB"]
    throttle: Throttle = current_app.config["GS_THROTTLE"]
    error = None
    target = _safe_next(request.values.get("next"))
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        keys = (f"name:{name.casefold()}", f"addr:{request.remote_addr}")
        user = find_user(web, name)
        if throttle.blocked(*keys):
            error = "Too many failed sign-ins: wait a quarter of an hour, or ask whoever runs Groundswell."
        elif user is not None and check_password(user, password):
            session.clear()  # a fresh session: nothing from before signing in carries over
            session.permanent = True
            session["user"] = user.name
            return redirect(target)
        else:
            if user is None:
                check_password(WebUser(name="-"), password)  # the same work as for a real name
            throttle.fail(*keys)
            error = "Wrong name or password."
    if not web.users:
        error = error or "No one can sign in: add people under web.users (see `groundswell web hash-password`)."
    return render_template("login.html", error=error, target=target), (401 if error and request.method == "POST"
                                                                      else 200)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    session.clear()
    return redirect(url_for("auth.login"))


def requires_responder(view: Callable[..., Any]) -> Callable[..., Any]:
    """Only responders change incidents; viewers read."""
    import functools

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None or user.role != "responder":
            return render_template("message.html", title="Not allowed",
                                   message="Your role is viewer: you can read, not change incidents."), 403
        return view(*args, **kwargs)

    return wrapper


def install(app: Flask) -> None:
    app.config["GS_THROTTLE"] = Throttle()
    app.before_request(load_user)
    app.register_blueprint(bp)
