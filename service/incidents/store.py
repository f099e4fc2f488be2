"""Incident rows: find, create (racing other processes safely), resolve, discard, and the rows
that hang off an incident (events, per-minute counts, timeline entries)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from service.db import race_guard, utcnow
from service.incidents import minutes
from service.incidents.deploys import blamed_deploy
from service.incidents.minutes import forget_minutes
from service.models import (
    ACTIVE_STATUSES,
    Incident,
    IncidentEndpoint,
    IncidentEvent,
    IncidentImpact,
    IncidentMinute,
    IncidentRequest,
    Notification,
    Outage,
    TimelineEntry,
)
from service.notify.outbox import enqueue
from service.outages.grouping import note_recovery, refresh_outage
from service.signatures.model import Hit
from service.transactions import remembered


def load_active(session: Session, sources: Iterable[str]) -> None:
    """Look up the unresolved incidents of these sources in one statement, locking their rows,
    so that `find_active` need not ask again for them until the transaction ends.

    Only one processor stores a source's lines at a time (it holds the source's row), so what
    this transaction does not create itself cannot appear meanwhile; should it all the same,
    the unique index refuses the second and `create_incident` joins the first.
    """
    covered = _covered(session)
    names = sorted(set(sources) - covered)
    if not names:
        return
    # By status, not `!= 'resolved'`: the index on (source, status) then finds only these.
    statement = select(Incident).where(
        col(Incident.source).in_(names), col(Incident.status).in_(ACTIVE_STATUSES)
    )
    active = _active(session)
    for incident in session.exec(statement.order_by(col(Incident.id)).with_for_update()):
        active.setdefault(incident.fingerprint, incident)
    covered.update(names)


def find_active(
    session: Session, fingerprint_: str, *, source: str = "", fresh: bool = False
) -> Incident | None:
    """Return the pending, open or acknowledged incident with this fingerprint, if any.

    A transaction asks the database once per fingerprint (and locks the row it finds), or
    not at all for the fingerprints of a `source` whose incidents it loaded (`load_active`);
    what it creates, resolves or deletes itself keeps that answer true until it ends. `fresh`
    asks again: another process may have opened one since.
    """
    active = _active(session)
    if not fresh:
        known = active.get(fingerprint_)
        if known is not None and known.status != "resolved" and known in session:
            return known
        if source in _covered(session) or (fingerprint_ in active and known is None):
            return None
    statement = select(Incident).where(
        Incident.fingerprint == fingerprint_, Incident.status != "resolved"
    )
    # Several processes may take hits for the same fingerprint: the row lock serialises them.
    found = session.exec(statement.with_for_update()).first()
    active[fingerprint_] = found
    return found


def unresolved_of(session: Session, source: str, statuses: Iterable[str]) -> list[Incident]:
    """Return the source's incidents in these unresolved statuses (pending too), oldest first:
    from what `load_active` loaded when it did, else from the database."""
    wanted = set(statuses)
    if source in _covered(session):
        found = (
            incident
            for incident in _active(session).values()
            if incident is not None and incident.source == source and incident.status in wanted
        )
        return sorted(found, key=lambda incident: incident.id or 0)
    statement = select(Incident).where(
        Incident.source == source, col(Incident.status).in_(sorted(wanted))
    )
    return list(session.exec(statement.order_by(col(Incident.id))).all())


def note_active(session: Session, fingerprint_: str, incident: Incident | None) -> None:
    """Record that `incident` (or none) is now the active incident of a fingerprint."""
    _active(session)[fingerprint_] = incident


def _active(session: Session) -> dict[str, Incident | None]:
    return remembered(session, "active incidents", dict)


def _covered(session: Session) -> set[str]:
    return remembered(session, "sources of loaded incidents", set)


def find_latest_resolved(session: Session, fingerprint_: str) -> Incident | None:
    """Return the most recent resolved incident with this fingerprint, if there is one.

    Asked once per fingerprint in a transaction: an incident it resolves is the latest then
    (a fingerprint's active incident is newer than all its resolved ones)."""
    latest = _latest_resolved(session)
    if fingerprint_ in latest:
        return latest[fingerprint_]
    statement = (
        select(Incident)
        .where(Incident.fingerprint == fingerprint_, Incident.status == "resolved")
        .order_by(col(Incident.id).desc())
    )
    found = latest[fingerprint_] = session.exec(statement.limit(1)).first()
    return found


def _latest_resolved(session: Session) -> dict[str, Incident | None]:
    return remembered(session, "latest resolved incidents", dict)


def create_incident(
    session: Session, hit: Hit, fingerprint_: str, *, now: datetime, status: str = "open"
) -> Incident:
    """Create the incident a hit opens (or join the one another process just created)."""
    previous = find_latest_resolved(session, fingerprint_)
    trigger = blamed_deploy(session, hit.event.source, hit.event.when, previous)
    incident = Incident(
        signature=hit.signature.id,
        title=hit.signature.title,
        severity=hit.signature.severity,
        status=status,
        source=hit.event.source,
        first_seen=hit.event.when,
        last_seen=hit.event.when,
        occurrences=0,
        fields=dict(hit.fields),
        confidence=hit.confidence,
        fingerprint=fingerprint_,
        opened_at=now,
        previous_id=previous.id if previous else None,
        deploy_id=trigger.id if trigger else None,
    )
    added = add_incident(session, incident)
    if added is incident and status == "open":
        kind = "recurred" if previous else "opened"
        add_timeline(
            session, incident, time=hit.event.when, kind=kind, text=hit.event.first.message
        )
    return added


def add_incident(session: Session, incident: Incident) -> Incident:
    """Insert a new incident, or return the active one of its fingerprint another process
    just inserted."""
    try:
        with race_guard(session):
            session.add(incident)
            session.flush()
    except IntegrityError:
        # Another process opened it first (the partial unique index says so): join theirs.
        theirs = find_active(session, incident.fingerprint, fresh=True)
        if theirs is None:
            raise
        return theirs
    note_active(session, incident.fingerprint, incident)
    return incident


def promote(session: Session, incident: Incident, *, text: str) -> None:
    """Turn a pending incident into an open one."""
    incident.status = "open"
    incident.occurrences = max(incident.occurrences, 1)
    session.add(incident)
    kind = "recurred" if incident.previous_id else "opened"
    add_timeline(session, incident, time=incident.first_seen, kind=kind, text=text)


def in_words(window: timedelta) -> str:
    """Return a rule's window as its timeline entries say it: `1 min`, `90 s`."""
    seconds = int(window.total_seconds())
    return f"{seconds // 60} min" if seconds % 60 == 0 and seconds >= 60 else f"{seconds} s"


def resolve(
    session: Session, incident: Incident, *, at: datetime, resolution: str, text: str = ""
) -> None:
    """Mark an incident resolved at `at` (log time where known) and put it on the timeline."""
    incident.status = "resolved"
    incident.resolved_at = at
    incident.resolution = resolution
    session.add(incident)
    session.flush()
    _latest_resolved(session)[incident.fingerprint] = incident
    add_timeline(session, incident, time=at, kind="resolved", text=text or resolution)
    outage = session.get(Outage, incident.outage_id) if incident.outage_id else None
    if outage is not None:
        refresh_outage(session, outage)
        if resolution == "recovered":
            note_recovery(session, incident)


def discard(session: Session, incident: Incident) -> None:
    """Delete a pending incident that never became one, with everything hanging off it."""
    tables = (
        IncidentEvent,
        IncidentMinute,
        IncidentEndpoint,
        IncidentImpact,
        IncidentRequest,
        TimelineEntry,
        Notification,
    )
    assert incident.id is not None
    forget_minutes(session, incident.id)
    for table in tables:
        session.execute(delete(table).where(col(table.incident_id) == incident.id))
    if _active(session).get(incident.fingerprint) is incident:
        note_active(session, incident.fingerprint, None)
    session.delete(incident)
    session.flush()


def count_minute(session: Session, incident: Incident, when: datetime | None) -> None:
    """Add one hit to the incident's count for the minute of `when` (written before commit)."""
    assert incident.id is not None
    minutes.count_minute(session, incident.id, when)


def extend(incident: Incident, when: datetime | None) -> None:
    """Widen the incident's first/last seen to include `when`."""
    if when is None:
        return
    if incident.first_seen is None or when < incident.first_seen:
        incident.first_seen = when
    if incident.last_seen is None or when > incident.last_seen:
        incident.last_seen = when


def store_event(session: Session, incident: Incident, hit: Hit) -> None:
    """Keep the hit's event, whole and redacted, as evidence of the incident."""
    assert incident.id is not None
    first = hit.event.first
    session.add(
        IncidentEvent(
            incident_id=incident.id,
            time=hit.event.time,
            received_at=first.received_at,
            instance=hit.event.instance,
            role=hit.role,
            text=hit.event.text,
            fields=dict(hit.fields),
        )
    )


def add_timeline(
    session: Session, incident: Incident, *, time: datetime | None, kind: str, text: str
) -> None:
    """Put a moment of the incident on its timeline, and in the outbox if it is an event."""
    session.add(
        TimelineEntry(
            source=incident.source, incident_id=incident.id, time=time, kind=kind, text=text[:2000]
        )
    )
    enqueue(session, incident, kind, now=utcnow())
