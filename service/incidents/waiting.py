"""Threshold rules (N hits within a window) wait as a `pending` incident: kept, counted, not
shown; it opens once the rule is met and is discarded if it is not. (Absence rules wait without
a row until they must have one: `absence`.)"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlmodel import Session

from service.incidents.absence import number_waits
from service.incidents.minutes import hits_since
from service.incidents.store import (
    count_minute,
    create_incident,
    discard,
    in_words,
    promote,
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
        number_waits(session)
        return create_incident(session, hit, fp, now=now, status=status)
    if active.status == "pending" and signature.kind == "threshold" and _stale(active, hit):
        number_waits(session)
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
    window = timedelta(seconds=signature.window_seconds)
    since = (when - window).replace(second=0, microsecond=0)
    assert incident.id is not None
    hits = hits_since(session, incident.id, since)
    if hits >= signature.threshold:
        text = f"{hits} hits within {in_words(window)}: {hit.event.first.message}"
        promote(session, incident, text=text)


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
            promote(session, incident, text=f"nothing followed within {in_words(window)}")
            opened.append(incident)
        else:
            discard(session, incident)
    return opened


def _stale(incident: Incident, hit: Hit) -> bool:
    when = hit.event.when
    if when is None or incident.last_seen is None:
        return False
    return when - incident.last_seen > timedelta(seconds=hit.signature.window_seconds)
