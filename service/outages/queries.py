"""Reading outages back, and their JSON form (CONTRACT.md §3 and §4)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from service.incidents.queries import incident_json, rfc3339
from service.models import Incident, IncidentEvent, IncidentImpact, Outage, OutageNotification
from service.outages.grouping import members, outage_duration


def list_outages(
    session: Session,
    *,
    status: str | None = None,
    source: str | None = None,
    limit: int = 500,
) -> list[Outage]:
    """Return outages, newest first, filtered by status (`open`, `resolved`) and source."""
    statement = select(Outage)
    if status:
        statement = statement.where(Outage.status == status)
    if source:
        statement = statement.where(Outage.source == source)
    return list(session.exec(statement.order_by(col(Outage.id).desc()).limit(limit)).all())


def outage_instances(session: Session, incident_ids: list[int]) -> list[str]:
    """Return the instances (dynos, pids, containers) whose events hit any of the incidents."""
    if not incident_ids:
        return []
    statement = (
        select(IncidentEvent.instance)
        .where(col(IncidentEvent.incident_id).in_(incident_ids), IncidentEvent.instance != "")
        .distinct()
    )
    return sorted(session.exec(statement).all())


def busiest_impact(
    session: Session, incidents: list[Incident], cause_id: int | None = None
) -> IncidentImpact | None:
    """Return the request counts that speak for the outage: those of the incident whose window
    saw the most failed requests (the cause's on a tie, then the most requests).

    Each incident counts the requests from its first hit to its recovery; the windows of one
    outage overlap, so their sum would count a request twice.
    """
    ids = [i.id for i in incidents if i.id is not None]
    if not ids:
        return None
    statement = select(IncidentImpact).where(
        col(IncidentImpact.incident_id).in_(ids), IncidentImpact.requests > 0
    )
    rows = list(session.exec(statement).all())
    if not rows:
        return None
    return max(
        rows, key=lambda r: (r.failed, r.incident_id == cause_id, r.requests, -r.incident_id)
    )


def outage_impact(session: Session, outage: Outage, incidents: list[Incident]) -> dict[str, Any]:
    """Return what the outage's incidents add up to: hits, how long, on which instances."""
    duration = outage_duration(outage, incidents)
    ids = [i.id for i in incidents if i.id is not None]
    busiest = busiest_impact(session, incidents, outage.cause_id)
    return {
        "incidents": len(incidents),
        "occurrences": sum(i.occurrences for i in incidents),
        "requests": busiest.requests if busiest else 0,
        "failed_requests": busiest.failed if busiest else 0,
        "requests_counted_by": busiest.incident_id if busiest else None,
        "duration_seconds": int(duration.total_seconds()) if duration is not None else None,
        "instances": outage_instances(session, ids),
        "signatures": sorted({i.signature for i in incidents}),
    }


def outage_json(
    session: Session, outage: Outage, incidents: list[Incident] | None = None
) -> dict[str, Any]:
    """Return the outage in the scan/API JSON shape: its incident ids and impact."""
    assert outage.id is not None
    incidents = members(session, outage.id) if incidents is None else incidents
    return {
        "id": outage.id,
        "title": outage.title,
        "status": outage.status,
        "source": outage.source,
        "started_at": rfc3339(outage.started_at),
        "ended_at": rfc3339(outage.ended_at),
        "cause_id": outage.cause_id,
        "incidents": [i.id for i in incidents],
        "impact": outage_impact(session, outage, incidents),
    }


def outage_notifications(session: Session, outage_id: int) -> list[OutageNotification]:
    """Return the outage's messages (Slack, email), oldest first."""
    statement = (
        select(OutageNotification)
        .where(OutageNotification.outage_id == outage_id)
        .order_by(col(OutageNotification.id))
    )
    return list(session.exec(statement).all())


def notification_json(message: OutageNotification) -> dict[str, Any]:
    """Return one outage message's delivery state: per target, attempts, the last error."""
    return {
        "id": message.id,
        "event": message.event,
        "reason": message.reason,
        "created_at": rfc3339(message.created_at),
        "slack": message.slack_status,
        "email": message.email_status,
        "attempts": message.attempts,
        "next_attempt_at": rfc3339(message.next_attempt_at),
        "delivered_at": rfc3339(message.delivered_at),
        "last_error": message.last_error,
    }


def outage_detail_json(session: Session, outage: Outage) -> dict[str, Any]:
    """Return the outage with its incidents in full, and how its messages were delivered."""
    assert outage.id is not None
    incidents = members(session, outage.id)
    return {
        **outage_json(session, outage, incidents),
        "incidents": [incident_json(i) for i in incidents],
        "notifications": [notification_json(n) for n in outage_notifications(session, outage.id)],
    }
