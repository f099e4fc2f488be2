"""The outbox: each incident event is written once, in the transaction that caused it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from service.incidents.lifecycle import attach_hit
from service.incidents.operator import IncidentUpdate, update_incident
from service.models import Incident, Notification
from service.notify.outbox import is_escalation
from service.sources import ensure_source
from tests.factories import T0, event, hit, signature

NOW = T0 + timedelta(days=30)


@pytest.mark.parametrize(
    ("occurrences", "escalates"),
    [(1, False), (9, False), (10, True), (11, False), (20, False), (100, True), (1000, True)],
)
def test_escalation_is_each_power_of_ten(occurrences: int, escalates: bool) -> None:
    assert is_escalation(occurrences) is escalates


def events(session: Session) -> list[tuple[int, str]]:
    rows = session.exec(select(Notification).order_by(col(Notification.id))).all()
    return [(row.incident_id, row.event) for row in rows]


def test_open_escalate_resolve_recur_each_write_one_event(engine: Engine) -> None:
    sig = signature("app.outage", kind="pair", quiet_minutes=60)
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        for second in range(12):
            attach_hit(session, hit(sig, event("[DB_DOWN]", seconds=second)), now=NOW)
        attach_hit(session, hit(sig, event("[DB_RECOVERED]", seconds=20), role="close"), now=NOW)
        attach_hit(session, hit(sig, event("[DB_DOWN]", seconds=600)), now=NOW)
        session.commit()
        first, second = session.exec(select(Incident).order_by(col(Incident.id))).all()
        assert events(session) == [
            (first.id, "incident.opened"),
            (first.id, "incident.escalated"),
            (first.id, "incident.resolved"),
            (second.id, "incident.recurred"),
        ]
        row = session.exec(select(Notification)).first()
        assert row is not None and row.payload == {} and row.webhook_status == "pending"


def test_acknowledging_and_notes_tell_no_one_but_a_manual_resolve_does(engine: Engine) -> None:
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        incident = attach_hit(session, hit(signature(), event("boom")), now=NOW)
        assert incident is not None and incident.id is not None
        update_incident(
            session, incident, IncidentUpdate(status="acknowledged"), user="ann", now=NOW
        )
        update_incident(session, incident, IncidentUpdate(note="looking"), user="ann", now=NOW)
        update_incident(session, incident, IncidentUpdate(status="resolved"), user="ann", now=NOW)
        session.commit()
        assert [name for _, name in events(session)] == ["incident.opened", "incident.resolved"]


def test_a_pending_threshold_incident_tells_no_one_until_it_opens(engine: Engine) -> None:
    sig = signature("http.server-errors", kind="threshold", threshold=12, window_seconds=300)
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        for second in range(11):
            attach_hit(session, hit(sig, event("500", seconds=second)), now=NOW)
        assert events(session) == []
        attach_hit(session, hit(sig, event("500", seconds=12)), now=NOW)
        session.commit()
        assert [name for _, name in events(session)] == ["incident.opened"]


def test_a_scan_into_a_served_database_tells_no_one(engine: Engine) -> None:
    from service.runtime import SignatureBook
    from service.scan import OFFLINE, ScanInput, scan_inputs
    from service.settings import Settings

    book = SignatureBook(Settings(_env_file=None))  # type: ignore[call-arg]
    log = Path(__file__).parents[2] / "sample_logs" / "scenarios" / "seed_db_outage" / "input.log"
    scan_inputs(engine, book.matcher, [ScanInput(str(log), "api")], now=OFFLINE)
    with Session(engine) as session:
        assert session.exec(select(Incident)).first() is not None
        assert events(session) == []
