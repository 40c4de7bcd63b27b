"""A second Elasticsearch node with security and TLS on, for the tests of credentials, privileges and certificates.

The integ-test-zip ships x-pack security, `elasticsearch-users` and the file realm: the node gets a CA-signed
certificate for 127.0.0.1 (made here with `cryptography`, which Scrapy already needs), users created with
`elasticsearch-users useradd`, and roles from `roles.yml`, one of which lacks `view_index_metadata`. It runs on its
own port and folders, as the node user when we are root (Elasticsearch refuses root), like `groundswell es start`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from base64 import b64encode
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.config import LocalNode
from groundswell import esnode

PASSWORD = "s3cret-Passw0rd"
PREFIX = "gssec"
ROLES = f"""
gs_full:
  cluster: [monitor, manage_index_templates]
  indices:
    - names: ['{PREFIX}-*']
      privileges: [read, write, create_index, view_index_metadata, maintenance, delete_index]
gs_no_metadata:
  cluster: [monitor, manage_index_templates]
  indices:
    - names: ['{PREFIX}-*']
      privileges: [read, write, create_index, maintenance]
gs_nothing:
  cluster: []
"""
USERS = {"admin": "superuser", "writer": "gs_full", "nometa": "gs_no_metadata", "nobody": "gs_nothing"}


@dataclass
class SecuredNode:
    port: int
    home: Path
    ca: Path  # the CA that signed the node's certificate
    other_ca: Path  # a CA that did not

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def env(self, user: str | None = "writer", password: str = PASSWORD, **more: str) -> dict[str, str]:
        """The environment that points every command at this node as `user`."""
        env = {"GROUNDSWELL_ES_URL": self.url, "GROUNDSWELL_ES_CA_CERTS": str(self.ca),
               "GROUNDSWELL_HOME": str(self.home / "gs-home"), "GROUNDSWELL_INDEX_PREFIX": PREFIX}
        if user:
            env.update(GROUNDSWELL_ES_USERNAME=user, GROUNDSWELL_ES_PASSWORD=password)
        env.update(more)
        return env

    def request(self, method: str, path: str, body: object | None = None) -> object:
        """As the superuser, for setting up and cleaning up."""
        ctx = ssl.create_default_context(cafile=str(self.ca))
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        req.add_header("Authorization", "Basic " + b64encode(f"admin:{PASSWORD}".encode()).decode())
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return json.loads(resp.read() or b"null")


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _ca(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def write_certificates(folder: Path) -> tuple[Path, Path]:
    """ca.crt, node.crt/node.key (127.0.0.1 and localhost, signed by ca) and other-ca.crt; returns the two CAs."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _ca("groundswell test CA")
    _other_key, other_cert = _ca("some other CA")
    key = _key()
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    (folder / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    (folder / "other-ca.crt").write_bytes(other_cert.public_bytes(serialization.Encoding.PEM))
    (folder / "node.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "node.key").write_bytes(_pem_key(key))
    return folder / "ca.crt", folder / "other-ca.crt"


def start(port: int, timeout: float = 240.0) -> SecuredNode:
    """Configure and start the node; raise RuntimeError with its log's tail if it does not come up."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} is taken: another secured test node left running?")
    node = LocalNode()
    dist = esnode.ensure_distribution(esnode.layout(node), log=lambda _m: None)
    java = esnode.pick_java(node.version, esnode.find_javas())
    home = Path(tempfile.mkdtemp(prefix="gs-secured-", dir="/tmp"))
    os.chmod(home, 0o755)
    conf, data, logs = home / "config", home / "data", home / "logs"
    for d in (conf, data, logs, home / "tmp", home / "gs-home"):
        d.mkdir()
    for name in ("jvm.options", "log4j2.properties"):
        shutil.copy2(dist / "config" / name, conf / name)
    (conf / "jvm.options.d").mkdir()
    (conf / "jvm.options.d" / "heap.options").write_text("-Xms256m\n-Xmx256m\n")
    ca, other_ca = write_certificates(conf / "certs")
    (conf / "elasticsearch.yml").write_text(
        "cluster.name: groundswell-secured-test\nnode.name: secured\ndiscovery.type: single-node\n"
        f"network.host: 127.0.0.1\nhttp.port: {port}\ntransport.port: {port + 100}\n"
        f"path.data: {data}\npath.logs: {logs}\n"
        "xpack.security.enabled: true\n"
        "xpack.security.http.ssl.enabled: true\n"
        "xpack.security.http.ssl.key: certs/node.key\n"
        "xpack.security.http.ssl.certificate: certs/node.crt\n"
        "xpack.security.http.ssl.certificate_authorities: [certs/ca.crt]\n"
        "xpack.security.authc.realms.file.file1.order: 0\n"
        "xpack.security.authc.realms.native.native1.order: 1\n"
        "action.destructive_requires_name: true\n"
    )
    (conf / "roles.yml").write_text(ROLES)
    for realm_file in ("users", "users_roles"):
        (conf / realm_file).touch()
    env = {**os.environ, "ES_PATH_CONF": str(conf), "ES_JAVA_HOME": str(java.home), "ES_TMPDIR": str(home / "tmp")}
    env.pop("JAVA_HOME", None)
    env.pop("ES_JAVA_OPTS", None)
    for user, role in USERS.items():
        subprocess.run([str(dist / "bin" / "elasticsearch-users"), "useradd", user, "-p", PASSWORD, "-r", role],
                       env=env, check=True, capture_output=True, timeout=120)
    cmd = [str(dist / "bin" / "elasticsearch"), "-d", "-p", str(home / "es.pid")]
    if os.geteuid() == 0:
        user = esnode._ensure_node_user()
        esnode._chown_tree(home, user.pw_uid, user.pw_gid)
        cmd = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", *cmd]
    with open(logs / "startup.out", "w") as out:
        subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                       start_new_session=True, check=False, timeout=120)
    secured = SecuredNode(port, home, ca, other_ca)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(home / "es.pid"):
        try:
            health = secured.request("GET", "/_cluster/health")
            if isinstance(health, dict) and health.get("status") in ("yellow", "green"):
                return secured
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(1)
    tail = "\n".join((logs / "startup.out").read_text(errors="replace").splitlines()[-20:])
    stop(secured)
    raise RuntimeError(f"the secured node did not come up on {port}:\n{tail}")


def _alive(pid_file: Path) -> bool:
    """Until the daemonised node writes its pid it counts as alive; after that, while its process exists."""
    try:
        os.kill(int(pid_file.read_text().strip()), 0)
    except (OSError, ValueError):
        return not pid_file.exists()
    return True


def stop(node: SecuredNode) -> None:
    pid_file = node.home / "es.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        pid = None
    if pid is not None:
        try:
            os.kill(pid, 15)
            for _ in range(120):
                os.kill(pid, 0)
                time.sleep(0.5)
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    shutil.rmtree(node.home, ignore_errors=True)
