"""The console's Flask application: configuration, security headers, error pages and the template helpers.

Security comes from the framework and maintained extensions, not from code of ours: Jinja2 autoescaping for every
page (crawled text is never marked safe), Flask's signed session cookie (HttpOnly, SameSite=Lax, Secure when the
console URL is https), Flask-WTF's CSRF token on every form that changes something, and a Content-Security-Policy
without any script source, so even a tag that slipped through could not run."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError
from flask import Flask, render_template
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from alerts.email.compose import safe_url
from core import display
from core.config import Config
from core.timefmt import people_duration, people_time
from store.client import StoreUnavailable, describe_error, make_client

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")


class ConsoleError(RuntimeError):
    """The console cannot start; the message says what to set."""


def _shown(value: Any) -> Any:
    """What a template prints: plain strings through core.display (a post's U+202E must not reverse the page);
    markup the console built itself passes as it is. Escaping for HTML follows (autoescape)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return display.lines(value)
    return value


def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"  # acknowledge tokens and queries stay off other sites' logs
    if response.mimetype in ("text/html", "text/csv"):
        response.headers["Cache-Control"] = "no-store"
    return response


def create_app(cfg: Config[Any], es: Elasticsearch | None = None) -> Flask:
    """The console for this configuration; ConsoleError when GROUNDSWELL_SECRET_KEY is missing."""
    from groundswell.web import ack, auth, incidents, search

    if cfg.secret_key is None:
        raise ConsoleError("GROUNDSWELL_SECRET_KEY is not set: the console signs sessions and acknowledge links "
                           "with it; set it in the environment (e.g. `export GROUNDSWELL_SECRET_KEY=$(openssl rand "
                           "-hex 32)`), the same for `groundswell run` so emailed links verify")
    app = Flask(__name__)
    https = (cfg.alerting.console_url or "").startswith("https://")
    lifetime = timedelta(hours=cfg.web.session_hours)
    app.config.update(
        SECRET_KEY=cfg.secret_key.get_secret_value(),
        SESSION_COOKIE_NAME="groundswell_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",  # Strict would drop the session on a click from the webmail into the console
        SESSION_COOKIE_SECURE=https,
        PERMANENT_SESSION_LIFETIME=lifetime,
        WTF_CSRF_TIME_LIMIT=int(lifetime.total_seconds()),
        WTF_CSRF_SSL_STRICT=https,
        MAX_CONTENT_LENGTH=64 * 1024,  # forms only: a note, a sign-in
        GS_CONFIG=cfg,
        GS_WEB=cfg.web,
        GS_ES=es or make_client(cfg.elasticsearch, retries=1),
    )
    app.jinja_env.finalize = _shown  # every {{ value }}: crawled text without terminal escapes or bidi controls
    CSRFProtect(app)
    auth.install(app)
    app.register_blueprint(incidents.bp)
    app.register_blueprint(search.bp)
    app.register_blueprint(ack.bp)
    app.after_request(_security_headers)
    zone = cfg.zone

    @app.template_filter("when")
    def when(value: datetime | None, seconds: bool = False) -> str:
        return people_time(value, zone, seconds=seconds)

    @app.template_filter("duration")
    def duration(value: timedelta | None) -> str:
        return people_duration(value)

    @app.template_global("safe_link")
    def safe_link(url: str | None) -> str | None:
        """A crawled URL that may become a link: http(s) only (never javascript: or data:)."""
        return safe_url(url)

    @app.context_processor
    def people() -> dict[str, Any]:
        from groundswell.web.auth import current_user

        return {"user": current_user(), "zone_name": cfg.timezone}

    @app.get("/healthz")
    def health() -> tuple[str, int, dict[str, str]]:
        return "ok\n", 200, {"Content-Type": "text/plain"}

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str, int]:
        return render_template("message.html", title="The form expired",
                               message="This form expired or did not come from this console. Go back, reload "
                                       "the page and try again."), 400

    @app.errorhandler(StoreUnavailable)
    @app.errorhandler(TransportError)
    @app.errorhandler(ApiError)
    def store_error(exc: Exception) -> tuple[str, int]:
        text = str(exc) if isinstance(exc, StoreUnavailable) else describe_error(
            cfg.elasticsearch.effective_url, exc)
        return render_template("message.html", title="Elasticsearch did not answer", message=text), 503

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        return render_template("message.html", title=f"{exc.code} {exc.name}",
                               message=exc.description or ""), exc.code or 500

    return app
