"""Outage mail over SMTP: a plain-text part (the report's lead and markdown) and an HTML part
rendered from the same markdown with raw HTML off, sent with STARTTLS when the server offers it
or when the settings require it."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from html import escape
from pathlib import Path
from typing import Any

from service.notify.markup import html, inline_html, plain
from service.notify.slack import EVENT_WORDS, lead_for

SUBJECT_CHARS = 160


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to send: from the `DRAINWATCH_SMTP_*` settings."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    user: str | None = None
    password: str | None = None
    require_starttls: bool = False
    ca_file: Path | None = None


def one_line(value: object, limit: int) -> str:
    """Return `value` as one line of at most `limit` characters, no control characters."""
    text = " ".join("".join(c if c.isprintable() else " " for c in str(value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def outage_mail(payload: Mapping[str, Any], server: SmtpServer, *, message_id: str) -> EmailMessage:
    """Return the mail of an outage payload; `message_id` stays the same when it is sent again."""
    outage = payload.get("outage") or {}
    event = str(payload.get("event") or "")
    words = EVENT_WORDS.get(event, one_line(event, 40))
    severity = one_line(payload.get("severity") or "unknown", 20).upper()
    title = one_line(payload.get("title") or outage.get("title") or "outage", SUBJECT_CHARS)
    source = one_line(outage.get("source") or "?", 100)
    url = str(outage.get("url") or "")
    reason = one_line(payload.get("reason") or "", 200)
    lead = lead_for(event, payload.get("lead") or ())
    report = str(payload.get("report") or "")

    message = EmailMessage()
    message["Subject"] = one_line(f"[drainwatch] {words}: [{severity}] {title} ({source})", 250)
    message["From"] = server.sender
    message["To"] = ", ".join(server.recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    message.set_content(_text(words, severity, title, source, reason, lead, url, report))
    message.add_alternative(
        _html(words, severity, title, source, reason, lead, url, report), subtype="html"
    )
    return message


def _text(
    words: str,
    severity: str,
    title: str,
    source: str,
    reason: str,
    lead: Sequence[str],
    url: str,
    report: str,
) -> str:
    lines = [f"{words}: [{severity}] {title}", f"Source: {source}"]
    if reason:
        lines.append(reason)
    lines += ["", *(plain(line) for line in lead), "", f"The report: {url}"]
    if report:
        lines += ["", "-" * 72, "", report]
    return "\n".join(lines) + "\n"


def _html(
    words: str,
    severity: str,
    title: str,
    source: str,
    reason: str,
    lead: Sequence[str],
    url: str,
    report: str,
) -> str:
    items = "".join(f"<li>{inline_html(line)}</li>" for line in lead)
    link = escape(url, quote=True)
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"></head><body>',
        f"<h2>{escape(words)}: [{escape(severity)}] {escape(title)}</h2>",
        f"<p>Source: <code>{escape(source)}</code></p>",
        f"<p>{escape(reason)}</p>" if reason else "",
        f"<ul>{items}</ul>" if items else "",
        f'<p><a href="{link}">The report</a></p>'
        if url.startswith(("http://", "https://"))
        else "",
        "<hr>" if report else "",
        html(report) if report else "",
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part)


def send_mail(server: SmtpServer, message: EmailMessage, timeout: float) -> None:
    """Send the mail; raise `smtplib.SMTPException` or `OSError` when it could not be handed over.

    STARTTLS is used when the server offers it, and required when the settings say so; a
    password is only ever sent after it.
    """
    with smtplib.SMTP(server.host, server.port, timeout=timeout) as smtp:
        smtp.ehlo()
        secure = False
        if smtp.has_extn("starttls"):
            cafile = str(server.ca_file) if server.ca_file is not None else None
            smtp.starttls(context=ssl.create_default_context(cafile=cafile))
            smtp.ehlo()
            secure = True
        elif server.require_starttls:
            raise smtplib.SMTPNotSupportedError("the server does not offer STARTTLS")
        if server.user:
            if not secure:
                raise smtplib.SMTPNotSupportedError("no STARTTLS: the password is not sent")
            smtp.login(server.user, server.password or "")
        smtp.send_message(message, from_addr=server.sender, to_addrs=list(server.recipients))
