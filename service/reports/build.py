"""Gather an incident's evidence and its signature's knowledge into one `OutageReport`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from service.incidents.deploys import borrowed_times
from service.incidents.queries import incident_instances, sample_events, timeline_entries
from service.models import Deploy, Incident, IncidentEndpoint, TimelineEntry
from service.outages.grouping import members
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
)
from service.reports.impact import Impact, gather_impact, incident_length, log_end
from service.reports.knowledge import evidence_values, filled_knowledge, variant_evidence
from service.reports.markdown import code, prose
from service.reports.timefmt import clock, duration, stamp
from service.reports.worked import what_worked
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
    impact: Impact
    # What ended the incident, as its timeline says (the recovery line, the endpoint answering).
    resolved_text: str
    url: str
    # Empty when the incident's evidence is exact; else what makes it weaker (`CONFIDENCE_NOTES`).
    confidence_note: str = ""
    # Which of the trigger's times ("started", "live", "failed") were lent, not logged: "about".
    trigger_about: frozenset[str] = frozenset()
    # The other incidents of its outage, first seen first.
    siblings: tuple[Incident, ...] = ()
    # What the log shows went right (503s instead of 500s, a recovery after N attempts).
    worked: tuple[str, ...] = ()


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
    end_of_log = log_end(session, incident)
    impact = gather_impact(session, incident, end_of_log)
    entries = timeline_entries(session, incident.id)
    resolved_text = _resolved_text(incident, entries)
    traceback = first_traceback(events, incident.source)
    endpoints = tuple(affected_endpoints(session, incident.id))
    evidence = evidence_values(
        incident.fields,
        frames=traceback.frames,
        exception=traceback.exception_type,
        endpoints=endpoints,
        instances=instances,
    )
    siblings = tuple(
        other
        for other in (members(session, incident.outage_id) if incident.outage_id else [])
        if other.id != incident.id
    )
    messages = distinct_messages(events)
    shown = variant_evidence(
        incident.fields,
        traceback=traceback,
        messages=messages,
        endpoints=endpoints,
        impact=impact,
        siblings=siblings,
    )
    knowledge = filled_knowledge(signature, incident.fields, evidence, shown) if signature else None
    resolved_by = (
        session.get(Deploy, incident.resolved_by_deploy_id)
        if incident.resolved_by_deploy_id
        else None
    )
    trigger = session.get(Deploy, incident.deploy_id) if incident.deploy_id else None
    deploys = deploys_around(session, incident)
    borrowed = {d.id: borrowed_times(session, d) for d in [*deploys, trigger] if d and d.id}
    return OutageReport(
        incident=incident,
        signature=signature,
        knowledge=knowledge,
        summary=_summary(incident, signature, len(instances), impact, resolved_text),
        duration=incident_length(incident, end_of_log),
        instances=tuple(instances),
        error_messages=messages,
        traceback=traceback,
        timeline=merged_timeline(
            entries,
            deploys,
            gaps_around(session, incident),
            borrowed,
        ),
        trigger=trigger,
        resolved_by=resolved_by,
        time_to_detect=_time_to_detect(incident),
        peak=peak_minute(minutes),
        minutes=tuple(minutes),
        endpoints=endpoints,
        impact=impact,
        resolved_text=resolved_text,
        url=f"{public_url.rstrip('/')}/incidents/{incident.id}",
        confidence_note=CONFIDENCE_NOTES.get(incident.confidence, ""),
        trigger_about=borrowed.get(trigger.id or 0, frozenset()) if trigger else frozenset(),
        siblings=siblings,
        worked=what_worked(
            incident, knowledge, resolved_text=resolved_text, resolved_by=resolved_by
        ),
    )


def _time_to_detect(incident: Incident) -> str | None:
    if incident.first_seen is None:
        return None
    lag = incident.opened_at - incident.first_seen
    return duration(lag) if timedelta(0) <= lag <= LIVE_DETECTION else None


def _resolved_text(incident: Incident, entries: list[TimelineEntry]) -> str:
    if incident.status != "resolved":
        return ""
    resolved = [entry.text for entry in entries if entry.kind == "resolved"]
    return resolved[-1] if resolved else ""


def _summary(
    incident: Incident,
    signature: Signature | None,
    instances: int,
    impact: Impact,
    resolved_text: str,
) -> str:
    where = f" from {instances} instances" if instances > 1 else ""
    if incident.first_seen is None:
        span = "the log carried no times"
    elif signature is not None and signature.kind == "absence":
        span = f"it began at {stamp(incident.first_seen)} and nothing that ends it followed"
    else:
        span = f"first at {stamp(incident.first_seen)}, last at {clock(incident.last_seen)}"
    if signature is not None and signature.kind == "absence":
        seen = f"Waited on, on source {code(incident.source)}{where}"
    else:
        times = "once" if incident.occurrences == 1 else f"{incident.occurrences} times"
        seen = f"Seen {times} on source {code(incident.source)}{where}"
    if incident.status == "resolved":
        how = {
            "recovered": "the log shows the recovery",
            "quiet": "no new hits came in its quiet period",
            "deploy": "a deploy after which it stayed silent while requests were answered",
            "manual": "resolved by hand, at the log's time then",
        }.get(incident.resolution, incident.resolution)
        if incident.resolution == "recovered" and resolved_text:
            how = f"{how}: {code(resolved_text[:200])}"
        state = f"Resolved at {stamp(incident.resolved_at)} ({how})"
    elif incident.status == "acknowledged":
        state = f"Acknowledged, not yet resolved: {impact.after}"
    else:
        state = f"Still open: {impact.after}"
    summary = f"{prose(incident.title)}. {seen}; {span}. {state}."
    note = CONFIDENCE_NOTES.get(incident.confidence)
    return f"{summary} The diagnosis is {note}." if note else summary
