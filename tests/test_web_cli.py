"""`groundswell web` and its helper from the command line: the password hash, a clear refusal without a secret
key, and the trusted proxy header honoured only from the configured proxies (real server, plain HTTP)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from elasticsearch import Elasticsearch

from tests.conftest import Gs
from tests.smtp_sink import Sink, free_port, running_sink
from tests.web_helpers import Setup, running_console


def test_hash_password_reads_stdin_and_prints_an_argon2_hash(gs: Gs) -> None:
    result = gs("web", "hash-password", input="s3cret-enough\n")
    assert result.exit_code == 0, result.output
    digest = result.output.strip()
    assert digest.startswith("$argon2id$") and "s3cret-enough" not in result.output
    assert PasswordHasher().verify(digest, "s3cret-enough")
    short = gs("web", "hash-password", input="short\n")
    assert short.exit_code == 2 and "at least 8 characters" in short.output


def test_web_without_a_secret_key_is_one_clear_line(gs: Gs, tmp_path: Path) -> None:
    result = gs("web", "--port", "0")
    assert result.exit_code == 2
    assert "GROUNDSWELL_SECRET_KEY is not set" in result.output and "Traceback" not in result.output
    cfg = tmp_path / "gs.yaml"
    cfg.write_text(f"web: {{enabled: true, port: {free_port()}}}\n", encoding="utf-8")
    run = gs("--config", str(cfg), "run", "--for", "1")
    assert run.exit_code == 2 and "web.enabled: GROUNDSWELL_SECRET_KEY is not set" in run.output


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def status_of(url: str, headers: dict[str, str]) -> int:
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.fixture
def sink() -> Iterator[Sink]:
    with running_sink() as s:
        yield s


@pytest.mark.es
@pytest.mark.parametrize(("proxies", "trusted"), [("[127.0.0.1]", True), ("[10.9.9.9]", False)])
def test_trusted_header_only_from_the_configured_proxies(es: Elasticsearch, prefix: str, tmp_path: Path, sink: Sink,
                                                         proxies: str, trusted: bool) -> None:
    extra = f"  trusted_header: X-Remote-User\n  trusted_proxies: {proxies}\n"
    with running_console(es, prefix, tmp_path, sink, extra=extra) as setup:
        s: Setup = setup
        assert status_of(f"{s.url}/incidents", {"X-Remote-User": "lin@example.com"}) == (200 if trusted else 302)
        assert status_of(f"{s.url}/incidents", {"X-Remote-User": "nobody"}) == 302
        assert status_of(f"{s.url}/incidents", {}) == 302
