"""The report's figures of impact, each with the window it was counted in: requests from the
first hit to the recovery (or to the end of the log), per failing endpoint, and what the log
shows after the last hit of an incident that is still open."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from service.models import Incident, IncidentEndpoint, IncidentImpact, IncidentRequest, Source
from service.reports.markdown import code
from service.reports.timefmt import between, clock, duration

MAX_ENDPOINTS = 10
_ENDS = {
    "recovered": "the recovery",
    "deploy": "the deploy",
    "quiet": "its last hit",
    "manual": "the hand resolve",
}


@dataclass(frozen=True)
class EndpointImpact:
    """One failing endpoint: requests to it in the incident's window, how many failed, how."""

    method: str
    path: str
    requests: int
    failed: int
    statuses: tuple[int, ...]


@dataclass(frozen=True)
class Impact:
    """What the report says about an incident's requests, in which window."""

    window: str
    requests: int
    failed: int
    clients: int
    endpoints: tuple[EndpointImpact, ...]
    after: str


def log_end(session: Session, incident: Incident) -> datetime | None:
    """Return the source's log clock: the latest log time seen on it."""
    source = session.exec(select(Source).where(Source.name == incident.source)).first()
    return source.last_log_time if source is not None else None


def window_end(incident: Incident, end_of_log: datetime | None) -> datetime | None:
    """Return where the incident's window ends: its resolution (for a quiet period, which only
    says nothing more came, its last hit), else the end of the log."""
    if incident.status == "resolved":
        if incident.resolution == "quiet" and incident.last_seen is not None:
            return incident.last_seen
        return incident.resolved_at
    times = [t for t in (end_of_log, incident.last_seen) if t is not None]
    return max(times) if times else None


def incident_length(incident: Incident, end_of_log: datetime | None) -> str:
    """Return how long the incident lasted or, still open, has lasted to the end of the log."""
    end = window_end(incident, end_of_log)
    if incident.first_seen is None or end is None:
        return "unknown"
    length = duration(between(incident.first_seen, end))
    if incident.status == "resolved":
        return length
    return f"{length} so far (from the first hit to the end of the log at {clock(end)})"


def gather_impact(session: Session, incident: Incident, end_of_log: datetime | None) -> Impact:
    """Collect the incident's request counts and name the window they were counted in."""
    assert incident.id is not None
    row = session.get(IncidentImpact, incident.id)
    end = window_end(incident, end_of_log)
    closing = (
        _ENDS.get(incident.resolution, "the resolution")
        if incident.status == "resolved"
        else "the end of the log"
    )
    window = f"from the first hit at {clock(incident.first_seen)} to {closing} at {clock(end)}"
    endpoints = _endpoints(session, incident.id)
    return Impact(
        window=window,
        requests=row.requests if row else 0,
        failed=row.failed if row else 0,
        clients=row.clients if row else 0,
        endpoints=endpoints,
        after=_after(incident, row, endpoints),
    )


def _endpoints(session: Session, incident_id: int) -> tuple[EndpointImpact, ...]:
    statuses: dict[tuple[str, str], set[int]] = {}
    credited = select(IncidentEndpoint).where(IncidentEndpoint.incident_id == incident_id)
    for endpoint in session.exec(credited).all():
        statuses.setdefault((endpoint.method, endpoint.path), set()).add(endpoint.status)
    statement = (
        select(IncidentRequest)
        .where(IncidentRequest.incident_id == incident_id)
        .order_by(
            col(IncidentRequest.failed).desc(),
            col(IncidentRequest.path),
            col(IncidentRequest.method),
        )
        .limit(MAX_ENDPOINTS)
    )
    return tuple(
        EndpointImpact(
            method=row.method,
            path=row.path,
            requests=row.requests,
            failed=row.failed,
            statuses=tuple(sorted(statuses.get((row.method, row.path), ()))),
        )
        for row in session.exec(statement).all()
    )


def _after(
    incident: Incident, row: IncidentImpact | None, endpoints: Sequence[EndpointImpact]
) -> str:
    """Return what the log shows after the last hit of an incident that is unresolved or that
    its quiet period resolved."""
    if incident.status == "resolved" and incident.resolution != "quiet":
        return ""
    if incident.last_seen is None:
        return "the log carried no times to count requests by"
    answered = row.answered_after if row else 0
    seen = f"no hit since {clock(incident.last_seen)}"
    if not answered:
        return f"{seen}; no request answered 2xx after that"
    noun = "request" if answered == 1 else "requests"
    text = f"{seen}; {answered} {noun} answered 2xx after that"
    if not endpoints:
        return text
    failing = row.failing_after if row else 0
    names = ", ".join(code(f"{e.method} {e.path}") for e in endpoints[:3])
    which = "the failing endpoint" if len(endpoints) == 1 else "the failing endpoints"
    return f"{text}, {failing or 'none'} to {which} ({names})"
