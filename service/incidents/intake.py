"""From events to stored incidents: deploy markers onto the timeline, hits into the lifecycle,
then the sources' log clocks forward and a sweep for incidents that went quiet."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session

from service.incidents.deploys import deploy_marker, record_marker
from service.incidents.gaps import platform_drop, record_gap
from service.incidents.lifecycle import attach_hit
from service.incidents.nearby import IntakeState
from service.incidents.sweep import sweep_source
from service.incidents.templates import note_first_seen, template_hit
from service.ingest.access import parse_access
from service.ingest.glued import split_glued
from service.ingest.records import ABOUT, AFTER, Event
from service.models import UNRESOLVED_STATUSES
from service.signatures.engine import Matcher
from service.signatures.model import Signature
from service.signatures.templates import TEMPLATE_SIGNATURE
from service.signatures.wrapping import rejoin_wrapped
from service.sources import ensure_source


def apply_events(
    session: Session,
    matcher: Matcher,
    events: Iterable[Event],
    *,
    now: datetime,
    state: IntakeState | None = None,
) -> Counter[str]:
    """Match events and store their incidents; return how many records each source's events held."""
    lines: Counter[str] = Counter()
    latest: dict[str, datetime] = {}
    state = state if state is not None else IntakeState()
    fallback = _template_rule(matcher)
    for event in state.clock.stamp(rejoin_wrapped(matcher, events)):
        source = event.source
        if source not in lines:
            ensure_source(session, source, now=now)
        lines[source] += len(event.records)
        when = event.time
        if when is not None and (source not in latest or when > latest[source]):
            latest[source] = when
        for part in split_glued(event):
            _apply_part(session, matcher, state, fallback, part, now=now)
    state.write(session)
    _advance_clocks(session, matcher, latest, now=now)
    session.flush()
    return lines


def _apply_part(
    session: Session,
    matcher: Matcher,
    state: IntakeState,
    fallback: Signature | None,
    event: Event,
    *,
    now: datetime,
) -> None:
    """Match one event (or one part of a line that glued several) and store its incident."""
    platform = len(event.records) == 1 and _note_platform_line(session, state, event)
    hit = matcher.match(event)
    if hit is None or hit.signature.id == TEMPLATE_SIGNATURE:
        # Deploy markers, data gaps and access lines tell their story elsewhere.
        hit = None if platform else template_hit(session, state.templates, fallback, event, hit)
    if hit is None:
        return
    incident = attach_hit(session, hit, now=now)
    if incident is not None and hit.signature.id == TEMPLATE_SIGNATURE:
        note_first_seen(session, incident)
    # Pending incidents (a threshold not reached yet) may still be discarded: no evidence.
    shown = incident is not None and incident.status in UNRESOLVED_STATUSES
    if shown and incident is not None and incident.id is not None and hit.role == "open":
        state.hit(event.source, event.when, incident.id, hit.signature.id)


def _template_rule(matcher: Matcher) -> Signature | None:
    return next((s for s in matcher.signatures if s.id == TEMPLATE_SIGNATURE), None)


def _note_platform_line(session: Session, state: IntakeState, event: Event) -> bool:
    """Record a deploy marker, data gap or access line; return True if the line was one."""
    message = event.text  # one record: its message, or the part of it a glued line holds
    marker = deploy_marker(message)
    if marker is not None:
        # Log time only: an arrival time would put a deploy after hits that came before it; and
        # a lent time only when the lines around it bound it, never a mere lower bound.
        lent = event.time_lent
        time = None if lent == AFTER else event.time
        record_marker(session, event.source, marker, time=time, text=message, approx=lent == ABOUT)
        return True
    dropped = platform_drop(message)
    if dropped is not None:
        record_gap(session, event.source, time=event.when, text=dropped)
        return True
    access = parse_access(message)
    if access is not None:
        state.request(event.source, event.when, access)
        return True
    return False


def _advance_clocks(
    session: Session, matcher: Matcher, latest: dict[str, datetime], *, now: datetime
) -> None:
    signatures = {signature.id: signature for signature in matcher.signatures}
    for name, when in latest.items():
        source = ensure_source(session, name, now=now, lock=True)
        if source.last_log_time is None or when > source.last_log_time:
            source.last_log_time = when
            session.add(source)
            sweep_source(session, source, signatures)
