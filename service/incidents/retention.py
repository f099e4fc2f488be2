"""Retention: events older than the retention period go; incidents, their first and latest
events (the evidence a report quotes), their per-minute counts and timelines stay. Notifications
(incident and outage ones) go once delivered (or given up) longer ago than the retention period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlmodel import Session, col

from service.models import (
    AppliedBatch,
    IncidentEvent,
    LoginSession,
    Notification,
    OutageNotification,
)

EVIDENCE_KEPT = 5


@dataclass(frozen=True)
class Purged:
    """How many rows one purge removed."""

    events: int
    batches: int
    logins: int
    notifications: int


def purge(session: Session, *, now: datetime, retention_days: int) -> Purged:
    """Delete what is older than the retention period, keeping every incident's evidence."""
    cutoff = now - timedelta(days=retention_days)
    ranked = select(
        col(IncidentEvent.id).label("id"),
        func.row_number()
        .over(partition_by=col(IncidentEvent.incident_id), order_by=col(IncidentEvent.id))
        .label("first_rank"),
        func.row_number()
        .over(partition_by=col(IncidentEvent.incident_id), order_by=col(IncidentEvent.id).desc())
        .label("last_rank"),
    ).subquery()
    evidence = select(ranked.c.id).where(
        or_(ranked.c.first_rank <= EVIDENCE_KEPT, ranked.c.last_rank <= EVIDENCE_KEPT)
    )
    stamp = func.coalesce(IncidentEvent.received_at, IncidentEvent.time)
    events = session.execute(
        delete(IncidentEvent).where(stamp < cutoff, col(IncidentEvent.id).not_in(evidence))
    )
    batches = session.execute(delete(AppliedBatch).where(col(AppliedBatch.applied_at) < cutoff))
    logins = session.execute(delete(LoginSession).where(col(LoginSession.expires_at) < now))
    notifications = session.execute(
        delete(Notification).where(col(Notification.delivered_at) < cutoff)
    )
    messages = session.execute(
        delete(OutageNotification).where(col(OutageNotification.delivered_at) < cutoff)
    )
    return Purged(
        events.rowcount,  # type: ignore[attr-defined]
        batches.rowcount,  # type: ignore[attr-defined]
        logins.rowcount,  # type: ignore[attr-defined]
        notifications.rowcount + messages.rowcount,  # type: ignore[attr-defined]
    )
