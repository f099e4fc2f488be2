"""Outage mail end to end: log lines through the real pipeline, the pager's mail to a real local
SMTP server (aiosmtpd): a text and an HTML part, hostile log text escaped, retries, STARTTLS."""

from __future__ import annotations

import shutil
import smtplib
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.models import OutageNotification
from service.notify.mail import SmtpServer, send_mail
from service.settings import Settings
from tests.conftest import ADMIN
from tests.notify.conftest import Clock, serve
from tests.notify.mailbox import Mail, Mailbox, smtp_server
from tests.notify.test_deliver import ingest
from tests.notify.test_paging import DOWN, UP, messages
from tests.test_xss import PAYLOADS, injected, log_text


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, dict[str, Any]]]:
    """Yield a mailbox on a running SMTP server and the settings that send to it."""
    box = Mailbox()
    with smtp_server(box) as (host, port):
        yield (
            box,
            {
                "smtp_host": host,
                "smtp_port": port,
                "smtp_from": "drainwatch@example.com",
                "smtp_to": "oncall@example.com, lead@example.com",
            },
        )


def parts(mail: Mail) -> tuple[str, str]:
    text = mail.message.get_body(("plain",))
    html = mail.message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_an_outage_is_mailed_as_text_and_html(
    settings: Settings, clock: Clock, mailbox: tuple[Mailbox, dict[str, Any]]
) -> None:
    box, smtp = mailbox
    with serve(settings, clock, notify_interval_minutes=0, **smtp) as (client, runtime):
        ingest(client, runtime, DOWN + UP)
        runtime.pager.run_once()
        clock.advance(2)
        runtime.pager.run_once()
        outage = client.get("/api/outages", auth=ADMIN).json()["outages"][0]
        found = [(m.event, m.email_status, m.slack_status) for m in messages(runtime)]
    assert found == [("outage.opened", "sent", "off"), ("outage.resolved", "sent", "off")]
    opened, resolved = box.mails
    assert opened.sender == "drainwatch@example.com"
    assert opened.recipients == ["oncall@example.com", "lead@example.com"]
    assert opened.message["Subject"].startswith("[drainwatch] Outage opened: [HIGH] ")
    assert resolved.message["Subject"].startswith("[drainwatch] Outage resolved: [HIGH] ")
    text, html = parts(resolved)
    url = f"http://drainwatch.test/outages/{outage['id']}"
    assert "Since: 2025-09-19 12:50:01 UTC, until 2025-09-19 12:53:03 UTC (3 min 2 s)" in text
    assert f"The report: {url}" in text
    assert "## Timeline" in text  # the report's sections follow the lead
    assert f'<a href="{url}">The report</a>' in html
    assert "<strong>Since:</strong> 2025-09-19 12:50:01 UTC" in html
    assert "<h2>Timeline" in html


def test_hostile_log_text_stays_text_in_the_html_part(
    settings: Settings, clock: Clock, mailbox: tuple[Mailbox, dict[str, Any]]
) -> None:
    box, smtp = mailbox
    with serve(settings, clock, notify_interval_minutes=0, **smtp) as (client, runtime):
        for number, payload in enumerate(PAYLOADS):
            ingest(client, runtime, log_text(payload).replace("12:43", f"1{number}:43"))
        for _ in range(3 * len(PAYLOADS)):
            if not runtime.pager.run_once():
                break
            clock.advance(2)
    assert len(box.mails) >= len(PAYLOADS)
    problems = {}
    for mail in box.mails:
        subject = mail.message["Subject"]
        assert "\n" not in subject and "\r" not in subject
        _text, html = parts(mail)
        if found := injected(html):
            problems[subject] = found
    assert problems == {}
    assert any("&lt;script data-xss&gt;" in parts(mail)[1] for mail in box.mails)


def test_a_mail_the_server_refuses_is_sent_again_with_the_same_message_id(
    settings: Settings, clock: Clock, mailbox: tuple[Mailbox, dict[str, Any]]
) -> None:
    box, smtp = mailbox
    box.answers = ["451 4.3.0 try again later"]
    with serve(settings, clock, **smtp) as (client, runtime):
        ingest(client, runtime, DOWN)
        runtime.pager.run_once()
        [row] = messages(runtime)
        assert (row.email_status, row.attempts) == ("pending", 1)
        assert "451" in row.last_error
        clock.advance(3)
        runtime.pager.run_once()
        [row] = messages(runtime)
    [mail] = box.mails
    assert row.email_status == "sent"
    assert (
        mail.message["Message-ID"] == f"<outage-{row.outage_id}.message-{row.id}@drainwatch.test>"
    )


def test_required_starttls_not_offered_sends_nothing(
    settings: Settings, clock: Clock, mailbox: tuple[Mailbox, dict[str, Any]]
) -> None:
    box, smtp = mailbox
    with serve(settings, clock, smtp_starttls=True, **smtp) as (client, runtime):
        ingest(client, runtime, DOWN)
        runtime.pager.run_once()
        [row] = messages(runtime)
    assert box.mails == []
    assert (row.email_status, row.attempts) == ("pending", 1)
    assert "does not offer STARTTLS" in row.last_error


def test_a_password_is_never_sent_without_tls(mailbox: tuple[Mailbox, dict[str, Any]]) -> None:
    box, smtp = mailbox
    server = SmtpServer(
        smtp["smtp_host"], smtp["smtp_port"], "dw@example.com", ("a@example.com",), "u", "secret"
    )
    with pytest.raises(smtplib.SMTPNotSupportedError):
        send_mail(server, _mail(), 5.0)
    assert box.mails == []


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_starttls_when_offered_then_the_login(
    settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    box = Mailbox(logins={"drainwatch": "s3cret"})
    with smtp_server(box, tls) as (host, port):
        smtp = {"smtp_host": host, "smtp_port": port, "smtp_to": "oncall@example.com"}
        login = {"smtp_user": "drainwatch", "smtp_password": "s3cret", "smtp_ca_file": cert}
        with serve(settings, clock, **smtp, **login) as (client, runtime):
            ingest(client, runtime, DOWN)
            runtime.pager.run_once()
            [row] = messages(runtime)
    assert row.email_status == "sent", row.last_error
    [mail] = box.mails
    assert (mail.tls, mail.login) == (True, "drainwatch")


def _mail() -> Any:
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = "test"
    message.set_content("test")
    return message


def test_the_outage_api_lists_its_messages(
    settings: Settings, clock: Clock, mailbox: tuple[Mailbox, dict[str, Any]]
) -> None:
    box, smtp = mailbox
    box.answers = ["451 4.3.0 try again later"]
    with serve(settings, clock, **smtp) as (client, runtime):
        ingest(client, runtime, DOWN)
        runtime.pager.run_once()
        [row] = messages(runtime)
        detail = client.get(f"/api/outages/{row.outage_id}", auth=ADMIN).json()
    [shown] = detail["notifications"]
    assert shown["event"] == "outage.opened"
    assert (shown["email"], shown["slack"], shown["attempts"]) == ("pending", "off", 1)
    assert "451" in shown["last_error"]
    assert isinstance(row, OutageNotification)
