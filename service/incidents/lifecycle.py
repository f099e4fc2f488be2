"""The incident lifecycle: a hit opens an incident or joins the active one for its fingerprint;
a recovery line or a quiet period resolves it; a hit after resolution opens a recurrence.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from service.db import race_guard
from service.incidents.deploys import deploy_before
from service.incidents.fingerprint import fingerprint
from service.models import Incident, IncidentEvent, IncidentMinute, TimelineEntry
from service.signatures.model import Hit

RESOLUTIONS = ("recovered", "quiet", "deploy", "manual")


def find_active(session: Session, fingerprint_: str) -> Incident | None:
    """Return the open or acknowledged incident with this fingerprint, if there is one."""
    statement = select(Incident).where(
        Incident.fingerprint == fingerprint_, Incident.status != "resolved"
    )
    # Several processes may take hits for the same fingerprint: the row lock serialises them.
    return session.exec(statement.with_for_update()).first()


def find_latest_resolved(session: Session, fingerprint_: str) -> Incident | None:
    """Return the most recent resolved incident with this fingerprint, if there is one."""
    statement = (
        select(Incident)
        .where(Incident.fingerprint == fingerprint_, Incident.status == "resolved")
        .order_by(col(Incident.id).desc())
    )
    return session.exec(statement).first()


def attach_hit(session: Session, hit: Hit, *, now: datetime) -> Incident | None:
    """Apply one hit: open, join, recur or resolve an incident; return the incident it touched."""
    fp = fingerprint(hit.signature.id, hit.group_key, hit.event.source)
    active = find_active(session, fp)
    when = hit.event.when
    if hit.role == "close":
        if active is None:
            return None
        _store_event(session, active, hit)
        _extend(active, when)
        resolve(
            session, active, at=when or now, resolution="recovered", text=hit.event.first.message
        )
        return active
    if active is not None and _quiet_period_over(active, when, hit.signature.quiet_minutes):
        assert active.last_seen is not None
        quiet_end = active.last_seen + timedelta(minutes=hit.signature.quiet_minutes)
        resolve(
            session,
            active,
            at=quiet_end,
            resolution="quiet",
            text="no new hits in the quiet period",
        )
        active = None
    if active is None:
        active = _open(session, hit, fp, now=now)
    active.occurrences += 1
    _count_minute(session, active, when)
    # An incident keeps the captured fields all its hits agree on (the op, the missing name),
    # not the ones that change with every hit (the try number, the back-off).
    active.fields = {k: v for k, v in active.fields.items() if hit.fields.get(k) == v}
    _extend(active, when)
    _store_event(session, active, hit)
    session.add(active)
    return active


def resolve(
    session: Session, incident: Incident, *, at: datetime, resolution: str, text: str = ""
) -> None:
    """Mark an incident resolved at `at` (log time where known) and put it on the timeline."""
    incident.status = "resolved"
    incident.resolved_at = at
    incident.resolution = resolution
    session.add(incident)
    session.flush()
    _add_timeline(session, incident, time=at, kind="resolved", text=text or resolution)


def _open(session: Session, hit: Hit, fp: str, *, now: datetime) -> Incident:
    previous = find_latest_resolved(session, fp)
    incident = Incident(
        signature=hit.signature.id,
        title=hit.signature.title,
        severity=hit.signature.severity,
        status="open",
        source=hit.event.source,
        first_seen=hit.event.when,
        last_seen=hit.event.when,
        occurrences=0,
        fields=dict(hit.fields),
        fingerprint=fp,
        opened_at=now,
        previous_id=previous.id if previous else None,
    )
    trigger = deploy_before(session, hit.event.source, hit.event.when)
    incident.deploy_id = trigger.id if trigger else None
    try:
        with race_guard(session):
            session.add(incident)
            session.flush()
    except IntegrityError:
        # Another process opened it first (the partial unique index says so): join theirs.
        theirs = find_active(session, fp)
        if theirs is None:
            raise
        return theirs
    kind = "recurred" if previous else "opened"
    _add_timeline(session, incident, time=hit.event.when, kind=kind, text=hit.event.first.message)
    return incident


def _count_minute(session: Session, incident: Incident, when: datetime | None) -> None:
    if when is None:
        return
    assert incident.id is not None
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    minute = when.replace(second=0, microsecond=0)
    statement = insert(IncidentMinute).values(incident_id=incident.id, minute=minute, hits=1)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["incident_id", "minute"],
            set_={"hits": statement.excluded.hits + col(IncidentMinute.hits)},
        )
    )


def _quiet_period_over(incident: Incident, when: datetime | None, quiet_minutes: int) -> bool:
    if when is None or incident.last_seen is None or quiet_minutes <= 0:
        return False
    return when - incident.last_seen > timedelta(minutes=quiet_minutes)


def _extend(incident: Incident, when: datetime | None) -> None:
    if when is None:
        return
    if incident.first_seen is None or when < incident.first_seen:
        incident.first_seen = when
    if incident.last_seen is None or when > incident.last_seen:
        incident.last_seen = when


def _store_event(session: Session, incident: Incident, hit: Hit) -> None:
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


def _add_timeline(
    session: Session, incident: Incident, *, time: datetime | None, kind: str, text: str
) -> None:
    session.add(
        TimelineEntry(
            source=incident.source, incident_id=incident.id, time=time, kind=kind, text=text[:2000]
        )
    )
