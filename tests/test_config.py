"""Configuration: defaults without a file, typed values, errors naming file, key and bad value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from groundswell import config as gsconfig


def load(tmp_path: Path, text: str | None, env: dict[str, str] | None = None) -> gsconfig.Config:
    path = None
    if text is not None:
        path = tmp_path / "groundswell.yaml"
        path.write_text(text, encoding="utf-8")
    return gsconfig.load(str(path) if path else None, env=env or {})


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load(tmp_path, None)
    assert cfg.elasticsearch.index_prefix == "groundswell"
    assert cfg.elasticsearch.is_local and cfg.elasticsearch.effective_url == "http://127.0.0.1:9200"
    assert cfg.brands == () and cfg.smtp.port == 25


def test_full_file_is_typed_and_frozen(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        """
brands:
  - name: 小米
    aliases: [Xiaomi, MI]
    products: [小米14]
    exclusions: [小米粥]
sources:
  - {name: weibo-xiaomi, spider: weibo, keywords: [小米], interval_minutes: 15}
rules:
  - {name: food safety, type: threshold, query: 食品安全, threshold: 1, severity: urgent}
recipients: {urgent: [lead@example.com]}
smtp: {host: mail.example.com, port: 587, security: starttls}
elasticsearch: {index_prefix: acme, local: {version: 8.19.21, heap: 2g}}
""",
    )
    assert cfg.brands[0].aliases == ("Xiaomi", "MI")
    assert cfg.sources[0].interval_minutes == 15
    assert cfg.rules[0].severity == "urgent"
    assert cfg.smtp.security == "starttls"
    assert cfg.elasticsearch.index_prefix == "acme" and cfg.elasticsearch.local.heap == "2g"
    with pytest.raises(ValidationError):
        cfg.brands[0].name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("brands:\n  - name: 小米\n    aliases: 5\n", ["brands[0].aliases", "got 5"]),
        ("smtp:\n  port: seventy\n", ["smtp.port", "'seventy'"]),
        ("elasticsearch:\n  index_prefix: Bad*Prefix\n", ["elasticsearch.index_prefix", "Bad*Prefix"]),
        ("rules:\n  - {name: r, type: sometimes}\n", ["rules[0].type", "'sometimes'"]),
        ("recipients:\n  crisis: [not-an-email]\n", ["recipients.crisis", "not-an-email"]),
        ("brandz: []\n", ["brandz", "Extra inputs are not permitted"]),
        ("elasticsearch:\n  local: {heap: lots}\n", ["elasticsearch.local.heap", "lots"]),
    ],
)
def test_errors_name_file_key_and_value(tmp_path: Path, text: str, expected: list[str]) -> None:
    with pytest.raises(gsconfig.ConfigError) as err:
        load(tmp_path, text)
    message = str(err.value)
    assert str(tmp_path / "groundswell.yaml") in message
    for part in expected:
        assert part in message


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    with pytest.raises(gsconfig.ConfigError, match=r"groundswell.yaml: line 4, column \d+: invalid YAML"):
        load(tmp_path, "brands:\n  - name: a\n    aliases: [b\n  c: d\n")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(gsconfig.ConfigError, match="expected a mapping"):
        load(tmp_path, "- just\n- a list\n")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(gsconfig.ConfigError, match="config file not found"):
        gsconfig.load(str(tmp_path / "nope.yaml"), env={})


def test_env_overrides_secrets_and_endpoints(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        "elasticsearch: {url: 'http://file:9200', index_prefix: fromfile}\nsmtp: {host: filehost}\n",
        env={
            "GROUNDSWELL_ES_URL": "https://es.example.com:9243",
            "GROUNDSWELL_ES_API_KEY": "secret-key",
            "GROUNDSWELL_ES_CA_CERTS": "/etc/ca.pem",
            "GROUNDSWELL_INDEX_PREFIX": "fromenv",
            "GROUNDSWELL_SMTP_HOST": "127.0.0.1",
            "GROUNDSWELL_SMTP_PORT": "8025",
            "GROUNDSWELL_ALERT_TO": "a@example.com, b@example.com",
        },
    )
    assert cfg.elasticsearch.url == "https://es.example.com:9243" and not cfg.elasticsearch.is_local
    assert cfg.elasticsearch.api_key == "secret-key" and cfg.elasticsearch.ca_certs == "/etc/ca.pem"
    assert cfg.elasticsearch.index_prefix == "fromenv"
    assert (cfg.smtp.host, cfg.smtp.port) == ("127.0.0.1", 8025)
    assert cfg.recipients.default == ("a@example.com", "b@example.com")


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(gsconfig.ConfigError, match=r"GROUNDSWELL_SMTP_PORT.*'abc'"):
        load(tmp_path, None, env={"GROUNDSWELL_SMTP_PORT": "abc"})


def test_config_env_var_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text("elasticsearch: {index_prefix: other}\n")
    cfg = gsconfig.load(None, env={"GROUNDSWELL_CONFIG": str(path)})
    assert cfg.elasticsearch.index_prefix == "other" and cfg.path == str(path)


def test_duplicate_rule_or_source_names_are_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("rules:\n  - {name: a, type: crawler_health}\n  - {name: a, type: crawler_health}\n")
    with pytest.raises(gsconfig.ConfigError, match=r"rules\[1\] has the same name as rules\[0\]"):
        gsconfig.load(str(path), env={})
