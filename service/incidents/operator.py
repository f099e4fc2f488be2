"""What people do to incidents: acknowledge, resolve by hand with a note, fill in the fields a
log cannot know (owner, business impact, fix commit, notes, action items)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlmodel import Session, select

from service.incidents.actions import MAX_ITEMS, ActionItem
from service.incidents.store import add_timeline, resolve
from service.models import Incident, Source


class IncidentUpdate(BaseModel):
    """An operator's change to an incident; fields left out stay as they are."""

    status: str | None = Field(default=None, pattern="^(acknowledged|resolved)$")
    note: str | None = Field(default=None, max_length=20_000)
    owner: str | None = Field(default=None, max_length=200)
    business_impact: str | None = Field(default=None, max_length=20_000)
    fix_commit: str | None = Field(default=None, max_length=200)
    # The whole list, replacing the one before; an empty list goes back to the suggested items.
    action_items: list[ActionItem] | None = Field(default=None, max_length=MAX_ITEMS)


class TransitionError(ValueError):
    """A status change the lifecycle does not allow (a resolved incident is history)."""


def update_incident(
    session: Session, incident: Incident, change: IncidentUpdate, *, user: str, now: datetime
) -> Incident:
    """Apply an operator's change and put it on the timeline."""
    for name in ("owner", "business_impact", "fix_commit", "note"):
        value = getattr(change, name)
        if value is not None:
            setattr(incident, name, value.strip())
    if change.action_items is not None:
        incident.action_items = [item.model_dump() for item in change.action_items]
    if change.note:
        add_timeline(
            session, incident, time=now, kind="note", text=f"{user}: {change.note.strip()}"
        )
    if change.status == "acknowledged":
        if incident.status == "resolved":
            raise TransitionError(
                "a resolved incident cannot be acknowledged; a new hit reopens it as a recurrence"
            )
        if incident.status == "open":
            incident.status = "acknowledged"
            incident.acknowledged_at = now
            add_timeline(
                session, incident, time=now, kind="acknowledged", text=f"acknowledged by {user}"
            )
    elif change.status == "resolved" and incident.status != "resolved":
        at = _log_clock(session, incident) or now
        resolve(session, incident, at=at, resolution="manual", text=f"resolved by hand by {user}")
    session.add(incident)
    session.flush()
    return incident


def _log_clock(session: Session, incident: Incident) -> datetime | None:
    """Return the source's log time now (never before the last hit): a hand resolve ends the
    incident in the log's time, as everything else in its report is."""
    source = session.exec(select(Source).where(Source.name == incident.source)).first()
    times = [t for t in (source.last_log_time if source else None, incident.last_seen) if t]
    return max(times) if times else None
