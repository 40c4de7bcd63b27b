"""Reddit's API access: an OAuth2 token for the app, an honest User-Agent, and the API host.

References: the Reddit wiki pages `OAuth2` (reddit-archive/reddit wiki: "Application Only OAuth" — POST
https://www.reddit.com/api/v1/access_token with HTTP basic auth `client_id:client_secret` and
`grant_type=client_credentials`; a "script" app may use `grant_type=password` with its owner's username and password;
the answer is `{"access_token", "token_type": "bearer", "expires_in", "scope"}`; then requests go to
https://oauth.reddit.com with `Authorization: bearer TOKEN`) and `API` (rules: a User-Agent of the form
`<platform>:<app ID>:<version string> (by /u/<reddit username>)`, at most 60 requests a minute, and the
`X-Ratelimit-Used/Remaining/Reset` headers, honoured by crawlers.ratelimit). Unauthenticated `www.reddit.com/*.json`
now answers 403 "Blocked" (glanceapp/glance#1016, D4Vinci/Scrapling#402).

Secrets (the client secret, the password, the token) are only ever put into request headers and bodies: never
into a log line, a stat or a run record.
"""

from __future__ import annotations

import base64
import os
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from core import config as gsconfig

TOKEN_ROOT = "https://www.reddit.com"
API_ROOT = "https://oauth.reddit.com"
TOKEN_PATH = "/api/v1/access_token"
APP_NAME = "groundswell"
MISSING = ("no Reddit app credentials: set GROUNDSWELL_REDDIT_CLIENT_ID and GROUNDSWELL_REDDIT_CLIENT_SECRET "
           "(or platforms.reddit in the configuration); create an app at https://www.reddit.com/prefs/apps")


@dataclass(frozen=True)
class App:
    """A Reddit app's credentials; `repr` never shows the secrets."""

    client_id: str
    client_secret: str
    username: str | None = None
    password: str | None = None
    user_agent: str | None = None

    def __repr__(self) -> str:
        return f"App(client_id={self.client_id!r}, username={self.username!r})"


class TokenRefused(ValueError):
    """The token endpoint answered without a bearer token."""


def app_from_config(cfg: gsconfig.Config) -> App | None:
    """The app of `platforms.reddit` (the environment's GROUNDSWELL_REDDIT_* already merged in); None without an id
    and a secret."""
    reddit = cfg.platforms.reddit
    secret = reddit.client_secret.get_secret_value() if reddit.client_secret else ""
    if not reddit.client_id or not secret:
        return None
    password = reddit.password.get_secret_value() if reddit.password else None
    return App(reddit.client_id, secret, reddit.username, password, reddit.user_agent)


def version() -> str:
    try:
        return metadata.version("groundswell")
    except metadata.PackageNotFoundError:
        return "0"


def user_agent(app: App) -> str:
    """`<platform>:<app ID>:<version> (by /u/<username>)`, as the API rules ask; a configured one wins."""
    if app.user_agent:
        return app.user_agent
    owner = app.username or os.environ.get("GROUNDSWELL_REDDIT_OWNER") or APP_NAME
    return f"{sys.platform}:{APP_NAME}:v{version()} (by /u/{owner})"


def basic_auth(app: App) -> str:
    """The token request's `Authorization` value (HTTP basic, client id and secret)."""
    return "Basic " + base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode("ascii")


def token_form(app: App) -> dict[str, str]:
    """The token request's form: password grant for a script app with its owner's login, else application-only."""
    if app.username and app.password:
        return {"grant_type": "password", "username": app.username, "password": app.password}
    return {"grant_type": "client_credentials"}


def parse_token(payload: Any) -> tuple[str, float]:
    """(access token, seconds it lives) from the token endpoint's answer; TokenRefused naming Reddit's error."""
    if not isinstance(payload, dict):
        raise TokenRefused("the token endpoint did not answer with a JSON object")
    token = payload.get("access_token")
    if not isinstance(token, str) or not token or str(payload.get("token_type", "")).lower() != "bearer":
        raise TokenRefused(f"no bearer token (error {payload.get('error')!r})")
    expires = payload.get("expires_in")
    return token, float(expires) if isinstance(expires, int | float) else 3600.0


def bearer(token: str) -> str:
    return f"bearer {token}"
