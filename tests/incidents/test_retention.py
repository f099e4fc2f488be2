"""Retention purges old events but keeps each incident's evidence and its report's picture."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from service.incidents.lifecycle import attach_hit
from service.incidents.retention import EVIDENCE_KEPT, purge
from service.models import Incident, IncidentEvent, IncidentMinute, Notification
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


def test_notifications_go_once_delivered_or_given_up_longer_ago_than_retention(
    engine: Engine,
) -> None:
    sig = signature()
    with Session(engine) as session:
        ensure_source(session, "api", now=T0)
        incident = attach_hit(session, hit(sig, event("boom")), now=T0)
        assert incident is not None and incident.id is not None
        for delivered_at in (T0, T0 + timedelta(days=2), None):
            session.add(
                Notification(
                    incident_id=incident.id,
                    event="incident.opened",
                    created_at=T0,
                    next_attempt_at=T0,
                    webhook_status="pending" if delivered_at is None else "sent",
                    delivered_at=delivered_at,
                )
            )
        session.commit()
        result = purge(session, now=T0 + timedelta(days=31), retention_days=30)
        session.commit()
        left = session.exec(select(Notification.delivered_at).order_by(col(Notification.id)))
        assert result.notifications == 1
        # The first is the `incident.opened` that opening enqueued: not delivered yet, so kept.
        assert left.all() == [None, T0 + timedelta(days=2), None]
