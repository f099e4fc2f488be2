"""Hits per incident per minute: counted in memory during a unit of work and written with one
bulk upsert just before it commits, not one statement per hit."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from service.db import upsert_rows
from service.models import IncidentMinute
from service.transactions import remembered, write_before_commit

_Minute = tuple[int, datetime]


def count_minute(session: Session, incident_id: int, when: datetime | None) -> None:
    """Add one hit to the incident's count for the minute of `when`."""
    if when is None:
        return
    _gathered(session)[(incident_id, when.replace(second=0, microsecond=0))] += 1
    write_before_commit(session, "incident minutes", write_minutes)


def hits_since(session: Session, incident_id: int, since: datetime) -> int:
    """Return the incident's hits in the minutes from `since` on, written or not yet."""
    stored = session.exec(
        select(func.coalesce(func.sum(IncidentMinute.hits), 0)).where(
            IncidentMinute.incident_id == incident_id, col(IncidentMinute.minute) >= since
        )
    ).one()
    pending = sum(
        hits
        for (incident, minute), hits in _gathered(session).items()
        if incident == incident_id and minute >= since
    )
    return int(stored) + pending


def forget_minutes(session: Session, incident_id: int) -> None:
    """Drop the counts not written yet of an incident being deleted."""
    gathered = _gathered(session)
    for key in [key for key in gathered if key[0] == incident_id]:
        del gathered[key]


def write_minutes(session: OrmSession) -> None:
    """Add the gathered counts to the stored ones, one statement for them all."""
    gathered = _gathered(session)
    rows = [
        {"incident_id": incident_id, "minute": minute, "hits": hits}
        for (incident_id, minute), hits in sorted(gathered.items())
    ]
    gathered.clear()
    upsert_rows(session, IncidentMinute, ("incident_id", "minute"), added=("hits",), rows=rows)


def _gathered(session: OrmSession) -> Counter[_Minute]:
    return remembered(session, "incident minutes", Counter)
