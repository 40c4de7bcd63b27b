"""A real SMTP server on loopback for tests: aiosmtpd on 127.0.0.1, on a free port, keeping every message in
memory (`sink.messages`). Plain, STARTTLS or implicit TLS, with optional AUTH, and a self-signed certificate
made on the fly for the TLS cases.

    from tests.smtp_sink import smtp_sink  # the fixture
    def test_x(smtp_sink): send(msg, smtp_sink.smtp()); assert smtp_sink.messages
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from alerts.email.sink import Received, SinkController, SinkHandler, start_sink
from core.config import Smtp


@dataclass
class Sink:
    handler: SinkHandler
    controller: SinkController

    @property
    def port(self) -> int:
        return int(self.controller.port)

    @property
    def messages(self) -> list[Received]:
        return list(self.handler.messages)

    def smtp(self, **overrides: Any) -> Smtp:
        """The Smtp config that reaches this sink (security none unless overridden)."""
        return Smtp(host="127.0.0.1", port=self.port, sender="groundswell@example.com", timeout_seconds=10,
                    **overrides)


@contextmanager
def running_sink(handler: SinkHandler | None = None, **options: Any) -> Iterator[Sink]:
    """Start a sink (options as alerts.email.sink.start_sink), stop it on exit."""
    handler = handler or SinkHandler()
    controller = start_sink(handler, **options)
    try:
        yield Sink(handler, controller)
    finally:
        controller.stop()


@pytest.fixture
def smtp_sink() -> Iterator[Sink]:
    with running_sink() as sink:
        yield sink


def free_port() -> int:
    """A loopback port nobody listens on (the OS just handed it out and it was closed again)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def password_authenticator(users: dict[str, str]) -> Callable[..., AuthResult]:
    """An aiosmtpd authenticator accepting exactly these user/password pairs (LOGIN and PLAIN)."""

    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = users.get(data.login.decode()) == data.password.decode()
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    return authenticate


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext  # trusts exactly the self-signed certificate


def self_signed_tls(folder: Path) -> Tls:
    """A certificate for 127.0.0.1/localhost, the server context presenting it and a client context trusting it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return Tls(server=server, client=client)
