"""Putting incidents into outages: each visible incident joins the outage of an incident its cause
rules tie it to, or opens one of its own; an outage's status and times follow its incidents."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import case, func, type_coerce
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from service.db import UTCDateTime, utcnow
from service.models import UNRESOLVED_STATUSES, VISIBLE_STATUSES, Deploy, Incident, Outage
from service.notify.outage_outbox import announce, hand_over
from service.outages.rules import CauseRule, Span, story_between
from service.signatures.model import SEVERITIES

# Incidents looked at as partners of a new one: the nearest in time, enough for any real outage.
MAX_PARTNERS = 200


def span_of(session: Session, incident: Incident) -> Span:
    """Return what the cause rules look at of an incident."""
    deploy = session.get(Deploy, incident.deploy_id) if incident.deploy_id else None
    deploy_at = (deploy.started_at or deploy.live_at or deploy.failed_at) if deploy else None
    return Span(
        incident.signature,
        incident.fields,
        incident.first_seen,
        incident.last_seen,
        incident.deploy_id,
        deploy_at,
    )


def group_incidents(
    session: Session, rules: Sequence[CauseRule], sources: Iterable[str], *, now: datetime
) -> list[Outage]:
    """Give every visible incident of these sources that has no outage yet its outage."""
    names = sorted(set(sources))
    if not names:
        return []
    statement = (
        select(Incident)
        .where(
            col(Incident.outage_id).is_(None),
            col(Incident.status).in_(VISIBLE_STATUSES),
            col(Incident.source).in_(names),
        )
        .order_by(col(Incident.first_seen), col(Incident.id))
    )
    return [join_outage(session, rules, incident, now=now) for incident in session.exec(statement)]


def join_outage(
    session: Session, rules: Sequence[CauseRule], incident: Incident, *, now: datetime
) -> Outage:
    """Put the incident into the outage its story belongs to (merging outages it ties together)."""
    mine = span_of(session, incident)
    found: set[int] = set()
    becomes_cause = False
    for partner_id, outage_id, span in _partners(session, rules, incident):
        story = story_between(rules, mine, span)
        if story is None:
            continue
        found.add(outage_id)
        # The new incident caused its outage's cause (the database went away before the loops
        # that noticed it were logged): the story now starts from it.
        partner_outage = session.get(Outage, outage_id)
        if (
            story[1] is mine
            and partner_outage is not None
            and partner_outage.cause_id == partner_id
        ):
            becomes_cause = True
    if not found:
        outage = Outage(
            source=incident.source,
            title=incident.title,
            status="open",
            started_at=incident.first_seen,
            created_at=now,
            cause_id=incident.id,
        )
        session.add(outage)
        session.flush()
        incident.outage_id = outage.id
        session.add(incident)
        if incident.resolution == "recovered":
            note_recovery(session, incident)
        _follow(outage, incident)
        announce(session, outage, incident.severity, now=now)
        return outage
    target = session.get(Outage, min(found))
    assert target is not None
    for other_id in sorted(found)[1:]:
        _merge_into(session, target, other_id)
    incident.outage_id = target.id
    session.add(incident)
    if becomes_cause:
        target.cause_id = incident.id
    session.flush()
    if incident.resolution == "recovered":
        note_recovery(session, incident)
    return refresh_outage(session, target)


def _partners(
    session: Session, rules: Sequence[CauseRule], incident: Incident
) -> list[tuple[int, int, Span]]:
    """Return the incidents of the same source near enough in time for some rule to join, as
    (id, outage id, span), in one statement (their deploys joined in)."""
    if incident.first_seen is None or not rules:
        return []
    reach = max(rule.within for rule in rules)
    end = incident.last_seen or incident.first_seen
    # SQLAlchemy's own `select` for rows of columns: SQLModel's is typed up to four.
    statement = (
        sql_select(
            col(Incident.id),
            col(Incident.outage_id),
            col(Incident.signature),
            col(Incident.fields),
            col(Incident.first_seen),
            col(Incident.last_seen),
            col(Incident.deploy_id),
            col(Deploy.started_at),
            col(Deploy.live_at),
            col(Deploy.failed_at),
        )
        .outerjoin(Deploy, col(Deploy.id) == col(Incident.deploy_id))
        .where(
            col(Incident.source) == incident.source,
            col(Incident.outage_id).is_not(None),
            col(Incident.id) != incident.id,
            col(Incident.first_seen) <= end + reach,
            col(Incident.last_seen) >= incident.first_seen - reach,
        )
        .order_by(col(Incident.last_seen).desc())
        .limit(MAX_PARTNERS)
    )
    partners = []
    for row in session.execute(statement):
        ident, outage_id, signature, fields, first, last, deploy_id, *times = row
        deploy_at = next((time for time in times if time is not None), None)
        span = Span(signature, fields, first, last, deploy_id, deploy_at)
        partners.append((ident, outage_id, span))
    return partners


def _merge_into(session: Session, outage: Outage, other_id: int) -> None:
    """Move every incident of outage `other_id` into `outage` and drop the emptied one."""
    assert outage.id is not None
    for member in session.exec(select(Incident).where(Incident.outage_id == other_id)):
        member.outage_id = outage.id
        session.add(member)
    hand_over(session, other_id, outage.id, now=utcnow())
    other = session.get(Outage, other_id)
    session.flush()
    if other is not None:
        session.delete(other)


def members(session: Session, outage_id: int) -> list[Incident]:
    """Return the incidents of an outage, first seen first."""
    statement = (
        select(Incident)
        .where(Incident.outage_id == outage_id)
        .order_by(col(Incident.first_seen), col(Incident.id))
    )
    return list(session.exec(statement).all())


def refresh_outage(session: Session, outage: Outage) -> Outage:
    """Set the outage's status, times and title from its incidents, and put what the change
    tells in the outbox.

    One aggregate over its incidents, not the incidents themselves: an outage may hold
    hundreds, and this runs whenever one of them resolves.
    """
    assert outage.id is not None
    member = col(Incident.outage_id) == outage.id
    # `failure_end`, in SQL: a quiet period only shows that the failure had ended by its last hit.
    quiet = (col(Incident.resolution) == "quiet") | col(Incident.resolved_at).is_(None)
    end = type_coerce(
        case((quiet, col(Incident.last_seen)), else_=col(Incident.resolved_at)), UTCDateTime
    )
    unresolved = case((col(Incident.status).in_(UNRESOLVED_STATUSES), 1), else_=0)
    rank = case(
        *((col(Incident.severity) == level, i) for i, level in enumerate(SEVERITIES)),
        else_=len(SEVERITIES),
    )
    statement = sql_select(
        func.count(),
        func.min(col(Incident.first_seen)),
        func.sum(unresolved),
        func.max(end),
        func.min(rank),
    ).where(member)
    count, started, open_count, ended, top = session.execute(statement).one()
    if not count:
        return outage
    outage.started_at = started
    if open_count:
        outage.status = "open"
        outage.ended_at = None
    else:
        outage.status = "resolved"
        outage.ended_at = ended
    cause = session.get(Incident, outage.cause_id) if outage.cause_id is not None else None
    if cause is None or cause.outage_id != outage.id:
        first = select(Incident).where(member).order_by(col(Incident.first_seen), col(Incident.id))
        cause = session.exec(first.limit(1)).one()
    outage.cause_id = cause.id
    outage.title = cause.title
    session.add(outage)
    known = top is not None and top < len(SEVERITIES)
    announce(session, outage, SEVERITIES[top] if known else "", now=utcnow())
    return outage


def _follow(outage: Outage, incident: Incident) -> None:
    """Set a new outage's status, times and title from its one incident, as `refresh_outage`
    would from the aggregate of its incidents."""
    outage.started_at = incident.first_seen
    unresolved = incident.status in UNRESOLVED_STATUSES
    outage.status = "open" if unresolved else "resolved"
    outage.ended_at = None if unresolved else failure_end(incident)
    outage.cause_id = incident.id
    outage.title = incident.title


def failure_end(incident: Incident) -> datetime | None:
    """Return when the failure of a resolved incident ended, in log time.

    A recovery line, the fix deploy going live or the operator's resolve mark the end; a quiet
    period only shows that the failure had ended by its last hit.
    """
    if incident.resolution == "quiet" or incident.resolved_at is None:
        return incident.last_seen
    return incident.resolved_at


def outage_duration(
    outage: Outage, incidents: Sequence[Incident], end_of_log: datetime | None = None
) -> timedelta | None:
    """Return how long the outage lasted, or has lasted so far (to the end of the log, else to
    its latest hit)."""
    if outage.started_at is None:
        return None
    end = outage.ended_at
    if end is None:
        seen = [i.last_seen for i in incidents if i.last_seen is not None]
        if end_of_log is not None:
            seen.append(end_of_log)
        end = max(seen) if seen else None
    if end is None:
        return None
    # To the second, as reports print the times: a reader's subtraction gives the same figure.
    return end.replace(microsecond=0) - outage.started_at.replace(microsecond=0)


RECOVERED_OUTAGES = "drainwatch.outages_recovered"


def note_recovery(session: Session, incident: Incident) -> None:
    """Remember that an incident of an outage logged its recovery (see `lifecycle.settle`)."""
    if incident.outage_id is not None:
        session.info.setdefault(RECOVERED_OUTAGES, set()).add(incident.outage_id)


def recovered_outages(session: Session) -> list[int]:
    """Return (and forget) the outages an incident logged its recovery in since the last call."""
    return sorted(session.info.pop(RECOVERED_OUTAGES, set()))
