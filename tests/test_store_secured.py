"""Issue 11, against a real node with security and TLS on (tests/secured_node.py): a wrong password, a missing
privilege, an untrusted certificate and a server that is not Elasticsearch each get their own line and exit
status; nothing is spooled for them; `es status` knows a node that refuses us is running; no secret is shown."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from core.exits import ExitStatus
from groundswell.cli.main import cli
from tests import secured_node
from tests.conftest import write_jsonl

pytestmark = [pytest.mark.es, pytest.mark.slow]

PORT = 9271
ROWS: list[dict[str, object] | str] = [
    {"platform": "weibo", "source_id": f"s{i}", "text": f"小米手机黑屏 {i}",
     "published_at": "2026-11-24T10:00:00+08:00"} for i in range(5)
]


@pytest.fixture(scope="module")
def node() -> Iterator[secured_node.SecuredNode]:
    started = secured_node.start(PORT)
    try:
        yield started
    finally:
        secured_node.stop(started)


def gs(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def one_line(result: Result) -> str:
    """The command's own error line; nothing else (no traceback, no urllib3 retry log) was printed."""
    lines = [line for line in result.output.splitlines() if line.startswith("groundswell: ")]
    assert "Traceback" not in result.output and "urllib3" not in result.output, result.output
    assert len(lines) == 1, result.output
    return lines[0]


def spool_files(env: dict[str, str]) -> list[Path]:
    return sorted((Path(env["GROUNDSWELL_HOME"]) / "spool").glob("*"))


