"""Hand one message to the configured SMTP server with the standard library, or raise one SendError that says
which server and why (refused, TLS, authentication, recipients...). The password is never logged or shown."""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import getaddresses

from core.config import Smtp

log = logging.getLogger(__name__)


class SendError(Exception):
    """The server did not take the message. `affects_all`: every message would fail the same way right now
    (server down, TLS or login failing), so a batch need not try the rest."""

    def __init__(self, smtp: Smtp, reason: str, *, affects_all: bool = True):
        super().__init__(f"SMTP {smtp.host}:{smtp.port}: {reason}")
        self.reason = reason
        self.affects_all = affects_all


def _decode(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())


def recipients_of(message: EmailMessage) -> list[str]:
    pairs = getaddresses([str(v) for field in ("To", "Cc", "Bcc") for v in message.get_all(field, [])])
    return [address for _, address in pairs if address]


def _connect(smtp: Smtp, context: ssl.SSLContext) -> smtplib.SMTP:
    try:
        if smtp.security == "ssl":
            return smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_seconds, context=context)
        return smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
    except ConnectionRefusedError:
        raise SendError(smtp, "connection refused (is the SMTP server running?)") from None
    except socket.gaierror as exc:
        raise SendError(smtp, f"cannot resolve the host name ({exc.strerror or exc})") from None
    except TimeoutError:
        raise SendError(smtp, f"no answer within {smtp.timeout_seconds:g} s") from None
    except ssl.SSLError as exc:
        raise SendError(smtp, f"TLS failed: {exc.reason or exc}") from None
    except smtplib.SMTPConnectError as exc:
        raise SendError(smtp, f"the server refused the connection: {exc.smtp_code} {_decode(exc.smtp_error)}") from None
    except smtplib.SMTPServerDisconnected:
        raise SendError(smtp, "the server closed the connection before greeting") from None
    except OSError as exc:
        raise SendError(smtp, f"cannot connect: {exc.strerror or exc}") from None


def _transact(client: smtplib.SMTP, message: EmailMessage, smtp: Smtp, to: list[str],
              context: ssl.SSLContext) -> dict[str, tuple[int, bytes]]:
    if smtp.security == "starttls":
        try:
            client.starttls(context=context)
        except smtplib.SMTPNotSupportedError:
            raise SendError(smtp, "the server does not offer STARTTLS (security: starttls)") from None
    if smtp.username:
        try:
            client.login(smtp.username, smtp.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(
                smtp, f"authentication failed for user {smtp.username!r}: {exc.smtp_code} {_decode(exc.smtp_error)}"
            ) from None
        except smtplib.SMTPNotSupportedError:
            hint = "" if smtp.security != "none" else " (many servers offer it only after STARTTLS)"
            raise SendError(smtp, f"the server does not offer AUTH{hint}") from None
    return client.send_message(message, from_addr=smtp.sender, to_addrs=to)


def send(message: EmailMessage, smtp: Smtp, *, tls_context: ssl.SSLContext | None = None) -> None:
    """Deliver `message` to its To/Cc/Bcc recipients through `smtp`; returns once the server accepted it.

    security none: plain SMTP; starttls: STARTTLS before login; ssl: implicit TLS. Login only when a username is
    set (the password comes from the config, i.e. GROUNDSWELL_SMTP_PASSWORD). `tls_context` replaces the
    default certificate-verifying context (tests with a self-signed certificate).
    """
    to = recipients_of(message)
    if not to:
        raise SendError(smtp, "the message has no recipients", affects_all=False)
    if smtp.username and not smtp.password:
        raise SendError(smtp, f"user {smtp.username!r} has no password (set GROUNDSWELL_SMTP_PASSWORD)")
    context = tls_context or ssl.create_default_context()
    client = _connect(smtp, context)
    try:
        refused = _transact(client, message, smtp, to, context)
    except smtplib.SMTPRecipientsRefused as exc:
        detail = "; ".join(f"{rcpt} ({code} {_decode(text)})" for rcpt, (code, text) in exc.recipients.items())
        raise SendError(smtp, f"every recipient refused: {detail}", affects_all=False) from None
    except smtplib.SMTPSenderRefused as exc:
        raise SendError(smtp, f"sender {smtp.sender} refused: {exc.smtp_code} {_decode(exc.smtp_error)}") from None
    except smtplib.SMTPDataError as exc:
        raise SendError(
            smtp, f"message refused: {exc.smtp_code} {_decode(exc.smtp_error)}", affects_all=False
        ) from None
    except smtplib.SMTPServerDisconnected:
        raise SendError(smtp, "the server closed the connection") from None
    except smtplib.SMTPResponseException as exc:
        raise SendError(smtp, f"{exc.smtp_code} {_decode(exc.smtp_error)}") from None
    except smtplib.SMTPException as exc:
        raise SendError(smtp, str(exc)) from None
    except ssl.SSLError as exc:
        raise SendError(smtp, f"TLS failed: {exc.reason or exc}") from None
    except TimeoutError:
        raise SendError(smtp, f"no answer within {smtp.timeout_seconds:g} s") from None
    except OSError as exc:
        raise SendError(smtp, f"connection lost: {exc.strerror or exc}") from None
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
    if refused:
        log.warning("SMTP %s:%s refused some recipients of %s: %s", smtp.host, smtp.port,
                    message.get("Message-ID"), ", ".join(sorted(refused)))
    log.info("sent %s to %d recipient(s) via %s:%s", message.get("Message-ID"), len(to) - len(refused),
             smtp.host, smtp.port)
