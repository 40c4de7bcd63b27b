"""Sending through a real SMTP server on loopback (aiosmtpd): plain, STARTTLS + AUTH, implicit TLS, and the
errors a service lead's admin will see, each naming host:port and the reason."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from alerts.email.send import SendError, send
from alerts.email.sink import SinkHandler
from core.config import Smtp
from tests.smtp_sink import Sink, free_port, password_authenticator, running_sink, self_signed_tls, smtp_sink

__all__ = ["smtp_sink"]  # the fixture, used by name below

USERS = {"alerts": "correct horse"}


def message(to: tuple[str, ...] = ("lead@example.com",), subject: str = "hello") -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = "groundswell@example.com"
    msg["To"] = ", ".join(to)
    msg["Message-ID"] = "<test.1@example.com>"
    msg.set_content("body 黑屏\n")
    return msg


def test_plain_smtp_delivers_to_every_recipient(smtp_sink: Sink) -> None:
    send(message(("a@example.com", "b@example.com"), "小米 alert"), smtp_sink.smtp())
    [got] = smtp_sink.messages
    assert got.rcpt_tos == ("a@example.com", "b@example.com")
    assert got.mail_from == "groundswell@example.com"
    assert got.subject == "小米 alert"
    assert "body 黑屏" in got.message.get_content()


def test_nothing_listening_names_host_port_and_reason() -> None:
    port = free_port()
    smtp = Smtp(host="127.0.0.1", port=port)
    with pytest.raises(SendError) as err:
        send(message(), smtp)
    assert str(err.value) == f"SMTP 127.0.0.1:{port}: connection refused (is the SMTP server running?)"
    assert err.value.affects_all


def test_starttls_with_login(tmp_path: Path) -> None:
    tls = self_signed_tls(tmp_path)
    with running_sink(starttls=tls.server, require_starttls=True,
                      authenticator=password_authenticator(USERS)) as sink:
        good = sink.smtp(security="starttls", username="alerts", password="correct horse")
        send(message(), good, tls_context=tls.client)
        assert len(sink.messages) == 1

        wrong = sink.smtp(security="starttls", username="alerts", password="wrong battery")
        with pytest.raises(SendError) as err:
            send(message(), wrong, tls_context=tls.client)
        text = str(err.value)
        assert text.startswith(f"SMTP 127.0.0.1:{sink.port}: authentication failed for user 'alerts': 535")
        assert "wrong battery" not in text and "correct horse" not in text

        # the default context verifies certificates: a self-signed one is refused, clearly
        with pytest.raises(SendError) as err:
            send(message(), good)
        assert f"SMTP 127.0.0.1:{sink.port}: TLS failed" in str(err.value)
        assert len(sink.messages) == 1


def test_login_without_tls_when_server_wants_tls_first(tmp_path: Path) -> None:
    tls = self_signed_tls(tmp_path)
    with running_sink(starttls=tls.server, authenticator=password_authenticator(USERS)) as sink:
        with pytest.raises(SendError) as err:
            send(message(), sink.smtp(username="alerts", password="correct horse"))
        assert "does not offer AUTH (many servers offer it only after STARTTLS)" in str(err.value)
        assert not sink.messages


def test_auth_without_tls_when_server_allows_it() -> None:
    with running_sink(authenticator=password_authenticator(USERS), auth_require_tls=False) as sink:
        send(message(), sink.smtp(username="alerts", password="correct horse"))
        assert len(sink.messages) == 1


def test_starttls_not_offered() -> None:
    with running_sink() as sink:
        with pytest.raises(SendError) as err:
            send(message(), sink.smtp(security="starttls"))
        assert str(err.value) == f"SMTP 127.0.0.1:{sink.port}: the server does not offer STARTTLS (security: starttls)"


def test_implicit_tls_with_login(tmp_path: Path) -> None:
    tls = self_signed_tls(tmp_path)
    with running_sink(implicit_tls=tls.server, authenticator=password_authenticator(USERS)) as sink:
        send(message(), sink.smtp(security="ssl", username="alerts", password="correct horse"), tls_context=tls.client)
        assert len(sink.messages) == 1


def test_username_without_password_is_refused_before_connecting() -> None:
    smtp = Smtp(host="127.0.0.1", port=free_port(), username="alerts")
    with pytest.raises(SendError, match="user 'alerts' has no password"):
        send(message(), smtp)


class RefusingHandler(SinkHandler):
    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_recipients_refused() -> None:
    with running_sink(RefusingHandler()) as sink:
        with pytest.raises(SendError) as err:
            send(message(("nobody@example.com",)), sink.smtp())
        assert str(err.value) == (
            f"SMTP 127.0.0.1:{sink.port}: every recipient refused: nobody@example.com (550 5.1.1 no such user)"
        )
        assert not err.value.affects_all
        send(message(("nobody@example.com", "lead@example.com")), sink.smtp())  # partly accepted: sent
        assert [m.rcpt_tos for m in sink.messages] == [("lead@example.com",)]


def test_message_without_recipients() -> None:
    msg = message()
    del msg["To"]
    with pytest.raises(SendError, match="the message has no recipients"):
        send(msg, Smtp(host="127.0.0.1", port=free_port()))
