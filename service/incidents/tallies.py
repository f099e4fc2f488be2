"""Counts over stored incidents: how many a source has, and how often each signature hit."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case
from sqlmodel import Session, col, func, select

from service.models import VISIBLE_STATUSES, Incident


@dataclass(frozen=True, slots=True)
class SignatureTally:
    """One signature's incidents (all and still open) and the hits they counted."""

    incidents: int
    unresolved: int
    hits: int


def incident_count(session: Session, *, source: str) -> int:
    """Return how many visible incidents source `source` has."""
    statement = (
        select(func.count())
        .select_from(Incident)
        .where(Incident.source == source, col(Incident.status).in_(VISIBLE_STATUSES))
    )
    return int(session.exec(statement).one())


def signature_tallies(session: Session) -> dict[str, SignatureTally]:
    """Return each signature's incident and hit counts, by signature id (none: not listed)."""
    unresolved = func.sum(case((col(Incident.status) != "resolved", 1), else_=0))
    statement = (
        select(
            col(Incident.signature),
            func.count(),
            unresolved,
            func.coalesce(func.sum(col(Incident.occurrences)), 0),
        )
        .where(col(Incident.status).in_(VISIBLE_STATUSES))
        .group_by(col(Incident.signature))
    )
    return {
        signature: SignatureTally(int(count), int(still or 0), int(hits))
        for signature, count, still, hits in session.exec(statement).all()
    }
