"""Talking to the SMTP server: the ``OPENSMM_SMTP_URL`` setting, and one delivery.

The stdlib ``smtplib`` is used, in the worker's thread: the worker is synchronous (it runs
on a thread of ``opensmm serve`` or in ``opensmm worker``), a mail is one short blocking
conversation with a timeout, and smtplib speaks STARTTLS, implicit TLS and AUTH with no
extra dependency. An asyncio client would need an event loop of its own in that thread
for no gain.

The password never leaves this module in a message: ``SmtpConfig``'s repr hides it, and
an error's text is cut from the server's answer (which never echoes it) with the password
removed anyway.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from opensmm.errors import DomainError
from opensmm.i18n import N_

STARTTLS = "starttls"
IMPLICIT_TLS = "tls"
PLAIN = "plain"

MAX_ERROR = 500


class SmtpUrlRefused(DomainError):
    message = N_("Incorrect SMTP URL")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # STARTTLS, IMPLICIT_TLS or PLAIN
    user: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0
    ca_file: str = ""

    def describe(self) -> str:
        """For logs and staff: where mail goes, never the password."""
        who = f"{self.user}@" if self.user else ""
        return f"{self.security}://{who}{self.host}:{self.port}"


def parse_smtp_url(url: str, *, timeout: float = 30.0, ca_file: str = "") -> SmtpConfig:
    """``smtp://user:pass@host:587`` (STARTTLS), ``smtps://…:465`` (implicit TLS),
    ``smtp+plain://host:25`` or ``smtp://host:25?tls=off`` (no TLS: a local relay)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    query = {k.lower(): v[-1].lower() for k, v in parse_qs(parts.query).items()}
    if scheme == "smtps":
        security, default_port = IMPLICIT_TLS, 465
    elif scheme == "smtp+plain":
        security, default_port = PLAIN, 25
    elif scheme == "smtp":
        security, default_port = STARTTLS, 587
        if query.get("tls") in {"off", "0", "false", "no"}:
            security = PLAIN
    else:
        raise SmtpUrlRefused(N_("The SMTP URL must start with smtp://, smtps:// or smtp+plain://"))
    try:
        port = parts.port or default_port
    except ValueError:
        raise SmtpUrlRefused(N_("The SMTP URL has an incorrect port")) from None
    if not parts.hostname:
        raise SmtpUrlRefused(N_("The SMTP URL names no server"))
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        security=security,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        timeout=timeout,
        ca_file=ca_file,
    )


@dataclass(frozen=True)
class Outgoing:
    recipient: str
    subject: str
    text: str
    html: str


def build_message(mail: Outgoing, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


def default_sender(configured: str, config: SmtpConfig) -> str:
    if configured.strip():
        return configured.strip()
    return formataddr(("opensmm", f"noreply@{config.host}"))


class SendFailed(Exception):
    """A delivery attempt failed; ``permanent``: the server refused the mail itself (5xx),
    so trying again would not help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def _tls_context(config: SmtpConfig) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if config.ca_file:
        context.load_verify_locations(cafile=config.ca_file)
    return context


def _safe(text: str, config: SmtpConfig) -> str:
    if config.password:
        text = text.replace(config.password, "***")
    return " ".join(text.split())[:MAX_ERROR]


def _answer(code: int, raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return f"{code} {text}"


def send(config: SmtpConfig, sender: str, mail: Outgoing) -> None:
    """Deliver one mail, or raise ``SendFailed`` with a safe reason."""
    message = build_message(mail, sender)
    try:
        _deliver(config, sender, mail.recipient, message)
    except smtplib.SMTPRecipientsRefused as exc:
        code, raw = next(iter(exc.recipients.values()))
        raise SendFailed(_safe("recipient refused: " + _answer(code, raw), config),
                         permanent=code >= 500) from None
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        kind = "sender refused" if isinstance(exc, smtplib.SMTPSenderRefused) else "refused"
        raise SendFailed(_safe(f"{kind}: " + _answer(exc.smtp_code, exc.smtp_error), config),
                         permanent=exc.smtp_code >= 500) from None
    except smtplib.SMTPAuthenticationError as exc:
        # Wrong credentials are the panel's configuration, not the mail: retried, so that
        # mails go out once staff fix the setting.
        raise SendFailed(_safe("authentication failed: " + _answer(exc.smtp_code,
                                                                    exc.smtp_error), config),
                         permanent=False) from None
    except smtplib.SMTPResponseException as exc:
        raise SendFailed(_safe(_answer(exc.smtp_code, exc.smtp_error), config),
                         permanent=False) from None
    except ssl.SSLError as exc:
        raise SendFailed(_safe(f"TLS failed: {exc.reason or type(exc).__name__}", config),
                         permanent=False) from None
    except (smtplib.SMTPException, OSError) as exc:
        reason = type(exc).__name__
        if isinstance(exc, socket.timeout | TimeoutError):
            reason = "timed out"
        elif isinstance(exc, ConnectionRefusedError):
            reason = "connection refused"
        raise SendFailed(_safe(f"{reason}: {exc}" if str(exc) else reason, config),
                         permanent=False) from None


def _deliver(config: SmtpConfig, sender: str, recipient: str, message: EmailMessage) -> None:
    client: smtplib.SMTP
    if config.security == IMPLICIT_TLS:
        client = smtplib.SMTP_SSL(
            config.host, config.port, timeout=config.timeout, context=_tls_context(config)
        )
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    with client:
        client.ehlo()
        if config.security == STARTTLS:
            client.starttls(context=_tls_context(config))
            client.ehlo()
        if config.user:
            client.login(config.user, config.password)
        envelope_from = parseaddr(sender)[1] or sender
        client.send_message(message, from_addr=envelope_from, to_addrs=[recipient])
