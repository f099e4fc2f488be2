"""Retention purges old events but keeps each incident's evidence and its report's picture."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from service.incidents.lifecycle import attach_hit
from service.incidents.retention import EVIDENCE_KEPT, purge
from service.models import Incident, IncidentEvent, IncidentMinute
from service.sources import ensure_source
from tests.factories import T0, event, hit, signature


def test_old_events_go_but_first_and_latest_stay(engine: Engine) -> None:
    sig = signature()
    with Session(engine) as session:
        ensure_source(session, "api", now=T0)
        for second in range(40):
            attach_hit(session, hit(sig, event(f"boom {second}", seconds=second * 30)), now=T0)
        session.commit()
        result = purge(session, now=T0 + timedelta(days=31), retention_days=30)
        session.commit()
        kept = session.exec(select(IncidentEvent.text).order_by(col(IncidentEvent.id))).all()
        assert result.events == 40 - 2 * EVIDENCE_KEPT
        assert kept[:EVIDENCE_KEPT] == [f"boom {i}" for i in range(EVIDENCE_KEPT)]
        assert kept[-EVIDENCE_KEPT:] == [f"boom {i}" for i in range(40 - EVIDENCE_KEPT, 40)]
        incident = session.exec(select(Incident)).one()
        assert incident.occurrences == 40
        assert session.exec(select(func.sum(IncidentMinute.hits))).one() == 40


def test_recent_events_stay(engine: Engine) -> None:
    sig = signature()
    with Session(engine) as session:
        ensure_source(session, "api", now=T0)
        for second in range(20):
            attach_hit(session, hit(sig, event("boom", seconds=second)), now=T0)
        session.commit()
        assert purge(session, now=T0 + timedelta(days=29), retention_days=30).events == 0
