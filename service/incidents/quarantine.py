"""Reading back the records the processor quarantined (a record it could not store), and their
JSON form; the processor writes them (service/processor.py)."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, func, select

from service.incidents.queries import rfc3339
from service.models import QuarantinedRecord


def recent_quarantine(
    session: Session, source: str | None, *, limit: int = 20
) -> list[QuarantinedRecord]:
    """Return the latest quarantined records of `source` (every source for None), newest first."""
    statement = select(QuarantinedRecord)
    if source is not None:
        statement = statement.where(QuarantinedRecord.source == source)
    statement = statement.order_by(col(QuarantinedRecord.id).desc()).limit(limit)
    return list(session.exec(statement).all())


def quarantine_counts(session: Session) -> dict[str, int]:
    """Return how many records each source has in quarantine."""
    rows = session.exec(
        select(QuarantinedRecord.source, func.count()).group_by(QuarantinedRecord.source)
    ).all()
    return {source: int(count) for source, count in rows}


def quarantine_json(row: QuarantinedRecord) -> dict[str, Any]:
    """Return a quarantined record as the API shows it: why, when, and the line itself."""
    try:
        fields = json.loads(row.record)[0]
        message, instance, stream, level = fields[0], fields[4], fields[5], fields[6]
    except (ValueError, IndexError, TypeError, KeyError):
        message, instance, stream, level = row.record, "", "", ""
    return {
        "id": row.id,
        "source": row.source,
        "batch": row.batch_key,
        "received_at": rfc3339(row.received_at),
        "quarantined_at": rfc3339(row.quarantined_at),
        "reason": row.reason,
        "message": message,
        "instance": instance,
        "stream": stream,
        "level": level,
    }
