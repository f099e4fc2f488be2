"""Reading incidents and sources back, and their JSON form (CONTRACT.md §3 and §4)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from service.models import (
    VISIBLE_STATUSES,
    Incident,
    IncidentEvent,
    Notification,
    Source,
    TimelineEntry,
)

SAMPLE_EVENTS = 10


def list_incidents(
    session: Session,
    *,
    status: str | None = None,
    source: str | None = None,
    signature: str | None = None,
    limit: int = 500,
) -> list[Incident]:
    """Return incidents, newest first, filtered by status, source and signature."""
    statement = select(Incident).where(col(Incident.status).in_(VISIBLE_STATUSES))
    if status == "open":
        statement = statement.where(Incident.status != "resolved")
    elif status:
        statement = statement.where(Incident.status == status)
    if source:
        statement = statement.where(Incident.source == source)
    if signature:
        statement = statement.where(Incident.signature == signature)
    statement = statement.order_by(col(Incident.id).desc()).limit(limit)
    return list(session.exec(statement).all())


def incident_json(incident: Incident) -> dict[str, Any]:
    """Return the incident in the scan/API JSON shape."""
    return {
        "id": incident.id,
        "signature": incident.signature,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "source": incident.source,
        "first_seen": rfc3339(incident.first_seen),
        "last_seen": rfc3339(incident.last_seen),
        "occurrences": incident.occurrences,
        "fields": dict(incident.fields),
        "confidence": incident.confidence,
        "resolved_at": rfc3339(incident.resolved_at),
        "resolution": incident.resolution or None,
        "previous_id": incident.previous_id,
        "acknowledged_at": rfc3339(incident.acknowledged_at),
        "owner": incident.owner,
        "business_impact": incident.business_impact,
        "fix_commit": incident.fix_commit,
        "note": incident.note,
        "action_items": list(incident.action_items),
        "deploy_id": incident.deploy_id,
        "resolved_by_deploy_id": incident.resolved_by_deploy_id,
        "outage_id": incident.outage_id,
    }


def timeline_entries(session: Session, incident_id: int) -> list[TimelineEntry]:
    """Return an incident's timeline, in the order it happened."""
    return list(
        session.exec(
            select(TimelineEntry)
            .where(TimelineEntry.incident_id == incident_id)
            .order_by(col(TimelineEntry.id))
        ).all()
    )


def sample_events(
    session: Session, incident_id: int, count: int = SAMPLE_EVENTS
) -> list[IncidentEvent]:
    """Return an incident's first and latest events (half each), oldest first."""
    base = select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
    first = session.exec(base.order_by(col(IncidentEvent.id)).limit(count // 2)).all()
    latest = session.exec(base.order_by(col(IncidentEvent.id).desc()).limit(count // 2)).all()
    return sorted({e.id: e for e in [*first, *latest]}.values(), key=lambda e: e.id or 0)


def notifications_of(session: Session, incident_id: int) -> list[Notification]:
    """Return the notifications an incident gave rise to, oldest first."""
    return list(
        session.exec(
            select(Notification)
            .where(Notification.incident_id == incident_id)
            .order_by(col(Notification.id))
        ).all()
    )


def incident_instances(session: Session, incident_id: int) -> list[str]:
    """Return the instances (dynos, pids, containers) whose events hit the incident."""
    statement = (
        select(IncidentEvent.instance)
        .where(IncidentEvent.incident_id == incident_id, IncidentEvent.instance != "")
        .distinct()
    )
    return sorted(session.exec(statement).all())


def rfc3339(value: datetime | None) -> str | None:
    """Return the RFC 3339 form of `value`, or None."""
    return value.astimezone(UTC).isoformat() if value is not None else None


def incident_detail_json(session: Session, incident: Incident) -> dict[str, Any]:
    """Return the incident with its timeline, its first and latest events, its notifications."""
    assert incident.id is not None
    timeline = timeline_entries(session, incident.id)
    events = sample_events(session, incident.id)
    notifications = notifications_of(session, incident.id)
    return {
        **incident_json(incident),
        "timeline": [{"time": rfc3339(t.time), "kind": t.kind, "text": t.text} for t in timeline],
        "events": [
            {
                "time": rfc3339(e.time),
                "received_at": rfc3339(e.received_at),
                "instance": e.instance,
                "role": e.role,
                "text": e.text,
                "fields": dict(e.fields),
            }
            for e in events
        ],
        "notifications": [
            {
                "event": n.event,
                "created_at": rfc3339(n.created_at),
                "webhook": n.webhook_status,
                "slack": n.slack_status,
                "attempts": n.attempts,
                "last_error": n.last_error,
            }
            for n in notifications
        ],
    }


def source_json(source: Source, pending: int = 0) -> dict[str, Any]:
    """Return a source's counters; lines still waiting in the spool count as received."""
    return {
        "name": source.name,
        "lines_received": source.lines_received + pending,
        "lines_processed": source.lines_processed,
        "lines_quarantined": source.lines_quarantined,
        "last_line_at": rfc3339(source.last_line_at),
        "created_at": rfc3339(source.created_at),
        "has_token": source.token_hash is not None,
    }


def list_sources(session: Session) -> list[Source]:
    """Return every source, by name."""
    return list(session.exec(select(Source).order_by(col(Source.name))).all())
