"""Issue 11, secrets printed: URL passwords and every configured secret are masked in messages and log lines."""

from __future__ import annotations

import logging

import pytest

from core import redact
from groundswell import config as gsconfig


def test_url_keeps_the_user_masks_the_password_and_secret_params() -> None:
    assert redact.url("https://elastic:hunter2hunter2@es.example:9243/x") == "https://elastic:***@es.example:9243/x"
    assert redact.url("http://es.example/?api_key=abcd&q=1") == "http://es.example/?api_key=***&q=1"
    assert redact.url("http://es.example:9200") == "http://es.example:9200"


def test_configured_secrets_are_scrubbed_anywhere() -> None:
    cfg = gsconfig.load(None, env={"GROUNDSWELL_ES_URL": "https://u:urlpass-123@h:1", "GROUNDSWELL_ES_API_KEY":
                                   "key-abcdef", "GROUNDSWELL_SMTP_PASSWORD": "smtp-secret",
                                   "GROUNDSWELL_COOKIES_WEIBO": "SUB=cookie-value-1||SUB=cookie-value-2"})
    assert cfg.elasticsearch.display_url == "https://u:***@h:1"
    text = redact.scrub("urlpass-123 key-abcdef smtp-secret SUB=cookie-value-1; cookie-value-2 Authorization: "
                        "Basic dTpw")
    for secret in ("urlpass-123", "key-abcdef", "smtp-secret", "cookie-value-1", "cookie-value-2", "dTpw"):
        assert secret not in text


def test_log_lines_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    redact.remember("log-secret-value")
    logger = logging.getLogger("gs.redact.test")
    logger.addFilter(redact.ScrubFilter())
    with caplog.at_level(logging.WARNING, logger="gs.redact.test"):
        logger.warning("connecting to %s with %s", "http://a:pw-in-url@h", "log-secret-value")
    assert caplog.records[0].getMessage() == "connecting to http://a:***@h with ***"


def test_config_errors_do_not_echo_secrets() -> None:
    with pytest.raises(gsconfig.ConfigError) as err:
        gsconfig.load(None, env={"GROUNDSWELL_ES_URL": "https://u:pw-oops-1@h:1", "GROUNDSWELL_INDEX_PREFIX": "BAD"})
    assert "pw-oops-1" not in str(err.value)
