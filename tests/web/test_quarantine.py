"""A line the processor cannot store is quarantined: counted on the source, listed with its reason
on /sources and in the JSON API, counted in /metrics; the other lines are stored."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

import service.processor
from tests.conftest import ADMIN, post_lines

PAYLOAD = "<script>alert(1)</script>"
LOG = f"""\
2025-09-19 12:43:13,100 INFO app: GET /health 200
2025-09-19 12:43:13,200 INFO app: POISON {PAYLOAD}
2025-09-19 12:43:14,551 ERROR app: NameError: name 'logger' is not defined
"""


@pytest.fixture(autouse=True)
def refuse_poison(monkeypatch: pytest.MonkeyPatch) -> None:
    real = service.processor.apply_events

    def refusing(session: Session, matcher: Any, events: Any, **kwargs: Any) -> Any:
        events = list(events)
        if any("POISON" in event.text for event in events):
            raise OverflowError("date value out of range")
        return real(session, matcher, events, **kwargs)

    monkeypatch.setattr(service.processor, "apply_events", refusing)


def test_a_quarantined_line_is_counted_listed_and_the_rest_processed(
    client: TestClient, runtime: Any
) -> None:
    post_lines(client, "api", LOG)
    runtime.processor.process_all()
    source = client.get("/api/sources/api", auth=ADMIN).json()
    assert (source["lines_received"], source["lines_processed"]) == (3, 2)
    assert source["lines_quarantined"] == 1
    [record] = client.get("/api/sources/api/quarantine", auth=ADMIN).json()["records"]
    assert record["reason"] == "OverflowError: date value out of range"
    assert record["message"] == f"app: POISON {PAYLOAD}"
    incidents = client.get("/api/incidents", auth=ADMIN).json()["incidents"]
    assert [incident["signature"] for incident in incidents] == ["python.name-error"]
    page = client.get("/sources", auth=ADMIN).text
    assert "Quarantined records" in page and "OverflowError: date value out of range" in page
    assert PAYLOAD not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    metrics = client.get("/metrics", auth=ADMIN).text
    assert 'drainwatch_lines_quarantined{source="api"} 1.0' in metrics


def test_a_source_without_quarantine_lists_nothing(client: TestClient, runtime: Any) -> None:
    post_lines(client, "api", "2025-09-19 12:43:13,100 INFO app: GET /health 200\n")
    runtime.processor.process_all()
    assert client.get("/api/sources/api/quarantine", auth=ADMIN).json() == {"records": []}
    assert "Quarantined records" not in client.get("/sources", auth=ADMIN).text


def test_a_damaged_spool_file_is_said_on_sources_healthz_and_metrics(
    client: TestClient, runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = "spool file malformed (quick_check: page 7); 12 batch(es) recovered, 1 unreadable"
    monkeypatch.setattr(type(runtime.spool), "damage", property(lambda self: note))
    assert note in client.get("/sources", auth=ADMIN).text
    assert client.get("/healthz").json()["spool_damage"] == note
    assert "drainwatch_spool_damaged 1.0" in client.get("/metrics", auth=ADMIN).text
