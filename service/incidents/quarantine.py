"""Quarantined records: what the processor could not store, kept with the reason, counted on
their source, and read back with their JSON form."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from service.incidents.queries import rfc3339
from service.ingest.records import LogRecord
from service.models import QuarantinedRecord, Source
from service.sources import SOURCE_NAME, ensure_source
from service.spool.codec import encode_records

RAW_KEPT = 65536
"""Bytes of a damaged spool batch kept in its quarantine row."""


def quarantine_records(
    session: Session, records: list[LogRecord], reason: str, *, batch_key: str, now: datetime
) -> None:
    """Keep records that cannot be stored, with why, where a person can read them."""
    counts: Counter[str] = Counter()
    for record in records:
        counts[record.source] += 1
        session.add(
            QuarantinedRecord(
                source=printable(record.source)[:200],
                batch_key=batch_key,
                received_at=record.received_at,
                quarantined_at=now,
                reason=printable(reason)[:500],
                record=encode_records([record], ascii_only=True).decode("ascii"),
            )
        )
    for source, count in counts.items():
        _count(session, source, quarantined=count)


def quarantine_damaged(
    session: Session,
    *,
    key: str,
    source: str,
    received_at: datetime,
    lines: int,
    raw: bytes,
    damage: str,
    now: datetime,
) -> None:
    """Keep the bytes of a spool batch that no longer reads, its lines counted as received and
    quarantined, so the source's counters still add up."""
    text = raw[:RAW_KEPT].decode("utf-8", errors="replace")
    record = [text, source, None, None, "", "", "", False, 0]
    session.add(
        QuarantinedRecord(
            source=printable(source)[:200],
            batch_key=key,
            received_at=received_at,
            quarantined_at=now,
            reason=damage[:500],
            record=json.dumps([record]),
        )
    )
    if SOURCE_NAME.match(source):
        ensure_source(session, source, now=now)
    _count(session, source, quarantined=lines, received=lines)


def _count(session: Session, source: str, *, quarantined: int, received: int = 0) -> None:
    """Add to a source's counters in one statement (no row for a name no source can have)."""
    values: dict[str, Any] = {"lines_quarantined": col(Source.lines_quarantined) + quarantined}
    if received:
        values["lines_received"] = col(Source.lines_received) + received
    name = printable(source)[:200]
    session.execute(update(Source).where(col(Source.name) == name).values(**values))


def printable(text: str) -> str:
    """Return text any database column takes: a NUL spelled out, nothing else changed."""
    return json.dumps(text)[1:-1] if "\x00" in text else text


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
