"""Reading incidents and sources back, and their JSON form (CONTRACT.md §3 and §4)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from service.models import Incident, IncidentEvent, Source, TimelineEntry
from service.reports.timefmt import rfc3339

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
    statement = select(Incident)
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
        "resolved_at": rfc3339(incident.resolved_at),
        "resolution": incident.resolution or None,
        "previous_id": incident.previous_id,
    }


def incident_detail_json(session: Session, incident: Incident) -> dict[str, Any]:
    """Return the incident with its timeline and its first and latest events."""
    timeline = session.exec(
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident.id)
        .order_by(col(TimelineEntry.id))
    ).all()
    first = session.exec(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident.id)
        .order_by(col(IncidentEvent.id))
        .limit(SAMPLE_EVENTS // 2)
    ).all()
    latest = session.exec(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident.id)
        .order_by(col(IncidentEvent.id).desc())
        .limit(SAMPLE_EVENTS // 2)
    ).all()
    events = sorted({e.id: e for e in [*first, *latest]}.values(), key=lambda e: e.id or 0)
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
    }


def source_json(source: Source, pending: int = 0) -> dict[str, Any]:
    """Return a source's counters; lines still waiting in the spool count as received."""
    return {
        "name": source.name,
        "lines_received": source.lines_received + pending,
        "lines_processed": source.lines_processed,
        "last_line_at": rfc3339(source.last_line_at),
        "created_at": rfc3339(source.created_at),
        "has_token": source.token_hash is not None,
    }


def list_sources(session: Session) -> list[Source]:
    """Return every source, by name."""
    return list(session.exec(select(Source).order_by(col(Source.name))).all())
