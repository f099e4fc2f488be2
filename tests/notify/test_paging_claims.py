"""Outage messages across processes: written with the outage change, they survive a restart of
the process that wrote them; two pagers on one database tell each once; log text is escaped in
every Slack block."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

from service.notify.paging import Pager
from service.settings import Settings
from tests.conftest import INGEST_TOKEN
from tests.notify.conftest import Clock, Receiver, serve
from tests.notify.test_deliver import ingest
from tests.notify.test_paging import DOWN, heads, messages, slack
from tests.test_xss import PAYLOADS, log_text


def test_a_message_written_before_a_restart_is_sent_after_it_once(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    with serve(settings, clock, **slack(receiver)) as (client, runtime):
        ingest(client, runtime, DOWN)  # the pager never runs in this process
    with serve(settings, clock, **slack(receiver)) as (_client, runtime):
        assert runtime.pager.run_once() == 1
        assert runtime.pager.run_once() == 0
    with serve(settings, clock, **slack(receiver)) as (_client, runtime):
        assert runtime.pager.run_once() == 0
        [row] = messages(runtime)
    assert heads(receiver) == ["Outage opened"]
    assert (row.slack_status, row.attempts) == ("sent", 1)


def test_two_pagers_on_one_database_tell_each_message_once(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    with serve(settings, clock, notify_interval_minutes=0, **slack(receiver)) as (client, runtime):
        for number in range(12):  # a source each: an outage each
            response = client.post(
                f"/drains/api{number}",
                content=DOWN.encode(),
                headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": "text/plain"},
            )
            assert response.status_code == 202, response.text
        runtime.processor.process_all()
        other = Pager(runtime.engine, runtime.pager.settings, runtime.pager.describe, clock=clock)
        pagers = [runtime.pager, other]
        threads = [threading.Thread(target=p.run_once) for p in pagers for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for pager in pagers:
            pager.run_once()
        outages = len({m.outage_id for m in messages(runtime)})
    sent = Counter(json.loads(r.body)["text"] for r in receiver.at("/slack"))
    assert sum(sent.values()) == outages == 12
    assert set(sent.values()) == {1}


def test_log_text_is_escaped_in_every_slack_block(
    settings: Settings, clock: Clock, receiver: Receiver
) -> None:
    with serve(settings, clock, notify_interval_minutes=0, **slack(receiver)) as (client, runtime):
        for number, payload in enumerate(PAYLOADS):
            ingest(client, runtime, log_text(payload).replace("12:43", f"1{number}:43"))
        for _ in range(3 * len(PAYLOADS)):
            if not runtime.pager.run_once():
                break
            clock.advance(2)
    bodies = [json.loads(r.body) for r in receiver.at("/slack")]
    assert len(bodies) >= len(PAYLOADS)
    texts = [body["text"] for body in bodies]
    for body in bodies:
        texts += [_text(block) for block in body["blocks"]]
    links = [t for t in texts if "<" in t]
    # The one link each message makes is the only `<` Slack will read as markup.
    assert all(
        t.count("<") == 1 and t.startswith("<http://drainwatch.test/outages/") for t in links
    )
    assert any("&lt;script data-xss&gt;" in t for t in texts)


def _text(block: dict[str, Any]) -> str:
    parts = [block.get("text", {}).get("text", "")]
    parts += [f["text"] for f in block.get("fields", []) + block.get("elements", [])]
    return "\n".join(p for p in parts if p)
