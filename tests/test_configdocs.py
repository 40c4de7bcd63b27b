"""docs/configuration.md is generated from the models and stays so: every key described, every GROUNDSWELL_ name the
code reads documented, every variable of ENV_KEYS really setting its key; `config check` masks every secret."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from core.config import ENV_KEYS
from groundswell import config as gsconfig
from groundswell.cli.main import cli
from groundswell.configdocs import OTHER_ENV, SCRAPY_SETTINGS, render, undocumented

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs" / "configuration.md"
CODE = ["core", "store", "crawlers", "pipelines", "alerts", "kibana", "sites", "groundswell", "demo", "bench"]


def test_committed_reference_is_current() -> None:
    assert DOCS.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is stale: run `groundswell config docs --out docs/configuration.md`")


def test_every_key_is_described() -> None:
    assert undocumented() == []


def names_in_code() -> set[str]:
    found: set[str] = set()
    files = [p for d in CODE for p in (ROOT / d).rglob("*.py")] + [ROOT / "Makefile"]
    for path in files:
        found |= set(re.findall(r"GROUNDSWELL_[A-Z0-9_]*", path.read_text(encoding="utf-8")))
    return found


def test_every_variable_the_code_reads_is_documented() -> None:
    documented = set(ENV_KEYS) | set(OTHER_ENV) | set(SCRAPY_SETTINGS)
    prefixes = {name.split("<")[0] for name in documented if "<" in name}
    for name in names_in_code():
        if name.endswith("_"):  # a prefix the code completes (GROUNDSWELL_COOKIES_, GROUNDSWELL_REDDIT_)
            assert any(d.startswith(name) for d in documented), name
        else:
            assert name in documented or any(name.startswith(p) for p in prefixes), name
    text = DOCS.read_text(encoding="utf-8")
    for name in documented:
        assert f"`{name}`" in text, name


SAMPLES = {"GROUNDSWELL_ES_VERIFY_CERTS": ("false", False), "GROUNDSWELL_SMTP_PORT": ("2525", 2525),
           "GROUNDSWELL_ES_PORT": ("9400", 9400), "GROUNDSWELL_ALERT_TO": ("a@example.com, b@example.com",
                                                                          ("a@example.com", "b@example.com")),
           "GROUNDSWELL_ES_URL": ("https://es.example.com:9243", "https://es.example.com:9243"),
           "GROUNDSWELL_KIBANA_URL": ("http://kibana.example:5601", "http://kibana.example:5601"),
           "GROUNDSWELL_CONSOLE_URL": ("https://gs.example.com", "https://gs.example.com"),
           "GROUNDSWELL_INDEX_PREFIX": ("other", "other"), "GROUNDSWELL_ES_VERSION": ("8.19.20", "8.19.20"),
           "GROUNDSWELL_SECRET_KEY": ("k" * 40, "k" * 40), "GROUNDSWELL_ES_NODES": ("3", 3),
           "GROUNDSWELL_REDIS_URL": ("redis://10.0.0.5:6379/0", "redis://10.0.0.5:6379/0")}


@pytest.mark.parametrize("var", sorted(ENV_KEYS))
def test_each_variable_sets_its_key(var: str) -> None:
    raw, expected = SAMPLES.get(var, ("sample-value-1", "sample-value-1"))
    cfg = gsconfig.load(None, env={var: raw})
    value: Any = cfg
    for part in ENV_KEYS[var].split("."):
        value = getattr(value, part)
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    assert value == expected, (var, value)


def test_config_check_shows_what_is_in_effect_with_secrets_masked(tmp_path: Path) -> None:
    cfg = tmp_path / "g.yaml"
    cfg.write_text("timezone: Asia/Shanghai\naccounts: {weibo: ['SUB=cookie-value-123']}\n"
                   "smtp: {password: smtp-secret-9}\n", encoding="utf-8")
    env = {"GROUNDSWELL_ES_URL": "https://elastic:es-secret-7@es.example.com:9243",
           "GROUNDSWELL_ES_API_KEY": "api-secret-8", "GROUNDSWELL_REDDIT_CLIENT_SECRET": "reddit-secret-6",
           "GROUNDSWELL_SECRET_KEY": "s" * 40, "GROUNDSWELL_CONFIG": None}
    result = CliRunner().invoke(cli, ["config", "check", str(cfg), "--json"], env=env)
    assert result.exit_code == 0, result.output
    for secret in ("es-secret-7", "api-secret-8", "reddit-secret-6", "cookie-value-123", "smtp-secret-9", "s" * 40):
        assert secret not in result.output
    shown = json.loads(result.output)
    assert shown["valid"] and shown["file"] == str(cfg) and shown["secret_key"] == "set"
    conf = shown["configuration"]
    assert conf["timezone"] == "Asia/Shanghai" and conf["elasticsearch"]["url"] == "https://elastic:***@es.example.com:9243"
    assert [r["name"] for r in conf["rules"]][:2] == ["viral-spread", "negative-surge"]  # the shipped rules in effect
    plain = CliRunner().invoke(cli, ["config", "check", str(cfg)], env=env)
    assert plain.exit_code == 0 and "timezone: Asia/Shanghai" in plain.output and "es-secret-7" not in plain.output


def test_config_check_of_a_bad_file_names_key_and_value(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("smtp: {port: seventy}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check", str(bad)])
    assert result.exit_code == 2 and f"{bad}: smtp.port" in result.output and "seventy" in result.output
    missing = CliRunner().invoke(cli, ["config", "check", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "not found" in missing.output


def test_config_docs_check_finds_a_stale_file(tmp_path: Path) -> None:
    target = tmp_path / "configuration.md"
    assert CliRunner().invoke(cli, ["config", "docs", "--out", str(target)]).exit_code == 0
    assert CliRunner().invoke(cli, ["config", "docs", "--check", "--out", str(target)]).exit_code == 0
    target.write_text(target.read_text(encoding="utf-8").replace("IANA", "Olson"), encoding="utf-8")
    stale = CliRunner().invoke(cli, ["config", "docs", "--check", "--out", str(target)])
    assert stale.exit_code == 1 and "stale" in stale.output
