"""A real local SMTP server (aiosmtpd) that keeps what it receives, optionally with STARTTLS and
a login, and answers what it is told to first."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class Mail:
    """One mail the server accepted."""

    sender: str
    recipients: list[str]
    message: EmailMessage
    tls: bool
    login: str


class Mailbox:
    """The server's handler: records accepted mail, answers `answers` first."""

    def __init__(self, logins: dict[str, str] | None = None) -> None:
        self.mails: list[Mail] = []
        self.answers: list[str] = []
        self.logins = logins or {}
        self._lock = threading.Lock()

    async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self.answers:
                return self.answers.pop(0)
            parsed = message_from_bytes(envelope.original_content, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            login = session.auth_data.login.decode() if session.authenticated else ""
            self.mails.append(
                Mail(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    parsed,
                    session.ssl is not None,
                    login,
                )
            )
        return "250 Message accepted for delivery"

    def authenticate(
        self, _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self.logins.get(data.login.decode()) == (
            data.password.decode()
        )
        return AuthResult(success=ok, handled=False, auth_data=data)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server(mailbox: Mailbox, tls: ssl.SSLContext | None = None) -> Iterator[tuple[str, int]]:
    """Run an SMTP server for `mailbox` on 127.0.0.1; yield its host and port."""
    port = free_port()
    options: dict[str, Any] = {}
    if tls is not None:
        options = {"tls_context": tls, "require_starttls": True, "auth_require_tls": True}
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=mailbox.authenticate,
        **options,
    )
    controller.start()
    try:
        yield "127.0.0.1", port
    finally:
        controller.stop()
