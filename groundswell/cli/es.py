"""`groundswell es start|status|stop`: the local Elasticsearch node, or the status of a configured cluster."""

from __future__ import annotations

import click

from core import paths
from core.config import LocalNode
from core.exits import ExitStatus
from groundswell import esnode
from groundswell.cli.common import emit_json, exit_statuses, fail, load_config


@click.group()
def es() -> None:
    """Manage the local Elasticsearch node (or check the cluster GROUNDSWELL_ES_URL points at)."""


def _local_only(ctx: click.Context, action: str) -> None:
    cfg = load_config(ctx)
    if not cfg.elasticsearch.is_local:
        fail(
            f"elasticsearch.url is set ({cfg.elasticsearch.display_url}): `es {action}` manages only the local node; "
            "unset GROUNDSWELL_ES_URL to use it",
            code=ExitStatus.USAGE,
        )


def _local_node(ctx: click.Context, nodes: int | None) -> LocalNode:
    node = load_config(ctx).elasticsearch.local
    return node if nodes is None else node.model_copy(update={"nodes": nodes})


NODES = click.option("--nodes", type=click.IntRange(1, 5), default=None,
                     help="Nodes of the local cluster (default: elasticsearch.local.nodes, or GROUNDSWELL_ES_NODES).")


@exit_statuses(PARTIAL="the node could not be fetched or started (the message says why)",
               USAGE="GROUNDSWELL_ES_URL is set: there is no local node to start")
@es.command()
@NODES
@click.option("--timeout", default=180.0, show_default=True, help="Seconds to wait for a healthy cluster.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: the outcome, URL and folders.")
@click.pass_context
def start(ctx: click.Context, nodes: int | None, timeout: float, as_json: bool) -> None:
    """Fetch (once), start and wait for the local node, or a local cluster of --nodes nodes on consecutive
    loopback ports; a no-op when it already runs."""
    _local_only(ctx, "start")
    node = _local_node(ctx, nodes)
    try:
        outcome = esnode.start(node, timeout=timeout, log=lambda m: None if as_json else click.echo(m, err=True))
    except esnode.NodeError as exc:
        fail(str(exc))
    lays = esnode.layouts(node)
    urls = [f"http://127.0.0.1:{lay.http_port}" for lay in lays]
    if as_json:
        emit_json({"outcome": outcome, "url": urls[0], "urls": urls, "nodes": node.nodes,
                   "data": [str(lay.data_dir) for lay in lays], "logs": [str(lay.logs_dir) for lay in lays]})
        return
    if node.nodes == 1:
        click.echo(f"elasticsearch {outcome}: {urls[0]} (data {lays[0].data_dir}, logs {lays[0].logs_dir})")
        return
    click.echo(f"elasticsearch cluster of {node.nodes} nodes {outcome}: {', '.join(urls)}")
    for lay in lays:
        click.echo(f"  {lay.name}: data {lay.data_dir}, logs {lay.logs_dir}")
    if load_config(ctx).elasticsearch.local.nodes != node.nodes:
        click.echo(f"set elasticsearch.local.nodes: {node.nodes} (or GROUNDSWELL_ES_NODES={node.nodes}) so that "
                   "every command knows all the nodes and fails over between them", err=True)


@exit_statuses(USAGE="GROUNDSWELL_ES_URL is set: there is no local node to stop")
@es.command()
@NODES
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait before killing it.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: the outcome.")
@click.pass_context
def stop(ctx: click.Context, nodes: int | None, timeout: float, as_json: bool) -> None:
    """Shut the local node (or every node of the local cluster) down cleanly."""
    _local_only(ctx, "stop")
    outcome = esnode.stop(_local_node(ctx, nodes), timeout=timeout)
    if as_json:
        emit_json({"outcome": outcome})
    else:
        click.echo(f"elasticsearch {outcome}")


@exit_statuses(store=True, OK="the cluster answered, healthy or not")
@es.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Version, health and where things are (the URL's password masked).

    `running` is whether the cluster answered at all: a node that refuses the credentials (401) or a privilege
    (403) is running, and `error` says what it refused (5: the cluster privilege `monitor`)."""
    from store.client import StoreAuthError, StoreForbidden, make_client, server_version, store_error

    cfg = load_config(ctx).elasticsearch
    info: dict[str, object] = {"url": cfg.display_url, "managed": cfg.is_local, "index_prefix": cfg.index_prefix}
    if cfg.is_local:
        lays = esnode.layouts(cfg.local)
        if len(lays) == 1:
            lay = lays[0]
            pid, data, logs = esnode.read_pid(lay), str(lay.data_dir), str(lay.logs_dir)
            if pid is None and (other := esnode.answering(cfg.local.port)) is not None:
                # started with another GROUNDSWELL_HOME: say where that node keeps its data, not where it would be
                pid, data, logs = other.pid, other.data, other.logs
            info.update(pid=pid, data=data, logs=logs)
        else:
            info.update(pids={lay.name: esnode.read_pid(lay) for lay in lays},
                        data=", ".join(str(lay.data_dir) for lay in lays))
        info.update(distribution=str(lays[0].dist), spool=str(paths.spool_dir()))
    client = make_client(cfg, retries=0)
    code = ExitStatus.OK
    try:
        h = client.cluster.health()
        info.update(running=True, version=server_version(client), health=h["status"], nodes=h["number_of_nodes"],
                    unassigned=h["unassigned_shards"])
    except Exception as exc:  # every failure is reported in the output, classified by store_error
        err = store_error(cfg.effective_url, exc)
        info.update(running=isinstance(err, StoreAuthError | StoreForbidden), error=str(err))
        code = err.status
    finally:
        client.close()
    if as_json:
        emit_json(info)
    else:
        for key, value in info.items():
            if value is not None:
                click.echo(f"{key:>13}: {value}")
    if code != ExitStatus.OK:
        ctx.exit(code)
