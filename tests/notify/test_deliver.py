"""Delivery end to end: log lines in, incidents through the real pipeline, POSTs to a real local
receiver out, with signatures, retries and give-ups (the generic webhook of CONTRACT §6)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from typing import Any

from sqlmodel import Session, col, select

from service.models import Notification
from service.settings import Settings
from tests.conftest import ADMIN, INGEST_TOKEN, SCAN_FIELDS
from tests.notify.conftest import SECRET, Clock, Receiver, serve

MISSING_TABLE = '2025-09-19 12:43:{:02d},100 - app - ERROR - relation "users" does not exist\n'
OUTAGE = """\
2025-09-19 12:50:01,100 - app.loop - WARNING - [DB_DOWN] op=loop try=1/5 sleep=2s reason=Neon
2025-09-19 12:53:03,100 - app.loop - INFO - [DB_RECOVERED] op=loop after 3 attempts
"""
RELAPSE = "2025-09-19 13:50:01,100 - app.loop - WARNING - [DB_DOWN] op=loop try=1/5 sleep=2s\n"


def ingest(client: Any, runtime: Any, text: str) -> None:
    """Post log lines and run the processor over them, as a running server would."""
    response = client.post(
        "/drains/api",
        content=text.encode(),
        headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": "text/plain"},
    )
    assert response.status_code == 202, response.text
    runtime.processor.process_all()


def rows(runtime: Any) -> list[Notification]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(Notification).order_by(col(Notification.id))).all())


def verify(secret: str, header: str, body: bytes) -> bool:
    """Check a `Drainwatch-Signature` as a receiver would, without drainwatch's code."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])


def webhook(receiver: Receiver) -> dict[str, Any]:
    return {"webhook_url": receiver.url("/webhook"), "webhook_secret": SECRET}


