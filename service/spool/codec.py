"""Records to bytes and back, for the spool: compact JSON, one object per record."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from service.ingest.records import LogRecord


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def encode_records(records: list[LogRecord], *, ascii_only: bool = False) -> bytes:
    """Return the records as compact JSON bytes; `ascii_only` escapes every other character
    (a NUL included), for a database text column."""
    # A batch's records share one arrival time (the same object): it is spelled once.
    last: datetime | None = None
    spelled: str | None = None
    rows = []
    for r in records:
        time, received = r.time, r.received_at
        if received is not last:
            last, spelled = received, _time(received)
        rows.append(
            [
                r.message,
                r.source,
                time.isoformat() if time is not None else None,
                spelled,
                r.instance,
                r.stream,
                r.level,
                r.headed,
                r.seq,
                r.written,
            ]
        )
    return json.dumps(rows, ensure_ascii=ascii_only, separators=(",", ":")).encode("utf-8")


def decode_records(data: bytes) -> list[LogRecord]:
    """Return the records encoded by `encode_records`."""
    return [
        LogRecord(
            message=row[0],
            source=row[1],
            time=_parse_time(row[2]),
            received_at=_parse_time(row[3]),
            instance=row[4],
            stream=row[5],
            level=row[6],
            headed=bool(row[7]),
            seq=int(row[8]),
            written=row[9] if len(row) > 9 else "",
        )
        for row in json.loads(data)
    ]
