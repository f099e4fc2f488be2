"""Gather an incident's evidence and its signature's knowledge into one `OutageReport`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlmodel import Session

from service.incidents.actions import ActionItem
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
    worker_pids,
)
from service.reports.headline import incident_headline
from service.reports.impact import Impact, gather_impact, incident_length, log_end
from service.reports.knowledge import evidence_values, filled_knowledge, variant_evidence
from service.reports.postmortem import (
    Detection,
    action_items,
    contributing_factors,
    detection,
    lessons,
)
from service.reports.severity import Assessment, assess
from service.reports.steps import NO_FIX, FixExcerpt, after_first_step, condense, fix_excerpt
from service.reports.worked import what_worked
from service.signatures.model import CONFIDENCE_NOTES, Knowledge, Signature
from service.signatures.variants import Evidence

__all__ = ["OutageReport", "TimelineRow", "build_report", "filled_knowledge", "incident_duration"]


@dataclass(frozen=True)
class OutageReport:
    """Everything a report says, in the order it says it."""

    incident: Incident
    signature: Signature | None
    knowledge: Knowledge | None
    duration: str
    instances: tuple[str, ...]
    error_messages: tuple[str, ...]
    traceback: Traceback
    timeline: tuple[TimelineRow, ...]
    trigger: Deploy | None
    resolved_by: Deploy | None
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
    # The level its evidence gives it, and why; the report's first lines; the fix as it shows it.
    severity: Assessment | None = None
    headline: tuple[str, ...] = ()
    fix: FixExcerpt = NO_FIX
    # Action items: the operator's, or (`suggested`) the report's own from the signature.
    actions: tuple[ActionItem, ...] = ()
    suggested: bool = True
    detection: Detection | None = None
    factors: tuple[str, ...] = ()
    lessons: tuple[str, ...] = ()
    # The root cause as the report shows it, and whether generic paragraphs were left out of it.
    root_cause: str = ""
    root_cause_cut: bool = False
    # What the log shows went right (503s instead of 500s, a recovery after N attempts).
    worked: tuple[str, ...] = ()
    # It recovered with no deploy between its first hit and the recovery (`recovered_alone`).
    recovered_alone: bool = False
    # The incident this one is a recurrence of, and the deploy that one came after.
    previous: Incident | None = None
    previous_trigger: Deploy | None = None


def incident_duration(incident: Incident) -> timedelta | None:
    """Return how long the incident lasted (to its resolution) or has lasted (to its last hit)."""
    end = incident.resolved_at if incident.status == "resolved" else incident.last_seen
    if incident.first_seen is None or end is None:
        return None
    return end - incident.first_seen


def recovered_alone(incident: Incident, deploys: Sequence[Deploy]) -> bool:
    """Return True when the incident recovered with no deploy starting or going live between its
    first hit and its recovery (so what failed came back by itself: no code or setting changed)."""
    if incident.status != "resolved" or incident.resolution != "recovered":
        return False
    if incident.resolved_by_deploy_id or incident.first_seen is None:
        return False
    start, end = (
        incident.first_seen,
        incident.resolved_at or incident.last_seen or incident.first_seen,
    )
    return not any(
        start <= moment <= end
        for deploy in deploys
        for moment in (deploy.started_at, deploy.live_at)
        if moment is not None
    )


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
    deploys = deploys_around(session, incident)
    shown = variant_evidence(
        incident.fields,
        traceback=traceback,
        messages=messages,
        endpoints=endpoints,
        impact=impact,
        siblings=siblings,
        recovered_alone=recovered_alone(incident, deploys),
    )
    knowledge = filled_knowledge(signature, incident.fields, evidence, shown) if signature else None
    resolved_by = (
        session.get(Deploy, incident.resolved_by_deploy_id)
        if incident.resolved_by_deploy_id
        else None
    )
    trigger = session.get(Deploy, incident.deploy_id) if incident.deploy_id else None
    previous = session.get(Incident, incident.previous_id) if incident.previous_id else None
    previous_trigger = (
        session.get(Deploy, previous.deploy_id) if previous and previous.deploy_id else None
    )
    borrowed = {d.id: borrowed_times(session, d) for d in [*deploys, trigger] if d and d.id}
    report = OutageReport(
        incident=incident,
        signature=signature,
        knowledge=knowledge,
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
        recovered_alone=shown.recovered_alone,
        previous=previous,
        previous_trigger=previous_trigger,
    )
    return _with_form(report, shown)


def _with_form(report: OutageReport, shown: Evidence | None = None) -> OutageReport:
    """Return the report with the parts drawn from the rest of it: its severity, first lines,
    fix excerpt, action items, detection times, contributing factors and lessons."""
    alone = not report.siblings and (report.signature is None or report.signature.kind == "single")
    actions, suggested = action_items(report)
    root_cause, cut = "", False
    if report.knowledge is not None and report.signature is not None:
        raw = report.signature.knowledge_for(report.incident.fields, shown).root_cause
        root_cause, cut = condense(report.knowledge.root_cause, raw)
    return replace(
        report,
        severity=assess(
            report.incident,
            report.impact,
            # Several worker processes of one host hit is no wider than one: hosts count.
            instances=0 if worker_pids(report.instances) else len(report.instances),
            alone=alone,
        ),
        headline=incident_headline(report),
        fix=(
            after_first_step(fix_excerpt(report.knowledge.fix), report.knowledge.fix)
            if report.knowledge
            else NO_FIX
        ),
        actions=actions,
        suggested=suggested,
        detection=detection(report),
        factors=contributing_factors(report),
        lessons=lessons(report),
        root_cause=root_cause,
        root_cause_cut=cut,
    )


def _resolved_text(incident: Incident, entries: list[TimelineEntry]) -> str:
    if incident.status != "resolved":
        return ""
    resolved = [entry.text for entry in entries if entry.kind == "resolved"]
    return resolved[-1] if resolved else ""
