"""The configuration of a deployment on several machines, and the commands' answers when it is missing or bad."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from core.config import ConfigError, load
from groundswell.cli.main import cli
from store.client import make_client
from store.fields import index_settings, settings_of


def test_several_node_urls_and_the_local_cluster_are_every_node() -> None:
    cfg = load(None, env={"GROUNDSWELL_ES_URL": "http://a:9200, http://b:9200"})
    assert cfg.elasticsearch.hosts == ["http://a:9200", "http://b:9200"]
    local = load(None, env={"GROUNDSWELL_ES_NODES": "3", "GROUNDSWELL_ES_PORT": "9400"})
    assert local.elasticsearch.hosts == ["http://127.0.0.1:9400", "http://127.0.0.1:9401", "http://127.0.0.1:9402"]


def test_bad_values_name_the_key_and_the_value() -> None:
    with pytest.raises(ConfigError, match=r"GROUNDSWELL_ES_NODES: expected a number of nodes \(got 'three'\)"):
        load(None, env={"GROUNDSWELL_ES_NODES": "three"})
    with pytest.raises(ConfigError, match=r"redis.url: expected redis://"):
        load(None, env={"GROUNDSWELL_REDIS_URL": "localhost:6379"})
    with pytest.raises(ConfigError, match=r"elasticsearch.url: expected http\(s\)://host:port"):
        load(None, env={"GROUNDSWELL_ES_URL": "http://a:9200,b:9200"})


def test_shards_and_replicas_reach_every_index_the_client_creates() -> None:
    assert index_settings() == {"number_of_shards": 1, "auto_expand_replicas": "0-1"}  # as on one machine
    assert index_settings(3, 1) == {"number_of_shards": 3, "number_of_replicas": 1}
    cfg = load(None, env={"GROUNDSWELL_ES_URL": "http://127.0.0.1:1"})
    es = make_client(cfg.elasticsearch.model_copy(update={"shards": 2, "replicas": 1}))
    assert settings_of(es) == settings_of(es.options(request_timeout=1)) == {"number_of_shards": 2,
                                                                             "number_of_replicas": 1}
    es.close()


def test_the_redis_password_is_never_shown() -> None:
    cfg = load(None, env={"GROUNDSWELL_REDIS_URL": "redis://:s3cret@10.0.0.5:6379/0"})
    assert cfg.redis.shown_url == "redis://***@10.0.0.5:6379/0" and "s3cret" not in cfg.redis.shown_url


def test_a_worker_without_redis_says_so_in_one_line() -> None:
    result = CliRunner().invoke(cli, ["worker"], env={"GROUNDSWELL_REDIS_URL": ""})
    assert result.exit_code == 2
    assert result.output.strip() == ("groundswell: no Redis configured: set GROUNDSWELL_REDIS_URL (or redis.url in "
                                     "the configuration)")


def test_a_worker_whose_redis_does_not_answer_says_where(unused_port: int) -> None:
    result = CliRunner().invoke(cli, ["worker"], env={"GROUNDSWELL_REDIS_URL": f"redis://:pw@127.0.0.1:{unused_port}/0"})
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.startswith(f"groundswell: Redis at redis://***@127.0.0.1:{unused_port}/0 is unreachable")
    assert "pw" not in line


@pytest.fixture
def unused_port() -> int:
    from tests.redis_server import free_port

    return free_port()
