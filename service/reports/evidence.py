"""The evidence a report quotes: distinct messages, traceback frames, hits per minute, and the
deploys around an incident, merged with its own timeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, func, select

from service.incidents.gaps import gaps_between
from service.ingest.assemble import assemble
from service.ingest.headers import parse_text
from service.ingest.records import Frame
from service.ingest.tracebacks import exception_chain
from service.models import (
    Deploy,
    Incident,
    IncidentEndpoint,
    IncidentEvent,
    IncidentMinute,
    TimelineEntry,
    TrafficMinute,
)
from service.reports.folding import fold_event

MAX_MESSAGES = 3
DEPLOY_WINDOW = timedelta(hours=2)
GAP_WINDOW = timedelta(minutes=15)
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class TimelineRow:
    """One row of the report's timeline table."""

    time: datetime | None
    kind: str
    text: str
    about: bool = False  # the time was lent by the log lines around it, not logged


@dataclass(frozen=True)
class Traceback:
    """What the first traceback of an incident says: its frames and its exception chain."""

    frames: tuple[Frame, ...]
    chain: tuple[tuple[str, str], ...]

    @property
    def exception_type(self) -> str:
        """Return the final exception's type, or an empty string."""
        return self.chain[-1][0] if self.chain else ""

    @property
    def application_frames(self) -> tuple[Frame, ...]:
        """Return the frames of the application's own code."""
        return tuple(frame for frame in self.frames if frame.is_application)


def distinct_messages(events: Sequence[IncidentEvent]) -> tuple[str, ...]:
    """Return up to three events whose last lines differ, first seen first, library frames
    folded."""
    seen: dict[str, str] = {}
    for event in events:
        text = event.text.strip()
        last = text.rsplit("\n", 1)[-1]
        if text and last not in seen:
            seen[last] = fold_event(text)
        if len(seen) >= MAX_MESSAGES:
            break
    return tuple(seen.values())


def first_traceback(events: Sequence[IncidentEvent], source: str) -> Traceback:
    """Return the frames and exception chain of the first event that holds a traceback."""
    for event in events:
        for assembled in assemble(parse_text(event.text, source=source)):
            if assembled.frames:
                return Traceback(assembled.frames, tuple(exception_chain(assembled)))
    return Traceback((), ())


def minute_counts(session: Session, incident_id: int) -> list[tuple[datetime, int]]:
    """Return (minute, hits) of the incident, in time order (kept when events are purged)."""
    statement = (
        select(IncidentMinute)
        .where(IncidentMinute.incident_id == incident_id)
        .order_by(col(IncidentMinute.minute))
    )
    return [(row.minute, row.hits) for row in session.exec(statement).all()]


def affected_endpoints(session: Session, incident_id: int) -> list[IncidentEndpoint]:
    """Return the failed requests logged next to the incident's hits, most frequent first."""
    statement = (
        select(IncidentEndpoint)
        .where(IncidentEndpoint.incident_id == incident_id)
        .order_by(col(IncidentEndpoint.hits).desc(), col(IncidentEndpoint.path))
        .limit(10)
    )
    return list(session.exec(statement).all())


def traffic_during(session: Session, incident: Incident) -> tuple[int, int]:
    """Return (requests, server errors) the source logged while the incident lasted."""
    end = incident.resolved_at or incident.last_seen
    if incident.first_seen is None or end is None:
        return 0, 0
    start = incident.first_seen.replace(second=0, microsecond=0)
    statement = select(
        func.coalesce(func.sum(TrafficMinute.requests), 0),
        func.coalesce(func.sum(TrafficMinute.errors), 0),
    ).where(
        TrafficMinute.source == incident.source,
        col(TrafficMinute.minute) >= start,
        col(TrafficMinute.minute) <= end,
    )
    requests, errors = session.exec(statement).one()
    return int(requests), int(errors)


def peak_minute(minutes: Sequence[tuple[datetime, int]]) -> tuple[datetime, int] | None:
    """Return the minute with the most hits and its count (the earliest on a tie)."""
    if not minutes:
        return None
    return min(minutes, key=lambda item: (-item[1], item[0]))


def deploys_around(session: Session, incident: Incident) -> list[Deploy]:
    """Return the source's deploys from shortly before the incident to shortly after its end."""
    if incident.first_seen is None:
        return []
    end = incident.resolved_at or incident.last_seen or incident.first_seen
    return deploys_between(session, incident.source, incident.first_seen, end)


def deploys_between(session: Session, source: str, start: datetime, end: datetime) -> list[Deploy]:
    """Return the source's deploys placed from shortly before `start` to shortly after `end`."""
    # A deploy whose start the log does not give is placed by when it went live or failed.
    placed = func.coalesce(Deploy.started_at, Deploy.live_at, Deploy.failed_at)
    statement = (
        select(Deploy)
        .where(
            Deploy.source == source,
            placed >= start - DEPLOY_WINDOW,
            placed <= end + DEPLOY_WINDOW,
        )
        .order_by(placed, col(Deploy.id))
    )
    return list(session.exec(statement).all())


def gaps_around(session: Session, incident: Incident) -> list[TimelineEntry]:
    """Return the source's data gaps from shortly before the incident to shortly after its end."""
    if incident.first_seen is None:
        return []
    end = incident.resolved_at or incident.last_seen or incident.first_seen
    return gaps_between(
        session, incident.source, incident.first_seen - GAP_WINDOW, end + GAP_WINDOW
    )


def merged_timeline(
    entries: Sequence[TimelineEntry],
    deploys: Sequence[Deploy],
    gaps: Sequence[TimelineEntry] = (),
    borrowed: Mapping[int, frozenset[str]] | None = None,
) -> tuple[TimelineRow, ...]:
    """Return the incident's own timeline with the deploys and data gaps around it, by time.

    `borrowed` names, per deploy id, the times that were lent rather than logged (`about`).
    """
    rows = [TimelineRow(e.time, e.kind, e.text) for e in entries]
    rows += [TimelineRow(gap.time, "data gap", gap.text) for gap in gaps]
    for deploy in deploys:
        label = f" {deploy.version}" if deploy.version else ""
        lent = (borrowed or {}).get(deploy.id or 0, frozenset())
        if deploy.started_at is not None:
            text = f"{deploy.platform} deploy{label}"
            rows.append(TimelineRow(deploy.started_at, "deploy started", text, "started" in lent))
        if deploy.live_at is not None and deploy.live_at != deploy.started_at:
            text = f"{deploy.platform} deploy{label} is live"
            rows.append(TimelineRow(deploy.live_at, "deploy live", text, "live" in lent))
        if deploy.failed_at is not None:
            rows.append(
                TimelineRow(deploy.failed_at, "deploy failed", deploy.detail, "failed" in lent)
            )
    order = {"deploy started": 0, "deploy live": 1, "deploy failed": 1}
    return tuple(
        sorted(rows, key=lambda r: (r.time is None, r.time or _NEVER, order.get(r.kind, 2)))
    )


def worker_pids(instances: Sequence[str]) -> bool:
    """Return True when the instances a log names are worker processes of one host (gunicorn's
    `[27]`), not hosts or dynos (`web.1`)."""
    return bool(instances) and all(instance.isdigit() for instance in instances)


def instance_words(instances: Sequence[str]) -> str:
    """Return `2 instances` or `2 worker processes`, as the log names them."""
    noun = "worker process" if worker_pids(instances) else "instance"
    plural = "es" if noun.endswith("s") else "s"
    return f"{len(instances)} {noun}{plural if len(instances) != 1 else ''}"
