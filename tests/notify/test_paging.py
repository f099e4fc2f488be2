"""Outage messages end to end: log lines through the real pipeline, the pager's POSTs to a real
local Slack-style receiver: one message per outage opening, escalation and resolution, in order,
at most one per interval, retried on failure, and shown on the outage's API."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from service.models import OutageNotification
from service.settings import Settings
from tests.conftest import ADMIN
from tests.notify.conftest import Clock, Receiver, serve
from tests.notify.test_deliver import ingest

DOWN = (
    "2025-09-19 12:50:01,100 - app.loop - WARNING - [DB_DOWN] op=loop try=1/5 sleep=2s reason=X\n"
)
MORE = (
    "2025-09-19 12:51:01,100 - app.loop - WARNING - [DB_DOWN] op=loop try=2/5 sleep=4s reason=X\n"
)
UP = "2025-09-19 12:53:03,100 - app.loop - INFO - [DB_RECOVERED] op=loop after 3 attempts\n"
NEON = (
    "2025-09-19 12:51:30,100 - app.db - ERROR - connection failed: ERROR:  Endpoint has been"
    " disabled. Enable it using Neon API and retry.\n"
)
INTERVAL = 5 * 60.0


def slack(receiver: Receiver) -> dict[str, Any]:
    return {"slack_webhook_url": receiver.url("/slack")}


def said(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.at("/slack")]


def heads(receiver: Receiver) -> list[str]:
    """Return the first words of each Slack message: `Outage opened`, `Outage resolved`..."""
    return [m["text"].split(":", 1)[0] for m in said(receiver)]


def messages(runtime: Any) -> list[OutageNotification]:
    with Session(runtime.engine) as session:
        found = select(OutageNotification).order_by(col(OutageNotification.id))
        return list(session.exec(found).all())


def test_an_outage_over_in_one_batch_is_told_opened_then_resolved_an_interval_apart(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    with serve(settings, clock, **slack(receiver)) as (client, runtime):
        ingest(client, runtime, DOWN + UP)
        assert runtime.pager.run_once() == 1
        assert heads(receiver) == ["Outage opened"]
        clock.advance(INTERVAL - 10)
        runtime.pager.run_once()
        assert heads(receiver) == ["Outage opened"]  # no second message within the interval
        clock.advance(11)
        assert runtime.pager.run_once() == 1
        clock.advance(3 * 3600)
        assert runtime.pager.run_once() == 0
        outage = client.get("/api/outages", auth=ADMIN).json()["outages"][0]
    assert heads(receiver) == ["Outage opened", "Outage resolved"]
    opened, resolved = said(receiver)
    assert (
        f"http://drainwatch.test/outages/{outage['id']}"
        in opened["blocks"][-1]["elements"][0]["text"]
    )
    assert "\nalready over" in opened["blocks"][0]["text"]["text"]
    facts = [f["text"] for f in resolved["blocks"][1]["fields"]]
    assert "*Severity*\nHIGH" in facts and "*Source*\napi" in facts
    assert "*Downtime*\n3 min 2 s" in facts
    texts = [b["text"]["text"] for b in resolved["blocks"] if b.get("text")]
    assert any(t.startswith("*Since:* 2025-09-19 12:50:01 UTC") for t in texts), texts
    assert any(t.startswith("*Status:* resolved at 12:53:03") for t in texts), texts


def test_incidents_that_join_an_open_outage_do_not_page_again(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    with serve(settings, clock, notify_interval_minutes=0, **slack(receiver)) as (
        client,
        runtime,
    ):
        ingest(client, runtime, DOWN)
        runtime.pager.run_once()
        for line in (MORE, MORE.replace("12:51:01", "12:52:01")):
            ingest(client, runtime, line)
            clock.advance(5)
            assert runtime.pager.run_once() == 0
        ingest(client, runtime, UP)
        clock.advance(5)
        assert runtime.pager.run_once() == 1
    assert heads(receiver) == ["Outage opened", "Outage resolved"]


def test_a_rise_in_severity_escalates_once(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    with serve(settings, clock, notify_interval_minutes=0, **slack(receiver)) as (
        client,
        runtime,
    ):
        ingest(client, runtime, DOWN)
        runtime.pager.run_once()
        ingest(client, runtime, NEON)
        clock.advance(5)
        assert runtime.pager.run_once() == 1
        ingest(client, runtime, NEON.replace("12:51:30", "12:51:40"))
        clock.advance(5)
        assert runtime.pager.run_once() == 0
    assert heads(receiver) == ["Outage opened", "Outage escalated"]
    escalated = said(receiver)[1]
    assert "severity rose from high to critical" in escalated["blocks"][0]["text"]["text"]
    assert "*Severity*\nCRITICAL" in [f["text"] for f in escalated["blocks"][1]["fields"]]


def test_a_rise_before_the_opening_is_sent_is_told_by_the_opening(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    with serve(settings, clock, **slack(receiver)) as (client, runtime):
        ingest(client, runtime, DOWN)
        ingest(client, runtime, NEON)
        runtime.pager.run_once()
    assert heads(receiver) == ["Outage opened"]
    assert "*Severity*\nCRITICAL" in [f["text"] for f in said(receiver)[0]["blocks"][1]["fields"]]


def test_an_outage_still_open_after_the_setting_escalates_once(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    with serve(settings, clock, notify_still_open_minutes=30, **slack(receiver)) as (
        client,
        runtime,
    ):
        ingest(client, runtime, DOWN)
        runtime.pager.run_once()
        clock.advance(29 * 60)
        assert runtime.pager.run_once() == 0
        clock.advance(2 * 60)
        assert runtime.pager.run_once() == 1
        clock.advance(60 * 60)
        assert runtime.pager.run_once() == 0
    assert heads(receiver) == ["Outage opened", "Outage escalated"]
    assert "still open after 30 min" in said(receiver)[1]["blocks"][0]["text"]["text"]


def test_a_resolution_not_sent_yet_is_superseded_when_the_outage_opens_again(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    again = DOWN.replace("12:50:01", "12:53:30").replace("try=1/5", "try=1/5 again")
    with serve(settings, clock, **slack(receiver)) as (client, runtime):
        ingest(client, runtime, DOWN + UP)
        runtime.pager.run_once()
        ingest(client, runtime, again)
        clock.advance(INTERVAL + 1)
        assert runtime.pager.run_once() == 0
        found = [(m.event, m.slack_status) for m in messages(runtime)]
        outage = client.get("/api/outages", auth=ADMIN).json()["outages"]
    assert heads(receiver) == ["Outage opened"]
    assert len(outage) == 1 and outage[0]["status"] == "open"
    assert found == [("outage.opened", "sent"), ("outage.resolved", "superseded")]


def test_slack_answering_500_is_retried_within_5_seconds_with_the_same_body(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    receiver.answers = [500]
    with serve(settings, clock, **slack(receiver)) as (client, runtime):
        ingest(client, runtime, DOWN)
        runtime.pager.run_once()
        [row] = messages(runtime)
        assert (row.slack_status, row.attempts, row.last_error) == ("pending", 1, "slack: HTTP 500")
        assert row.next_attempt_at - clock() <= timedelta(seconds=5)
        detail = client.get(f"/api/outages/{row.outage_id}", auth=ADMIN).json()
        clock.advance(5)
        assert runtime.pager.run_once() == 1
        [row] = messages(runtime)
    first, second = receiver.at("/slack")
    assert first.body == second.body
    assert (row.slack_status, row.email_status, row.attempts) == ("sent", "off", 2)
    [shown] = detail["notifications"]
    assert (shown["event"], shown["slack"], shown["last_error"]) == (
        "outage.opened",
        "pending",
        "slack: HTTP 500",
    )


def test_a_message_waits_for_the_earlier_one_of_its_outage(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    receiver.answers = [500, 500]
    with serve(settings, clock, notify_interval_minutes=0, **slack(receiver)) as (
        client,
        runtime,
    ):
        ingest(client, runtime, DOWN + UP)
        for _ in range(6):
            runtime.pager.run_once()
            clock.advance(2.5)
    assert heads(receiver) == ["Outage opened"] * 3 + ["Outage resolved"]


def test_a_hanging_receiver_does_not_hold_up_processing(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    held, release = threading.Event(), threading.Event()

    def hang(*_args: object) -> int:
        held.set()
        release.wait(30)
        return 200

    with serve(settings, clock, **slack(receiver)) as (client, runtime):
        runtime.pager.post = hang
        ingest(client, runtime, DOWN)
        runtime.pager.start()
        assert held.wait(10)
        ingest(client, runtime, MORE + UP)  # processed while the pager is stuck in a send
        source = client.get("/api/sources/api", auth=ADMIN).json()
        outage = client.get("/api/outages", auth=ADMIN).json()["outages"][0]
        release.set()
        runtime.pager.stop()
    assert source["lines_processed"] == source["lines_received"] == 3
    assert outage["status"] == "resolved"


def test_the_background_thread_sends_and_stops(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    with serve(settings, clock, **slack(receiver)) as (client, runtime):
        ingest(client, runtime, DOWN)
        runtime.pager.start()
        deadline = time.monotonic() + 10
        while not receiver.at("/slack") and time.monotonic() < deadline:
            time.sleep(0.01)
        runtime.pager.stop()
    assert heads(receiver) == ["Outage opened"]


def test_no_channel_configured_leaves_every_message_off(settings: Settings, clock: Clock) -> None:
    with serve(settings, clock) as (client, runtime):
        ingest(client, runtime, DOWN + UP)
        assert runtime.pager.run_once() == 2
        found = [(m.event, m.slack_status, m.email_status, m.attempts) for m in messages(runtime)]
    assert found == [("outage.opened", "off", "off", 0), ("outage.resolved", "off", "off", 0)]


TIMEOUT = "[2025-09-19 12:50:05 +0000] [7] [CRITICAL] WORKER TIMEOUT (pid:42)\n"
POOL = (
    "2025-09-19 12:50:20,100 - app - ERROR - sqlalchemy.exc.TimeoutError: QueuePool limit of"
    " size 5 overflow 10 reached, connection timed out, timeout 30.00\n"
)


def test_outages_merged_by_their_cause_keep_what_was_sent_and_drop_what_was_not(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    with serve(settings, clock, **slack(receiver)) as (client, runtime):
        ingest(client, runtime, TIMEOUT)
        runtime.pager.run_once()  # the first outage's opening goes out
        ingest(client, runtime, POOL)  # a second outage: its opening waits, not sent yet
        assert len(client.get("/api/outages", auth=ADMIN).json()["outages"]) == 2
        ingest(client, runtime, NEON.replace("12:51:30", "12:50:30"))  # the cause of both
        [outage] = client.get("/api/outages", auth=ADMIN).json()["outages"]
        found = [(m.outage_id, m.event, m.slack_status) for m in messages(runtime)]
    assert heads(receiver) == ["Outage opened"]
    assert found[:2] == [
        (outage["id"], "outage.opened", "sent"),
        (outage["id"], "outage.opened", "superseded"),
    ]
    # What the merged outage tells from here on: its rise to critical, its own message.
    assert [(event, status) for _, event, status in found[2:]] == [("outage.escalated", "pending")]