def test_the_readme_privileges_are_enough(node: secured_node.SecuredNode, tmp_path: Path) -> None:
    env = node.env("writer")
    status = gs(env, "es", "status", "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["running"] is True
    src = write_jsonl(tmp_path / "m.jsonl", ROWS)
    assert gs(env, "ingest", str(src)).exit_code == 0
    assert gs(env, "search", "--count", "黑屏").output.strip() == "5"
    assert gs(env, "alerts", "run", "--no-send").exit_code == 0
    assert gs(env, "alerts", "list").exit_code == 0


def test_wrong_password_is_401_exit_4_and_nothing_spooled(node: secured_node.SecuredNode, tmp_path: Path) -> None:
    env = node.env("writer", password="not-the-password")
    src = write_jsonl(tmp_path / "m.jsonl", ROWS)
    ingest = gs(env, "ingest", "--retries", "3", str(src))
    assert ingest.exit_code == ExitStatus.STORE_AUTH
    line = one_line(ingest)
    assert "refused the credentials (401" in line and "not-the-password" not in ingest.output
    assert "nothing spooled" in ingest.output and spool_files(env) == []
    search = gs(env, "search", "黑屏")
    assert search.exit_code == ExitStatus.STORE_AUTH and "401" in one_line(search)
    status = gs(env, "es", "status", "--json")
    assert status.exit_code == ExitStatus.STORE_AUTH
    info = json.loads(status.output)
    assert info["running"] is True and "401" in info["error"]


def test_missing_index_privilege_is_named_exit_5(node: secured_node.SecuredNode, tmp_path: Path) -> None:
    """The role without view_index_metadata can ingest and search, but retention (GET of the monthly indices)
    needs it: the run records the privilege by name."""
    env = node.env("nometa")
    cfg = tmp_path / "g.yaml"
    cfg.write_text("scheduler: {retention_months: 1}\n")
    result = gs(env, "--config", str(cfg), "run", "--once", "--json")
    assert result.exit_code == ExitStatus.PARTIAL, result.output
    runs = [json.loads(line) for line in result.output.splitlines() if line.startswith('{"event": "job_run"')]
    retention = next(r for r in runs if r["kind"] == "retention")
    assert "lacks the index privilege view_index_metadata" in retention["error"]
    assert "Traceback" not in result.output


def test_missing_cluster_privilege_is_named_and_the_node_is_running(node: secured_node.SecuredNode,
                                                                    tmp_path: Path) -> None:
    env = node.env("nobody")
    status = gs(env, "es", "status", "--json")
    assert status.exit_code == ExitStatus.STORE_FORBIDDEN
    info = json.loads(status.output)
    assert info["running"] is True and "lacks the cluster privilege monitor" in info["error"]
    src = write_jsonl(tmp_path / "m.jsonl", ROWS)
    ingest = gs(env, "ingest", str(src))
    assert ingest.exit_code == ExitStatus.STORE_FORBIDDEN
    assert "lacks the cluster privilege manage_index_templates" in one_line(ingest)
    assert spool_files(env) == []
    search = gs(env, "search", "x")
    assert search.exit_code == ExitStatus.STORE_FORBIDDEN and "index privilege read" in one_line(search)


@pytest.mark.parametrize("which", ["none", "other"])
def test_untrusted_certificate_is_a_tls_error_exit_6(node: secured_node.SecuredNode, which: str,
                                                      tmp_path: Path) -> None:
    env = node.env("writer")
    if which == "none":
        env.pop("GROUNDSWELL_ES_CA_CERTS")
    else:
        env["GROUNDSWELL_ES_CA_CERTS"] = str(node.other_ca)
    for args in (("search", "x"), ("alerts", "run", "--no-send"), ("ingest", str(write_jsonl(tmp_path / "m.jsonl",
                                                                                             ROWS)))):
        result = gs(env, *args)
        assert result.exit_code == ExitStatus.STORE_TLS, (args, result.output)
        assert "TLS failed: certificate verify failed" in one_line(result)
    assert spool_files(env) == []


def test_verify_certs_false_works_and_warns_once(node: secured_node.SecuredNode,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    env = node.env("writer", GROUNDSWELL_ES_VERIFY_CERTS="false")
    env.pop("GROUNDSWELL_ES_CA_CERTS")
    result = gs(env, "search", "--count", "x")
    assert result.exit_code == 0, result.output
    assert gs(env, "alerts", "list").exit_code == 0  # more clients, in the same process: still one warning
    warnings = [r for r in caplog.records if "TLS certificate verification is off" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"


def test_password_in_the_url_is_never_shown(node: secured_node.SecuredNode, tmp_path: Path) -> None:
    env = node.env(None)
    env["GROUNDSWELL_ES_URL"] = f"https://writer:{secured_node.PASSWORD}@127.0.0.1:{PORT}"
    status = gs(env, "es", "status", "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["url"] == f"https://writer:***@127.0.0.1:{PORT}"
    ingest = gs(env, "ingest", "--json", str(write_jsonl(tmp_path / "m.jsonl", ROWS)))
    assert json.loads(ingest.output.splitlines()[-1])["url"] == f"https://writer:***@127.0.0.1:{PORT}"
    down = {**env, "GROUNDSWELL_ES_URL": f"https://writer:{secured_node.PASSWORD}@127.0.0.1:9"}
    for args in (("es", "status", "--json"), ("search", "x"), ("ingest", "--retries", "0", "--json",
                                                                str(tmp_path / "m.jsonl"))):
        result = gs(down, *args)
        assert result.exit_code == ExitStatus.STORE_UNAVAILABLE
        assert secured_node.PASSWORD not in result.output and "writer:***@" in result.output


class _Page(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = b"<html><head><title>Welcome</title></head><body><h1>It works</h1>" + b"x" * 5000 + b"</body></html>"
        self.send_response(200 if self.command == "GET" else 405)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = _answer

    def log_message(self, *args: object) -> None:
        pass


def test_a_web_server_that_is_not_elasticsearch_is_one_line_exit_7(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {"GROUNDSWELL_ES_URL": f"http://127.0.0.1:{server.server_address[1]}",
               "GROUNDSWELL_HOME": str(tmp_path), "GROUNDSWELL_INDEX_PREFIX": "gsnotes"}
        src = write_jsonl(tmp_path / "m.jsonl", ROWS)
        for args in (("search", "x"), ("es", "status"), ("ingest", str(src)), ("alerts", "list")):
            result = gs(env, *args)
            assert result.exit_code == ExitStatus.NOT_ELASTICSEARCH, (args, result.output)
            assert "not as Elasticsearch" in result.output and "<html" not in result.output
            assert "It works" not in result.output
        assert spool_files(env) == []
    finally:
        server.shutdown()
