"""Rules that wait before they open an incident: a threshold (N hits within a window) and an
absence (a line not followed by the line it promises before a deadline). Until then the incident
is `pending`: kept, counted, but not shown; it is discarded if the rule is not met."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlmodel import Session

from service.incidents.minutes import hits_since
from service.incidents.store import (
    add_timeline,
    count_minute,
    create_incident,
    discard,
    extend,
    resolve,
    store_event,
    unresolved_of,
)
from service.models import Incident
from service.signatures.model import Hit, Signature


def current_or_new(
    session: Session, hit: Hit, fp: str, active: Incident | None, *, now: datetime
) -> Incident:
    """Return the incident this counting hit joins, creating it (pending for thresholds)."""
    signature = hit.signature
    status = "pending" if signature.kind == "threshold" else "open"
    if active is None:
        return create_incident(session, hit, fp, now=now, status=status)
    if active.status == "pending" and signature.kind == "threshold" and _stale(active, hit):
        discard(session, active)
        return create_incident(session, hit, fp, now=now, status=status)
    return active


def promote_if_counted(session: Session, incident: Incident, hit: Hit) -> None:
    """Open a pending incident once its rule is met by this hit."""
    signature = hit.signature
    if signature.kind != "threshold":
        promote(session, incident, text=hit.event.first.message)
        return
    when = hit.event.when
    if when is None:
        return
    since = (when - timedelta(seconds=signature.window_seconds)).replace(second=0, microsecond=0)
    assert incident.id is not None
    hits = hits_since(session, incident.id, since)
    if hits >= signature.threshold:
        window = _words(signature.window_seconds)
        promote(session, incident, text=f"{hits} hits within {window}: {hit.event.first.message}")


def absence_hit(
    session: Session, hit: Hit, fp: str, active: Incident | None, *, now: datetime
) -> Incident | None:
    """Start waiting on an absence rule's first line, or stop waiting on its awaited line."""
    if hit.role == "start":
        if active is not None:
            return active
        incident = create_incident(session, hit, fp, now=now, status="pending")
        store_event(session, incident, hit)
        return incident
    if active is None:
        return None
    when = hit.event.when
    if active.status == "pending":
        late = (
            when is not None
            and active.first_seen is not None
            and when > active.first_seen + timedelta(seconds=hit.signature.window_seconds)
        )
        if not late:
            discard(session, active)
            return None
        # Awaited, but only after the deadline (read in one batch, the sweep came too late to
        # say so): it was missing for that long, so it opens and the awaited line resolves it.
        count_minute(session, active, active.first_seen)
        promote(
            session, active, text=f"nothing followed within {_words(hit.signature.window_seconds)}"
        )
    store_event(session, active, hit)
    extend(active, when)
    resolve(session, active, at=when or now, resolution="recovered", text=hit.event.first.message)
    return active


def promote(session: Session, incident: Incident, *, text: str) -> None:
    """Turn a pending incident into an open one."""
    incident.status = "open"
    incident.occurrences = max(incident.occurrences, 1)
    session.add(incident)
    kind = "recurred" if incident.previous_id else "opened"
    add_timeline(session, incident, time=incident.first_seen, kind=kind, text=text)


def sweep_pending(
    session: Session, source: str, signatures: Mapping[str, Signature], *, horizon: datetime
) -> list[Incident]:
    """Open absence incidents whose deadline passed; discard thresholds that were not met."""
    opened = []
    for incident in unresolved_of(session, source, ("pending",)):
        signature = signatures.get(incident.signature)
        window = timedelta(seconds=signature.window_seconds) if signature else timedelta(0)
        seen = (
            incident.first_seen if signature and signature.kind == "absence" else incident.last_seen
        )
        if signature is None or seen is None or seen + window > horizon:
            if signature is None:
                discard(session, incident)
            continue
        if signature.kind == "absence":
            count_minute(session, incident, incident.first_seen)
            promote(
                session,
                incident,
                text=f"nothing followed within {_words(signature.window_seconds)}",
            )
            opened.append(incident)
        else:
            discard(session, incident)
    return opened


def _stale(incident: Incident, hit: Hit) -> bool:
    when = hit.event.when
    if when is None or incident.last_seen is None:
        return False
    return when - incident.last_seen > timedelta(seconds=hit.signature.window_seconds)


def _words(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds % 60 == 0 and seconds >= 60 else f"{seconds} s"
