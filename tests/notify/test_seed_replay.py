"""The issue's "done when", in miniature: Slack and email configured as a new user would, the seed
004 outage log (Neon disabled, DB_DOWN loops) replayed over the drain batch by batch, and exactly
one message when the outage opens and one when it resolves, with the downtime, on each channel."""

from __future__ import annotations

import json
from typing import Any

from service.settings import Settings
from tests.conftest import ADMIN, INGEST_TOKEN, ROOT
from tests.notify.conftest import Clock, Receiver, serve
from tests.notify.mailbox import Mailbox, smtp_server

SEED = ROOT / "sample_logs" / "scenarios" / "seed_db_outage" / "input.log"
BATCH_LINES = 8
# A drain posts about every few seconds; the log's four minutes take about as long to arrive.
SECONDS_PER_BATCH = 15.0


def test_seed_004_replayed_over_the_drain_tells_one_opening_and_one_resolution(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    lines = SEED.read_text().splitlines(keepends=True)
    box = Mailbox()
    with smtp_server(box) as (host, port):
        channels: dict[str, Any] = {
            "slack_webhook_url": receiver.url("/slack"),
            "smtp_host": host,
            "smtp_port": port,
            "smtp_to": "oncall@example.com",
        }
        with serve(settings, clock, **channels) as (client, runtime):
            told = []
            for start in range(0, len(lines), BATCH_LINES):
                response = client.post(
                    "/drains/seed_db_outage",
                    content="".join(lines[start : start + BATCH_LINES]).encode(),
                    headers={
                        "Authorization": f"Bearer {INGEST_TOKEN}",
                        "Content-Type": "text/plain",
                    },
                )
                assert response.status_code == 202, response.text
                runtime.processor.process_all()
                runtime.pager.run_once()
                told.append(len(receiver.at("/slack")))
                clock.advance(SECONDS_PER_BATCH)
            for _ in range(12):  # the next two hours: nothing more to tell
                clock.advance(600)
                runtime.pager.run_once()
            outages = client.get("/api/outages", auth=ADMIN).json()["outages"]
    assert len(outages) == 1 and outages[0]["status"] == "resolved"
    slack = [json.loads(r.body) for r in receiver.at("/slack")]
    assert [m["text"].split(":", 1)[0] for m in slack] == ["Outage opened", "Outage resolved"]
    assert told[0] == 0 and told[-1] == 1  # opened while the log was still arriving
    opened, resolved = slack
    assert "[CRITICAL]" in opened["text"]
    facts = [f["text"] for f in resolved["blocks"][1]["fields"]]
    assert "*Downtime*\n3 min 28 s" in facts
    texts = " ".join(b["text"]["text"] for b in resolved["blocks"] if b.get("text"))
    assert "until 2025-10-09 07:47:42 UTC (3 min 28 s)" in texts
    assert "DB\\_RECOVERED" not in texts and "[DB_RECOVERED] op=whatsapp_session_loop" in texts
    subjects = [mail.message["Subject"] for mail in box.mails]
    assert [s.split(":", 1)[0] for s in subjects] == [
        "[drainwatch] Outage opened",
        "[drainwatch] Outage resolved",
    ]
    text = box.mails[1].message.get_body(("plain",))
    assert text is not None
    assert "(3 min 28 s)" in text.get_content()
