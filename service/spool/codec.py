"""Records to bytes and back, for the spool: compact JSON, one array per record.

A record is `LogRecord`'s fields in order (`[message, source, time, received_at, instance,
stream, level, headed, seq, written, time_lent]`, trailing defaults left out), written and read
by msgspec at C speed. Bodies written by earlier versions (the stdlib's encoding of the same
arrays, `+00:00` offsets, no `time_lent`) read back the same; what msgspec refuses is read the
old way before it is called damaged.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import msgspec

from service.ingest.records import LogRecord

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(list[LogRecord])


def encode_records(records: list[LogRecord], *, ascii_only: bool = False) -> bytes:
    """Return the records as compact JSON bytes; `ascii_only` escapes every other character,
    for a database text column."""
    if not ascii_only:
        try:
            return _ENCODER.encode(records)
        except UnicodeEncodeError:  # a lone surrogate: only the escaping encoder can spell it
            pass
    rows = msgspec.to_builtins(records)
    return json.dumps(rows, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def decode_records(data: bytes) -> list[LogRecord]:
    """Return the records encoded by `encode_records` (or by an earlier version)."""
    try:
        return _DECODER.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return _decode_loosely(data)


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _decode_loosely(data: bytes) -> list[LogRecord]:
    """Read arrays msgspec will not (lone surrogate escapes, `0`/`1` for `headed`)."""
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
            time_lent=row[10] if len(row) > 10 else "",
        )
        for row in json.loads(data)
    ]
