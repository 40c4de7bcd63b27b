"""Fixtures: the real Elasticsearch node (`make test` starts it; a bare `pytest` starts it too), a unique
index prefix per test session so runs can share a cluster, and the CLI runner."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from elasticsearch import Elasticsearch
from hypothesis import HealthCheck, settings

from core.config import Elasticsearch as EsSettings
from groundswell import config as gsconfig
from groundswell import esnode
from groundswell.cli.main import cli
from store import mapping
from store.client import make_client

DATA = Path(__file__).parent / "data"

# The fuzz suite's budget: a fixed number of examples, generated from a fixed seed (derandomize), no deadline (a
# loaded CI machine is slow, not wrong). GROUNDSWELL_FUZZ=deep explores more, by hand.
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("deep", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("deep" if os.environ.get("GROUNDSWELL_FUZZ") == "deep" else "ci")


def delete_prefix(es: Elasticsearch, prefix: str) -> None:
    names = list(es.indices.get(index=f"{prefix}-*", allow_no_indices=True, ignore_unavailable=True).body)
    if names:
        es.indices.delete(index=",".join(names))
    if es.indices.exists_index_template(name=mapping.template_name(prefix)):
        es.indices.delete_index_template(name=mapping.template_name(prefix))


@pytest.fixture(scope="session")
def es_config() -> EsSettings:
    cfg = gsconfig.load(None, env={k: v for k, v in os.environ.items() if k != "GROUNDSWELL_INDEX_PREFIX"})
    es_cfg = cfg.elasticsearch
    if es_cfg.is_local and esnode.health(es_cfg.local.port) is None:
        esnode.start(es_cfg.local)
    return es_cfg


@pytest.fixture(scope="session")
def es(es_config: EsSettings) -> Iterator[Elasticsearch]:
    client = make_client(es_config)
    client.cluster.health(wait_for_status="yellow", timeout="60s")
    yield client
    client.close()


@pytest.fixture
def prefix(es: Elasticsearch) -> Iterator[str]:
    """A fresh index prefix per test: its own template, indices, alias and spool file."""
    name = f"gstest-{uuid.uuid4().hex[:10]}"
    yield name
    delete_prefix(es, name)


class Gs:
    """Runs `groundswell ...` in-process against one prefix."""

    def __init__(self, prefix: str, env: dict[str, str] | None = None):
        self.prefix = prefix
        self.env = {"GROUNDSWELL_INDEX_PREFIX": prefix, **(env or {})}

    def __call__(self, *args: str, input: str | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(cli, list(args), env=self.env, input=input, catch_exceptions=False)


@pytest.fixture
def gs(prefix: str) -> Gs:
    return Gs(prefix)


def write_jsonl(path: Path, rows: list[dict[str, Any] | str]) -> Path:
    import json

    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return path


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis (tests/redis_server.py): started for the session, stopped after it."""
    from tests.redis_server import redis_server

    with redis_server() as url:
        yield url
