"""Gather an incident's evidence and its signature's knowledge into one `OutageReport`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from service.incidents.deploys import borrowed_times
from service.incidents.queries import incident_instances, sample_events, timeline_entries
from service.models import Deploy, Incident, IncidentEndpoint
from service.reports.evidence import (
    TimelineRow,
    Traceback,
    affected_endpoints,
    deploys_around,
    distinct_messages,
    first_traceback,
    gaps_around,
    merged_timeline,
    minute_counts,
    peak_minute,
    traffic_during,
)
from service.reports.knowledge import evidence_values, filled_knowledge
from service.reports.markdown import code, prose
from service.reports.timefmt import clock, duration, stamp
from service.signatures.model import CONFIDENCE_NOTES, Knowledge, Signature

# Opening an incident long after its first hit means the log was scanned later, not detected late.
LIVE_DETECTION = timedelta(hours=1)

__all__ = ["OutageReport", "TimelineRow", "build_report", "filled_knowledge", "incident_duration"]


@dataclass(frozen=True)
class OutageReport:
    """Everything a report says, in the order it says it."""

    incident: Incident
    signature: Signature | None
    knowledge: Knowledge | None
    summary: str
    duration: str
    instances: tuple[str, ...]
    error_messages: tuple[str, ...]
    traceback: Traceback
    timeline: tuple[TimelineRow, ...]
    trigger: Deploy | None
    resolved_by: Deploy | None
    time_to_detect: str | None
    peak: tuple[datetime, int] | None
    minutes: tuple[tuple[datetime, int], ...]
    endpoints: tuple[IncidentEndpoint, ...]
    requests: int
    server_errors: int
    url: str
    # Empty when the incident's evidence is exact; else what makes it weaker (`CONFIDENCE_NOTES`).
    confidence_note: str = ""
    # Which of the trigger's times ("started", "live", "failed") were lent, not logged: "about".
    trigger_about: frozenset[str] = frozenset()


def incident_duration(incident: Incident) -> timedelta | None:
    """Return how long the incident lasted (to its resolution) or has lasted (to its last hit)."""
    end = incident.resolved_at if incident.status == "resolved" else incident.last_seen
    if incident.first_seen is None or end is None:
        return None
    return end - incident.first_seen


def build_report(
    session: Session,
    incident: Incident,
    signatures: Mapping[str, Signature],
    *,
    public_url: str,
) -> OutageReport:
    """Collect the evidence of one incident into a report."""
    assert incident.id is not None
    events = sample_events(session, incident.id)
    instances = incident_instances(session, incident.id)
    signature = signatures.get(incident.signature)
    minutes = minute_counts(session, incident.id)
    requests, errors = traffic_during(session, incident)
    traceback = first_traceback(events, incident.source)
    endpoints = tuple(affected_endpoints(session, incident.id))
    evidence = evidence_values(
        incident.fields,
        frames=traceback.frames,
        exception=traceback.exception_type,
        endpoints=endpoints,
        instances=instances,
    )
    trigger = session.get(Deploy, incident.deploy_id) if incident.deploy_id else None
    deploys = deploys_around(session, incident)
    borrowed = {d.id: borrowed_times(session, d) for d in [*deploys, trigger] if d and d.id}
    return OutageReport(
        incident=incident,
        signature=signature,
        knowledge=filled_knowledge(signature, incident.fields, evidence) if signature else None,
        summary=_summary(incident, len(instances)),
        duration=duration(incident_duration(incident)),
        instances=tuple(instances),
        error_messages=distinct_messages(events),
        traceback=traceback,
        timeline=merged_timeline(
            timeline_entries(session, incident.id),
            deploys,
            gaps_around(session, incident),
            borrowed,
        ),
        trigger=trigger,
        resolved_by=(
            session.get(Deploy, incident.resolved_by_deploy_id)
            if incident.resolved_by_deploy_id
            else None
        ),
        time_to_detect=_time_to_detect(incident),
        peak=peak_minute(minutes),
        minutes=tuple(minutes),
        endpoints=endpoints,
        requests=requests,
        server_errors=errors,
        url=f"{public_url.rstrip('/')}/incidents/{incident.id}",
        confidence_note=CONFIDENCE_NOTES.get(incident.confidence, ""),
        trigger_about=borrowed.get(trigger.id or 0, frozenset()) if trigger else frozenset(),
    )


def _time_to_detect(incident: Incident) -> str | None:
    if incident.first_seen is None:
        return None
    lag = incident.opened_at - incident.first_seen
    return duration(lag) if timedelta(0) <= lag <= LIVE_DETECTION else None


def _summary(incident: Incident, instances: int) -> str:
    times = "once" if incident.occurrences == 1 else f"{incident.occurrences} times"
    where = f" from {instances} instances" if instances > 1 else ""
    span = (
        f"first at {stamp(incident.first_seen)}, last at {clock(incident.last_seen)}"
        if incident.first_seen
        else "the log carried no times"
    )
    if incident.status == "resolved":
        how = {
            "recovered": "the log shows the recovery",
            "quiet": "no new hits came in its quiet period",
            "deploy": "a deploy after which it stayed silent",
            "manual": "resolved by hand",
        }.get(incident.resolution, incident.resolution)
        state = f"Resolved at {stamp(incident.resolved_at)} ({how})"
    elif incident.status == "acknowledged":
        state = "Acknowledged, not yet resolved"
    else:
        state = "Still open: no recovery signal in the log yet"
    summary = (
        f"{prose(incident.title)}. Seen {times} on source {code(incident.source)}{where}; "
        f"{span}. {state}."
    )
    note = CONFIDENCE_NOTES.get(incident.confidence)
    return f"{summary} The diagnosis is {note}." if note else summary
