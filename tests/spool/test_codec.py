"""The spool's record codec keeps every field of a record."""

from __future__ import annotations

from datetime import UTC, datetime

from service.ingest.records import LogRecord
from service.spool.codec import decode_records, encode_records


def test_records_survive_the_codec_with_the_line_as_written() -> None:
    record = LogRecord(
        message="deadlock detected",
        source="api",
        time=datetime(2025, 9, 19, 12, 43, 14, tzinfo=UTC),
        instance="812",
        level="ERROR",
        headed=True,
        seq=3,
        written="ERROR:  deadlock detected",
    )
    assert decode_records(encode_records([record])) == [record]


def test_records_spooled_before_the_line_as_written_existed_still_decode() -> None:
    old = b'[["boom","api",null,null,"","app","",false,0]]'
    assert decode_records(old) == [LogRecord(message="boom", source="api")]