def test_an_opened_incident_is_posted_once_signed(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    with serve(settings, clock, **webhook(receiver)) as (client, runtime):
        ingest(client, runtime, MISSING_TABLE.format(14))
        assert runtime.dispatcher.run_once() == 1
        assert runtime.dispatcher.run_once() == 0
        incident = client.get("/api/incidents", auth=ADMIN).json()["incidents"][0]
        [row] = rows(runtime)
    [request] = receiver.at("/webhook")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["drainwatch-event"] == "incident.opened"
    assert request.headers["drainwatch-delivery"] == str(row.id)
    assert verify(SECRET, request.headers["drainwatch-signature"], request.body)
    assert not verify("another secret", request.headers["drainwatch-signature"], request.body)
    stamp = int(request.headers["drainwatch-signature"].split(",")[0].removeprefix("t="))
    assert abs(stamp - time.time()) < 60
    document = json.loads(request.body)
    assert document["event"] == "incident.opened"
    sent = document["incident"]
    assert {k: sent[k] for k in (*SCAN_FIELDS, "id")} == {
        k: incident[k] for k in (*SCAN_FIELDS, "id")
    }
    assert sent["signature"] == "postgres.undefined-table"
    assert sent["first_seen"] == "2025-09-19T12:43:14.100000+00:00"
    assert sent["url"] == f"http://drainwatch.test/incidents/{incident['id']}"
    assert (row.webhook_status, row.slack_status, row.attempts) == ("sent", "off", 1)
    assert row.delivered_at is not None and row.payload == document


def test_no_signature_header_without_a_secret(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    with serve(settings, clock, webhook_url=receiver.url("/webhook")) as (client, runtime):
        ingest(client, runtime, MISSING_TABLE.format(14))
        runtime.dispatcher.run_once()
    [request] = receiver.at("/webhook")
    assert "drainwatch-signature" not in request.headers
    assert json.loads(request.body)["event"] == "incident.opened"


def test_resolved_and_recurred_arrive_with_their_names(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    with serve(settings, clock, **webhook(receiver)) as (client, runtime):
        ingest(client, runtime, OUTAGE)
        runtime.dispatcher.run_once()
        ingest(client, runtime, RELAPSE)
        runtime.dispatcher.run_once()
    documents = [json.loads(r.body) for r in receiver.at("/webhook")]
    assert [d["event"] for d in documents] == [
        "incident.opened",
        "incident.resolved",
        "incident.recurred",
    ]
    resolved, recurred = documents[1]["incident"], documents[2]["incident"]
    assert (resolved["status"], resolved["resolution"]) == ("resolved", "recovered")
    assert (recurred["status"], recurred["previous_id"]) == ("open", resolved["id"])


def test_eleven_hits_escalate_once_at_ten(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    with serve(settings, clock, **webhook(receiver)) as (client, runtime):
        ingest(client, runtime, "".join(MISSING_TABLE.format(s) for s in range(11)))
        assert runtime.dispatcher.run_once() == 2
    documents = [json.loads(r.body) for r in receiver.at("/webhook")]
    assert [d["event"] for d in documents] == ["incident.opened", "incident.escalated"]
    assert documents[1]["incident"]["occurrences"] == 11


def test_a_failing_receiver_gets_the_same_body_after_the_backoff(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    receiver.answers = [500]
    with serve(settings, clock, **webhook(receiver)) as (client, runtime):
        ingest(client, runtime, MISSING_TABLE.format(14))
        runtime.dispatcher.run_once()
        [row] = rows(runtime)
        assert (row.webhook_status, row.attempts, row.last_error) == (
            "pending",
            1,
            "webhook: HTTP 500",
        )
        assert row.delivered_at is None
        clock.advance(1)
        assert runtime.dispatcher.run_once() == 0
        clock.advance(1.5)
        assert runtime.dispatcher.run_once() == 1
        detail = client.get(f"/api/incidents/{row.incident_id}", auth=ADMIN).json()
        [row] = rows(runtime)
    first, second = receiver.at("/webhook")
    assert first.body == second.body
    assert first.headers["drainwatch-delivery"] == second.headers["drainwatch-delivery"]
    assert verify(SECRET, second.headers["drainwatch-signature"], second.body)
    assert (row.webhook_status, row.attempts) == ("sent", 2)
    assert row.delivered_at is not None
    assert detail["notifications"] == [
        {
            "event": "incident.opened",
            "created_at": row.created_at.isoformat(),
            "webhook": "sent",
            "slack": "off",
            "attempts": 2,
            "last_error": "webhook: HTTP 500",
        }
    ]
    assert detail["timeline"] and detail["events"]


def test_after_the_last_attempt_the_row_is_failed(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    receiver.answers = [503] * 20
    with serve(settings, clock, **webhook(receiver)) as (client, runtime):
        runtime.dispatcher.max_attempts = 4
        ingest(client, runtime, MISSING_TABLE.format(14))
        for _ in range(6):
            runtime.dispatcher.run_once()
            clock.advance(3600)
        metrics = client.get("/metrics", auth=ADMIN).text
        [row] = rows(runtime)
    assert len(receiver.at("/webhook")) == 4
    assert (row.webhook_status, row.attempts) == ("failed", 4)
    assert row.last_error == "webhook: HTTP 503"
    assert row.delivered_at is not None
    assert 'drainwatch_notifications_total{outcome="retry",target="webhook"} 3.0' in metrics
    assert 'drainwatch_notifications_total{outcome="failed",target="webhook"} 1.0' in metrics


def test_a_receiver_that_does_not_answer_is_retried(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with serve(settings, clock, webhook_url=f"http://127.0.0.1:{port}/hook") as (client, runtime):
        ingest(client, runtime, MISSING_TABLE.format(14))
        runtime.dispatcher.run_once()
        [row] = rows(runtime)
        assert (row.webhook_status, row.attempts) == ("pending", 1)
        assert row.last_error.startswith("webhook: URLError")
        runtime.dispatcher.settings = runtime.dispatcher.settings.model_copy(
            update={"webhook_url": receiver.url("/webhook")}
        )
        clock.advance(5)
        runtime.dispatcher.run_once()
        [row] = rows(runtime)
    assert len(receiver.at("/webhook")) == 1
    assert row.webhook_status == "sent"


def test_a_redirect_is_not_followed(settings: Settings, clock: Clock, receiver: Receiver) -> None:
    receiver.answers = [302]
    with serve(settings, clock, **webhook(receiver)) as (client, runtime):
        ingest(client, runtime, MISSING_TABLE.format(14))
        runtime.dispatcher.run_once()
        [row] = rows(runtime)
    assert [r.path for r in receiver.requests] == ["/webhook"]
    assert (row.webhook_status, row.last_error) == ("pending", "webhook: HTTP 302")


def test_unconfigured_targets_are_off(settings: Settings, clock: Clock) -> None:
    with serve(settings, clock) as (client, runtime):
        ingest(client, runtime, OUTAGE)
        assert runtime.dispatcher.run_once() == 2
        assert runtime.dispatcher.run_once() == 0
        found = rows(runtime)
    assert [(r.event, r.webhook_status, r.slack_status, r.attempts) for r in found] == [
        ("incident.opened", "off", "off", 0),
        ("incident.resolved", "off", "off", 0),
    ]
    assert all(r.delivered_at is not None for r in found)


def test_slack_hears_of_outages_not_of_incidents(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    targets = {**webhook(receiver), "slack_webhook_url": receiver.url("/slack")}
    with serve(settings, clock, **targets) as (client, runtime):
        ingest(client, runtime, MISSING_TABLE.format(14))
        assert runtime.dispatcher.run_once() == 1
        [row] = rows(runtime)
    assert len(receiver.at("/webhook")) == 1
    assert receiver.at("/slack") == []  # the pager tells Slack of the outage (test_paging)
    assert (row.webhook_status, row.slack_status) == ("sent", "off")


def test_the_background_thread_delivers_and_stops(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    with serve(settings, clock, **webhook(receiver)) as (client, runtime):
        ingest(client, runtime, MISSING_TABLE.format(14))
        runtime.dispatcher.interval_seconds = 0.01
        runtime.dispatcher.start()
        deadline = time.monotonic() + 10
        while not receiver.at("/webhook") and time.monotonic() < deadline:
            time.sleep(0.01)
        runtime.dispatcher.stop()
    assert len(receiver.at("/webhook")) == 1


def test_the_incident_page_shows_each_targets_state(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    receiver.answers = [503]
    with serve(settings, clock, **webhook(receiver)) as (client, runtime):
        ingest(client, runtime, MISSING_TABLE.format(14))
        runtime.dispatcher.run_once()
        [row] = rows(runtime)
        page = client.get(f"/incidents/{row.incident_id}", auth=ADMIN).text
    section = page.split("<h3>Notifications</h3>", 1)[1].split("</table>", 1)[0]
    assert "incident.opened" in section
    assert "<td>pending</td><td>off</td>" in section
    assert "webhook: HTTP 503" in section
