"""The incident lifecycle: a hit opens an incident or joins the active one for its fingerprint;
a recovery line or a quiet period resolves it; a hit after resolution opens a recurrence.
Threshold rules wait as pending incidents first (`waiting`), absence rules as waits (`absence`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from service.incidents import absence, waiting
from service.incidents.absence import Wait
from service.incidents.fingerprint import fingerprint
from service.incidents.store import (
    add_timeline,
    count_minute,
    extend,
    find_active,
    resolve,
    store_event,
)
from service.models import UNRESOLVED_STATUSES, Incident
from service.notify.outbox import is_escalation
from service.outages.grouping import members, recovered_outages
from service.signatures.model import Hit

RESOLUTIONS = ("recovered", "quiet", "deploy", "manual")
__all__ = ["RESOLUTIONS", "attach_hit", "resolve", "settle"]


def attach_hit(session: Session, hit: Hit, *, now: datetime) -> Incident | Wait | None:
    """Apply one hit: open, join, recur or resolve an incident, or start or end an absence
    rule's wait; return the incident (or the wait) it touched."""
    source = hit.event.source
    fp = fingerprint(hit.signature.id, hit.group_key, source)
    if hit.signature.kind == "absence":
        if hit.role != "open":
            return absence.absence_hit(session, hit, fp, now=now)
        if absence.waiting(session, source, fp) is not None:
            absence.number_waits(session)  # a direct hit joins the incident the wait becomes
    active = find_active(session, fp, source=source)
    when = hit.event.when
    if hit.role == "close":
        if active is None or active.status == "pending":
            return None
        store_event(session, active, hit)
        extend(active, when)
        text = hit.event.first.message
        resolve(session, active, at=when or now, resolution="recovered", text=text)
        return active
    if active is not None and _quiet_period_over(active, when, hit.signature.quiet_minutes):
        assert active.last_seen is not None
        quiet_end = active.last_seen + timedelta(minutes=hit.signature.quiet_minutes)
        text = f"no new hits for {hit.signature.quiet_minutes} min"  # as the sweep says it
        resolve(session, active, at=quiet_end, resolution="quiet", text=text)
        active = None
    active = waiting.current_or_new(session, hit, fp, active, now=now)
    active.occurrences += 1
    if hit.confidence == "exact":
        active.confidence = "exact"
    if active.status in UNRESOLVED_STATUSES and is_escalation(active.occurrences):
        text = f"{active.occurrences} occurrences: {hit.event.first.message}"
        add_timeline(session, active, time=when, kind="escalated", text=text)
    count_minute(session, active, when)
    # An incident keeps the captured fields all its hits agree on (the op, the missing name),
    # not the ones that change with every hit (the try number, the back-off). A hit that does not
    # capture a field says nothing about it (R15's `Stopping process with SIGKILL` after the
    # `Error R15` line), so it keeps what an earlier hit gave.
    active.fields = {k: v for k, v in active.fields.items() if hit.fields.get(k, v) == v}
    extend(active, when)
    store_event(session, active, hit)
    if active.status == "pending":
        waiting.promote_if_counted(session, active, hit)
    session.add(active)
    return active


def _quiet_period_over(incident: Incident, when: datetime | None, quiet_minutes: int) -> bool:
    if incident.status == "pending":
        return False
    if when is None or incident.last_seen is None or quiet_minutes <= 0:
        return False
    return when - incident.last_seen > timedelta(minutes=quiet_minutes)


def settle(session: Session, pair_signatures: set[str]) -> list[Incident]:
    """Resolve what recovered with its outage; return the incidents resolved.

    When every incident of an outage that waits for a recovery line (`pair` signatures: DB_DOWN
    until DB_RECOVERED) has logged it, the outage is over: its other incidents (the Neon error
    that took the database away, the crash that the platform's `State changed from crashed to up`
    ended) resolve at the last recovery, if they were not hit after it.
    """
    settled: list[Incident] = []
    for outage_id in recovered_outages(session):
        incidents = members(session, outage_id)
        waiting = [i for i in incidents if i.signature in pair_signatures]
        if any(i.status in UNRESOLVED_STATUSES for i in waiting):
            continue
        recoveries = [
            i for i in waiting if i.resolution == "recovered" and i.resolved_at is not None
        ]
        if not recoveries:
            continue
        last = max(recoveries, key=lambda i: (i.resolved_at, i.id or 0))
        assert last.resolved_at is not None
        for incident in incidents:
            seen = incident.last_seen
            if (
                incident.status in UNRESOLVED_STATUSES
                and seen is not None
                and seen <= last.resolved_at
            ):
                text = (
                    f"recovered with #{last.id} ({last.signature}) at {last.resolved_at:%H:%M:%S}"
                )
                resolve(session, incident, at=last.resolved_at, resolution="recovered", text=text)
                settled.append(incident)
    return settled
