"""The local Elasticsearch that `groundswell es start|status|stop` manages: one node, or a cluster of a few.

A cluster (`elasticsearch.local.nodes: 3`, or `es start --nodes 3`) runs the same distribution on consecutive
loopback ports from `local.port` (HTTP) and `local.port + 100` (transport); the nodes find each other through
`discovery.seed_hosts`, bootstrap with `cluster.initial_master_nodes`, and each keeps its own data folder, so that
killing one shows what a replicated cluster does when a machine dies. Its folders are apart from the single
node's: a single-node cluster cannot become a member of a larger one.

Elastic publishes a runnable node as the integ-test-zip on Maven Central; we fetch it with `mvn
dependency:copy`, unpack it once into the cache, and run it with a Java found on the machine. That zip has
core modules only (no analysis-common, ingest pipelines, painless or reindex): the index design relies on
none of them. Elasticsearch refuses to run as root, so as root the node runs as a system user.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import paths
from core.config import LocalNode

ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
NODE_USER = "groundswell"
JVM_DIRS = (Path("/usr/lib/jvm"), Path("/opt/java"), Path("/usr/local/lib/jvm"))


class NodeError(Exception):
    """The local node could not be fetched, started or stopped; the message says why and where to look."""


@dataclass(frozen=True)
class Java:
    home: Path
    major: int


@dataclass(frozen=True)
class NodeLayout:
    version: str
    dist: Path
    root: Path
    name: str = "groundswell-local"
    http_port: int = 9200
    transport_port: int = 9300

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def pid_file(self) -> Path:
        return self.root / "elasticsearch.pid"

    @property
    def stdout_file(self) -> Path:
        return self.logs_dir / "startup.out"


def layout(node: LocalNode, index: int = 0) -> NodeLayout:
    """Where node `index` (0 for a single node) of the local cluster keeps its configuration, data and logs."""
    major = node.version.split(".")[0]
    dist = paths.cache() / f"elasticsearch-{node.version}"
    if node.nodes == 1:
        # data is per major: an 8.x node cannot read what a 9.x node wrote
        return NodeLayout(node.version, dist, paths.home() / f"es{major}-{node.port}", "groundswell-local",
                          node.port, node.port + 100)
    return NodeLayout(
        node.version, dist, paths.home() / f"es{major}-{node.port}-cluster{node.nodes}" / f"node{index}",
        f"groundswell-local-{index}", node.port + index, node.port + 100 + index,
    )


def layouts(node: LocalNode) -> list[NodeLayout]:
    return [layout(node, i) for i in range(node.nodes)]


# --- Java --------------------------------------------------------------------------------------------


def _java_major(java_home: Path) -> int | None:
    release = java_home / "release"
    if release.is_file():
        m = re.search(r'JAVA_VERSION="(\d+)', release.read_text(errors="replace"))
        if m:
            return int(m.group(1))
    exe = java_home / "bin" / "java"
    if not exe.exists():
        return None
    try:
        out = subprocess.run([str(exe), "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)', out)
    return int(m.group(1)) if m else None


def find_javas() -> list[Java]:
    """Every JDK we can see: ES_JAVA_HOME, JAVA_HOME, the usual JVM folders and `java` on PATH."""
    candidates: list[Path] = []
    for var in ("ES_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            candidates.append(Path(os.environ[var]))
    for d in JVM_DIRS:
        if d.is_dir():
            candidates.extend(sorted(p for p in d.iterdir() if p.is_dir() and not p.is_symlink()))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent.parent)
    seen: set[Path] = set()
    found: list[Java] = []
    for c in candidates:
        real = c.resolve()
        if real in seen:
            continue
        seen.add(real)
        major = _java_major(real)
        if major is not None and (real / "bin" / "java").exists():
            found.append(Java(real, major))
    return found


def pick_java(es_version: str, javas: list[Java]) -> Java:
    """ES 9 needs Java 21+. ES 8 runs on 17+; prefer a JDK below 24, where the security manager still exists."""
    es_major = int(es_version.split(".")[0])
    if es_major >= 9:
        usable = [j for j in javas if j.major >= 21]
        if not usable:
            raise NodeError(
                f"Elasticsearch {es_version} needs Java 21 or newer; found "
                f"{', '.join(f'{j.major} ({j.home})' for j in javas) or 'no Java'}. "
                "Install a newer JDK or set GROUNDSWELL_ES_VERSION to an 8.x release."
            )
        return max(usable, key=lambda j: j.major)
    usable = [j for j in javas if 17 <= j.major < 24] or [j for j in javas if j.major >= 17]
    if not usable:
        raise NodeError(f"Elasticsearch {es_version} needs Java 17 or newer; none found (install openjdk-17-jdk)")
    return max(usable, key=lambda j: j.major)


# --- download ----------------------------------------------------------------------------------------


def _extract(zip_path: Path, dest_parent: Path, version: str) -> Path:
    """Unpack keeping the executable bits (zipfile drops them), atomically via a temporary folder."""
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest_parent))
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for info in zf.infolist():
                target = zf.extract(info, tmp)
                mode = (info.external_attr >> 16) & 0o777
                if mode:
                    os.chmod(target, mode)
        inner = tmp / f"elasticsearch-{version}"
        if not inner.is_dir():
            raise NodeError(f"{zip_path}: expected a folder elasticsearch-{version} inside the zip")
        final = dest_parent / f"elasticsearch-{version}"
        inner.rename(final)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_distribution(lay: NodeLayout, log: Callable[[str], None] = print) -> Path:
    """Fetch and unpack the integ-test-zip once; later calls return the cached folder."""
    if (lay.dist / "bin" / "elasticsearch").exists():
        return lay.dist
    if shutil.which("mvn") is None:
        raise NodeError(
            "Maven (mvn) is needed to fetch Elasticsearch from Maven Central; install it (apt-get install maven)"
        )
    cache = lay.dist.parent
    cache.mkdir(parents=True, exist_ok=True)
    downloads = cache / "downloads"
    downloads.mkdir(exist_ok=True)
    zip_path = downloads / f"elasticsearch-{lay.version}.zip"
    if not zip_path.exists():
        artifact = ARTIFACT.format(version=lay.version)
        log(f"fetching {artifact} with Maven (about 100 MB)")
        proc = subprocess.run(
            ["mvn", "-B", "-q", "-U", "dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={downloads}"],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not zip_path.exists():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-6:])
            raise NodeError(f"mvn could not fetch {artifact}:\n{tail}")
    log(f"unpacking {zip_path.name} into {cache}")
    try:
        return _extract(zip_path, cache, lay.version)
    except zipfile.BadZipFile as exc:
        zip_path.unlink(missing_ok=True)
        raise NodeError(f"{zip_path}: corrupt download ({exc}); removed it, run again to fetch it anew") from None


# --- running -----------------------------------------------------------------------------------------


def _ensure_node_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(NODE_USER)
    except KeyError:
        pass
    proc = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", NODE_USER],
        capture_output=True,
        text=True,
    )
    if proc.returncode not in (0, 9):  # 9: exists (a race with another start)
        raise NodeError(f"Elasticsearch refuses to run as root and useradd {NODE_USER} failed: {proc.stderr.strip()}")
    return pwd.getpwnam(NODE_USER)


def _discovery(lay: NodeLayout, node: LocalNode) -> str:
    if node.nodes == 1:
        return "discovery.type: single-node\n"
    peers = [layout(node, i) for i in range(node.nodes)]
    return (
        f"discovery.seed_hosts: [{', '.join(f'127.0.0.1:{p.transport_port}' for p in peers)}]\n"
        f"cluster.initial_master_nodes: [{', '.join(p.name for p in peers)}]\n"
    )


def _write_config(lay: NodeLayout, node: LocalNode) -> None:
    lay.config_dir.mkdir(parents=True, exist_ok=True)
    for name in ("jvm.options", "log4j2.properties"):
        shutil.copy2(lay.dist / "config" / name, lay.config_dir / name)
    (lay.config_dir / "jvm.options.d").mkdir(exist_ok=True)
    (lay.config_dir / "jvm.options.d" / "groundswell-heap.options").write_text(f"-Xms{node.heap}\n-Xmx{node.heap}\n")
    (lay.config_dir / "elasticsearch.yml").write_text(
        "# written by `groundswell es start`; edit groundswell.yaml (elasticsearch.local) instead\n"
        "cluster.name: groundswell-local\n"
        f"node.name: {lay.name}\n"
        + _discovery(lay, node)
        + "network.host: 127.0.0.1\n"
        f"http.port: {lay.http_port}\n"
        f"transport.port: {lay.transport_port}\n"
        f"path.data: {lay.data_dir}\n"
        f"path.logs: {lay.logs_dir}\n"
        "xpack.security.enabled: false\n"
        "action.destructive_requires_name: true\n"
    )
    lay.data_dir.mkdir(parents=True, exist_ok=True)
    lay.logs_dir.mkdir(parents=True, exist_ok=True)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def _get_json(url: str, timeout: float = 2.0) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            data = json.loads(resp.read().decode())
            return data if isinstance(data, dict) else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def health(port: int) -> dict[str, object] | None:
    return _get_json(f"http://127.0.0.1:{port}/_cluster/health")


def node_info(port: int) -> dict[str, object] | None:
    """Version and JVM of the local node (the integ-test-zip has no `GET /` handler)."""
    data = _get_json(
        f"http://127.0.0.1:{port}/_nodes/_local/jvm?filter_path=cluster_name,nodes.*.version,nodes.*.jvm.version"
    )
    if not data or not isinstance(data.get("nodes"), dict):
        return None
    nodes = data["nodes"]
    assert isinstance(nodes, dict)
    first: dict[str, Any] = next(iter(nodes.values()), {})
    return {
        "cluster_name": data.get("cluster_name"),
        "version": first.get("version"),
        "java": (first.get("jvm") or {}).get("version"),
    }


@dataclass(frozen=True)
class Running:
    """The local node that answers on a port, as it describes itself: its process and folders. Found this way
    when its pid file is elsewhere (it was started with another GROUNDSWELL_HOME)."""

    pid: int
    data: str
    logs: str

    @property
    def root(self) -> Path:
        return Path(self.data).parent


def answering(port: int) -> Running | None:
    """The Groundswell node answering on 127.0.0.1:port, if it is one (cluster `groundswell-local`) and its
    process is an Elasticsearch on this machine; None otherwise (another cluster, a node elsewhere)."""
    data = _get_json(f"http://127.0.0.1:{port}/_nodes/_local/process,settings?filter_path=cluster_name,"
                     "nodes.*.process.id,nodes.*.settings.path.data,nodes.*.settings.path.logs")
    if not data or data.get("cluster_name") != "groundswell-local" or not isinstance(data.get("nodes"), dict):
        return None
    nodes: dict[str, Any] = data["nodes"]  # type: ignore[assignment]
    node: dict[str, Any] = next(iter(nodes.values()), {})
    pid = (node.get("process") or {}).get("id")
    paths_ = (node.get("settings") or {}).get("path") or {}
    if not isinstance(pid, int) or not _is_elasticsearch(pid):
        return None
    data_path = paths_.get("data")
    data_dir = data_path[0] if isinstance(data_path, list) and data_path else data_path
    return Running(pid=pid, data=str(data_dir or ""), logs=str(paths_.get("logs") or ""))


def _is_elasticsearch(pid: int) -> bool:
    """Whether `pid` is an Elasticsearch process here (a pid from another machine's node would name anything)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"org.elasticsearch" in cmdline or b"elasticsearch" in cmdline


def read_pid(lay: NodeLayout) -> int | None:
    try:
        pid = int(lay.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def _log_tail(lay: NodeLayout, lines: int = 15) -> str:
    chunks = []
    for f in (lay.stdout_file, lay.logs_dir / "groundswell-local.log"):
        if f.exists():
            text = f.read_text(errors="replace").strip().splitlines()
            errors = [line for line in text if "ERROR" in line or "Exception" in line]
            chunks.append(f"--- {f} ---\n" + "\n".join((errors or text)[-lines:]))
    return "\n".join(chunks)


def _launch(lay: NodeLayout, node: LocalNode, java: Java, log: Callable[[str], None]) -> None:
    """Start one node's process (daemonized, as the node user when we are root)."""
    dist = ensure_distribution(lay, log)
    _write_config(lay, node)
    env = dict(os.environ)
    env.update(ES_PATH_CONF=str(lay.config_dir), ES_JAVA_HOME=str(java.home), ES_TMPDIR=str(lay.root / "tmp"))
    env.pop("JAVA_HOME", None)
    env.pop("ES_JAVA_OPTS", None)
    (lay.root / "tmp").mkdir(exist_ok=True)
    cmd = [str(dist / "bin" / "elasticsearch"), "-d", "-p", str(lay.pid_file)]
    if os.geteuid() == 0:
        user = _ensure_node_user()
        _chown_tree(lay.root, user.pw_uid, user.pw_gid)
        cmd = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", *cmd]
    log(f"starting Elasticsearch {node.version} ({lay.name}) on 127.0.0.1:{lay.http_port} with Java {java.major} "
        f"({java.home})")
    with open(lay.stdout_file, "w") as out:
        # its own session: the node outlives whatever started it (a test run, a killed terminal's process group)
        proc = subprocess.run(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    if proc.returncode != 0:
        raise NodeError(f"Elasticsearch ({lay.name}) exited with code {proc.returncode} while starting\n"
                        f"{_log_tail(lay)}")


def _formed(h: dict[str, object] | None, nodes: int) -> bool:
    count = h.get("number_of_nodes") if h else None
    return h is not None and h.get("status") in ("yellow", "green") and isinstance(count, int) and count >= nodes


def start(node: LocalNode, timeout: float = 180.0, log: Callable[[str], None] = print) -> str:
    """Start the node (or every node of the local cluster) unless it already answers; wait until the cluster has
    all its nodes and is yellow or green. Returns what was done."""
    lays = layouts(node)
    h = health(node.port)
    if h is not None and read_pid(lays[0]) is None:
        info = node_info(node.port) or {}
        if info.get("cluster_name") != "groundswell-local":
            raise NodeError(
                f"port {node.port} is taken by another Elasticsearch ({info.get('cluster_name')}); "
                "point GROUNDSWELL_ES_URL at it, or set GROUNDSWELL_ES_PORT for a local node"
            )
    if _formed(h, node.nodes):
        return "already running"
    todo = []
    for lay in lays:
        if health(lay.http_port) is not None:
            continue
        if read_pid(lay) is not None:
            log(f"{lay.name}: a node process exists but does not answer yet; waiting for it")
            continue
        todo.append(lay)
    if todo:
        java = pick_java(node.version, find_javas())
        ensure_distribution(todo[0], log)
        # together: each start waits for its node to be up, and a cluster's first node waits for its peers
        with ThreadPoolExecutor(len(todo)) as pool:
            for done in [pool.submit(_launch, lay, node, java, log) for lay in todo]:
                done.result()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _formed(health(node.port), node.nodes):
            return "started"
        for lay in lays:
            if read_pid(lay) is None and not lay.pid_file.exists():
                raise NodeError(f"Elasticsearch ({lay.name}) died while starting\n{_log_tail(lay)}")
        time.sleep(0.5)
    tails = "\n".join(_log_tail(lay) for lay in lays)
    raise NodeError(f"Elasticsearch did not become healthy with {node.nodes} node(s) within {timeout:.0f}s\n{tails}")


def _stop_one(lay: NodeLayout, timeout: float) -> str:
    """SIGTERM (a clean shutdown flushes and closes shards), then SIGKILL if it hangs. The node is the one of this
    GROUNDSWELL_HOME, else the Groundswell node that answers on its port (started with another home)."""
    pid = read_pid(lay)
    pid_files = [lay.pid_file]
    other = ""
    if pid is None:
        found = answering(lay.http_port)
        if found is None:
            lay.pid_file.unlink(missing_ok=True)
            return "not running"
        pid, other = found.pid, f" (the node of {found.root}, started with another GROUNDSWELL_HOME)"
        pid_files.append(found.root / lay.pid_file.name)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    outcome = f"killed (no clean shutdown within {timeout:.0f}s)"
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            outcome = "stopped"
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
    for f in pid_files:
        f.unlink(missing_ok=True)
    return outcome + other


def stop(node: LocalNode, timeout: float = 60.0) -> str:
    """SIGTERM each node (a clean shutdown flushes and closes shards), then SIGKILL if it hangs."""
    outcomes = [_stop_one(lay, timeout) for lay in layouts(node)]
    if len(set(outcomes)) == 1:
        return outcomes[0]
    return ", ".join(f"{lay.name} {o}" for lay, o in zip(layouts(node), outcomes, strict=True))


def kill(lay: NodeLayout) -> int | None:
    """SIGKILL one node, as a machine dying would (for failure tests and benchmarks); its pid, or None."""
    pid = read_pid(lay)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
    return pid
