"""The outage outbox: what an outage's change tells Slack and email, written as an
`OutageNotification` in the transaction that made the change.

One message when an outage opens (an outage a batch opens and resolves at once gets it too: it
still happened), one when it escalates (its severity rises; the dispatcher adds "still open after
a while"), one when it resolves. Incidents that join an open outage without raising its severity
tell no one. What the outage has told is kept on its row (`notified_status`, `notified_severity`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from service.models import Outage, OutageNotification
from service.notify.outbox import is_silent
from service.signatures.model import SEVERITIES

OPENED, ESCALATED, RESOLVED = "outage.opened", "outage.escalated", "outage.resolved"
SUPERSEDED = "superseded"


def severity_rank(severity: str) -> int:
    """Return the rank of a severity: 0 for critical, larger for lower, unknown lowest."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def announce(session: Session, outage: Outage, severity: str, *, now: datetime) -> None:
    """Put in the outbox what the outage's new state tells that its earlier messages did not.

    `severity` is the highest of its incidents'. A message not yet taken by a dispatcher that the
    new state makes pointless (an escalation of an outage now over, the resolution of one that
    opened again) is superseded rather than sent.
    """
    if outage.id is None or is_silent(session):
        return
    status = "resolved" if outage.status == "resolved" else "open"
    if not outage.notified_status:
        _write(session, outage, OPENED, "", now)
        outage.notified_status, outage.notified_severity = "open", severity
    elif outage.notified_status == "resolved" and status == "open":
        outage.notified_status = "open"
        if not _supersede(session, outage.id, RESOLVED, now):
            _write(session, outage, OPENED, "opened again", now)
    if status == "open" and severity_rank(severity) < severity_rank(outage.notified_severity):
        # An opening message not yet taken is built when it is: it will tell the new severity.
        if not _waiting(session, outage.id, OPENED):
            was = outage.notified_severity or "unknown"
            _write(session, outage, ESCALATED, f"severity rose from {was} to {severity}", now)
        outage.notified_severity = severity
    if status == "resolved" and outage.notified_status == "open":
        _supersede(session, outage.id, ESCALATED, now)
        _write(session, outage, RESOLVED, "", now)
        outage.notified_status = "resolved"
    session.add(outage)


def still_open(session: Session, outage: Outage, minutes: float, *, now: datetime) -> None:
    """Write the escalation of an outage still open `minutes` after drainwatch saw it open."""
    assert outage.id is not None
    outage.still_open_at = now
    session.add(outage)
    _write(session, outage, ESCALATED, f"still open after {minutes:g} min", now)


def hand_over(session: Session, from_id: int, to_id: int, *, now: datetime) -> None:
    """Give the messages of an outage merged into another to that one: what was sent stays on
    record; what no dispatcher took yet is superseded (the merged outage tells the story)."""
    session.execute(
        update(OutageNotification)
        .where(
            _unclaimed(from_id, OPENED)
            | _unclaimed(from_id, ESCALATED)
            | _unclaimed(from_id, RESOLVED)
        )
        .values(slack_status=SUPERSEDED, email_status=SUPERSEDED, delivered_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutageNotification)
        .where(col(OutageNotification.outage_id) == from_id)
        .values(outage_id=to_id)
        .execution_options(synchronize_session=False)
    )


def _write(session: Session, outage: Outage, event: str, reason: str, now: datetime) -> None:
    assert outage.id is not None
    session.add(
        OutageNotification(
            outage_id=outage.id, event=event, reason=reason, created_at=now, next_attempt_at=now
        )
    )


def _unclaimed(outage_id: int, event: str) -> Any:
    return (
        (col(OutageNotification.outage_id) == outage_id)
        & (col(OutageNotification.event) == event)
        & col(OutageNotification.claimed_at).is_(None)
        & or_(
            col(OutageNotification.slack_status) == "pending",
            col(OutageNotification.email_status) == "pending",
        )
    )


def _waiting(session: Session, outage_id: int, event: str) -> bool:
    """Return True when a message of this event of the outage waits, not taken yet.

    Locked until this transaction ends: a pager then skips it, and builds it once the change
    is committed; one claiming it right now makes this wait, then find it taken."""
    statement = select(OutageNotification.id).where(_unclaimed(outage_id, event))
    return session.exec(statement.with_for_update()).first() is not None


def _supersede(session: Session, outage_id: int, event: str, now: datetime) -> int:
    """Mark the outage's messages of this event that no dispatcher took yet as superseded;
    return how many. The guard on `claimed_at` loses cleanly to a dispatcher's claim."""
    result = session.execute(
        update(OutageNotification)
        .where(_unclaimed(outage_id, event))
        .values(slack_status=SUPERSEDED, email_status=SUPERSEDED, delivered_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
