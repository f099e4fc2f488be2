"""The outbox: an incident event becomes a `Notification` row in the transaction that caused it,
for the generic webhook.

Events (CONTRACT §6): `incident.opened`, `incident.escalated`, `incident.resolved`,
`incident.recurred`, each named by the timeline entry that records the same moment.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from service.models import Incident, Notification

EVENTS = {
    "opened": "incident.opened",
    "escalated": "incident.escalated",
    "resolved": "incident.resolved",
    "recurred": "incident.recurred",
}
# An open incident escalates when its occurrences reach 10, 100, 1000...
ESCALATION_BASE = 10


_SILENT = "drainwatch.silent"


def silence(session: Session) -> None:
    """Make the session write no notifications (an offline scan tells no one)."""
    session.info[_SILENT] = True


def is_silent(session: Session) -> bool:
    """Return True when the session writes no notifications (see `silence`)."""
    return bool(session.info.get(_SILENT))


def is_escalation(occurrences: int) -> bool:
    """Return True when an incident's count has just reached a power of ten (10 and up)."""
    if occurrences < ESCALATION_BASE:
        return False
    while occurrences % ESCALATION_BASE == 0:
        occurrences //= ESCALATION_BASE
    return occurrences == 1


def enqueue(session: Session, incident: Incident, kind: str, *, now: datetime) -> None:
    """Put the event a timeline `kind` announces (if it is one) in the outbox.

    The payload is the incident as it stands when the event is first sent (an incident opened by
    a batch is sent with that batch's hits), and stays the same for the retries.
    """
    event = EVENTS.get(kind)
    if event is None or incident.id is None or is_silent(session):
        return
    session.add(
        Notification(
            incident_id=incident.id,
            event=event,
            created_at=now,
            next_attempt_at=now,
            # Slack hears of outages (`outage_outbox`), not of each incident.
            slack_status="off",
        )
    )
