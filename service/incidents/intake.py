"""From events to stored incidents: deploy markers onto the timeline, hits into the lifecycle,
then the sources' log clocks forward, a sweep for incidents that went quiet, and every new
incident into its outage."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlmodel import Session

from service.incidents.absence import Wait, bind_windows, load_waits
from service.incidents.deploys import (
    Unsettled,
    deploy_marker,
    record_marker,
    settle_marker,
    unsettled_marker,
)
from service.incidents.gaps import platform_drop, record_gap
from service.incidents.lifecycle import attach_hit, settle
from service.incidents.nearby import IntakeState
from service.incidents.sieve import PLAIN, Request, Sight, sift
from service.incidents.store import load_active
from service.incidents.sweep import resolve_recovered, sweep_source
from service.incidents.templates import note_first_seen, template_hit
from service.ingest.access import Access, parse_access
from service.ingest.clock import BOUND
from service.ingest.glued import split_glued
from service.ingest.records import ABOUT, AFTER, Event
from service.models import UNRESOLVED_STATUSES, Incident
from service.outages.grouping import group_incidents
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
    """Match events and store their incidents; return how many records each source's events held.

    One prefilter pass over the whole batch (`sift`) tells the few events worth Python's time
    (a signature's keyword, a platform line, an error level) from the rest, which are only
    counted; what they add up to is written once, at the end.
    """
    lines: Counter[str] = Counter()
    latest: dict[str, datetime] = {}
    state = state if state is not None else IntakeState()
    fallback = _template_rule(matcher)
    joined = list(rejoin_wrapped(matcher, events))
    sources = {event.source for event in joined}
    load_active(session, sources)
    bind_windows(session, state.impact)
    load_waits(session, sources)
    sights = sift(matcher, joined)
    wanted = [sight is not PLAIN for sight in sights]
    unsettled = state.unsettled
    for index, event in state.clock.stamp_wanted(joined, wanted):
        records = event.records
        first = records[0]
        source = first.source
        counted = lines.get(source)
        if counted is None:
            ensure_source(session, source, now=now)
            counted = 0
        lines[source] = counted + len(records)
        when = first.time if len(records) == 1 else event.time
        if when is not None:
            known = latest.get(source)
            if known is None or when > known:
                latest[source] = when
            if unsettled and source in unsettled and not event.time_lent:
                _settle(session, unsettled.pop(source), when)
        sight = sights[index]
        if sight is PLAIN:
            continue
        if isinstance(sight, Request):
            _count_request(session, state, source, event.when, sight.access)
            continue
        for part in split_glued(event) if sight is None or sight.platform else (event,):
            _apply_part(
                session,
                matcher,
                state,
                fallback,
                part,
                now=now,
                sight=None if part is not event else sight,
            )
    _advance_clocks(session, matcher, state, latest, now=now)
    state.write(session)
    group_incidents(session, matcher.outage_rules, lines, now=now)
    settle(session, {s.id for s in matcher.signatures if s.kind == "pair"})
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
    sight: Sight | None,
) -> None:
    """Match one event (or one part of a line that glued several) and store its incident.

    `sight`: what the sieve found in the event, None when it did not look at it."""
    platform = (
        len(event.records) == 1
        and (sight is None or sight.platform)
        and _note_platform_line(session, state, event)
    )
    hit = matcher.match(event, sifted=(sight.message, sight.written) if sight else None)
    if hit is None or hit.signature.id == TEMPLATE_SIGNATURE:
        # Deploy markers, data gaps and access lines tell their story elsewhere.
        hit = None if platform else template_hit(session, state.templates, fallback, event, hit)
    if hit is None:
        return
    incident = attach_hit(session, hit, now=now)
    minutes = hit.signature.quiet_minutes
    quiet = timedelta(minutes=minutes) if minutes > 0 else None
    by_endpoint = hit.signature.kind != "pair"
    if isinstance(incident, Wait):
        # Its window counts from the start line, kept under the wait's key until it has an id.
        key, signature_id = incident.key, hit.signature.id
        state.hit(event.source, event.when, key, signature_id, quiet=quiet, shown=False, first=True)
        return
    if incident is None or incident.id is None:
        return
    if hit.signature.id == TEMPLATE_SIGNATURE:
        note_first_seen(session, incident)
    if incident.status == "resolved":
        state.impact.close(incident.id, incident.resolved_at, incident.resolution or "")
    elif hit.role in ("open", "start"):
        # Pending incidents (a threshold not reached yet) may still be discarded: no evidence.
        state.hit(
            event.source,
            event.when,
            incident.id,
            hit.signature.id,
            quiet=quiet,
            shown=incident.status in UNRESOLVED_STATUSES,
            by_endpoint=by_endpoint,
            first=incident.occurrences <= 1,
        )


def _settle(session: Session, waiting: list[Unsettled], after: datetime) -> None:
    """Settle the markers a batch ended on, now that the next timed line came: those it bounds
    take their lent time (`about`), as one batch holding both lines would have given them."""
    for unsettled in waiting:
        if abs(after - unsettled.lent) <= BOUND:
            settle_marker(session, unsettled)


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
        deploy = record_marker(
            session, event.source, marker, time=time, text=message, approx=lent == ABOUT
        )
        waiting = unsettled_marker(session, deploy, marker, event.time) if lent == AFTER else None
        if waiting is not None:
            state.unsettled.setdefault(event.source, []).append(waiting)
        # A bare `==> Your service is live` still tells that the deploy went live after every
        # hit logged before it: the lent time, a lower bound, orders it for the request counts.
        live = (deploy.live_at or event.time) if deploy is not None else None
        if marker.stage == "live" and live is not None:
            state.impact.deploy_live(event.source, live)
        return True
    dropped = platform_drop(message)
    if dropped is not None:
        record_gap(session, event.source, time=event.when, text=dropped)
        return True
    access = parse_access(message)
    if access is not None:
        _count_request(session, state, event.source, event.when, access)
        return True
    return False


def _count_request(
    session: Session, state: IntakeState, source: str, when: datetime | None, access: Access
) -> None:
    """Count a request; resolve the incidents whose failing endpoint it shows answering again."""
    for incident_id, text, at in state.request(source, when, access):
        incident = session.get(Incident, incident_id)
        window = state.impact.windows[incident_id]
        if incident is not None and incident.status in UNRESOLVED_STATUSES:
            resolve_recovered(session, incident, at=at, text=text, live=window.live_at)


def _advance_clocks(
    session: Session,
    matcher: Matcher,
    state: IntakeState,
    latest: dict[str, datetime],
    *,
    now: datetime,
) -> None:
    signatures = {signature.id: signature for signature in matcher.signatures}
    for name, when in latest.items():
        source = ensure_source(session, name, now=now, lock=True)
        answered = state.impact.answered.get(name)
        if answered is not None and (
            source.last_answered_at is None or answered > source.last_answered_at
        ):
            source.last_answered_at = answered
            session.add(source)
        if source.last_log_time is None or when > source.last_log_time:
            source.last_log_time = when
            session.add(source)
            swept = sweep_source(
                session, source, signatures, first_answer=state.impact.first_answer
            )
            for incident in swept:
                if incident.id is not None:
                    state.impact.close(incident.id, incident.resolved_at, incident.resolution or "")
