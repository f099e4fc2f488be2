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


def test_bodies_of_the_earlier_encoding_read_back_the_same() -> None:
    # What the stdlib encoder wrote: `+00:00` offsets, `headed` as 0/1 in older bodies.
    old = b'[["boom","api","2025-09-19T12:43:14.250000+00:00",null,"web.1","app","ERROR",1,7,"w"]]'
    [record] = decode_records(old)
    assert record == LogRecord(
        message="boom",
        source="api",
        time=datetime(2025, 9, 19, 12, 43, 14, 250000, tzinfo=UTC),
        instance="web.1",
        level="ERROR",
        headed=True,
        seq=7,
        written="w",
    )


def test_every_character_survives_both_encodings() -> None:
    hostile = LogRecord(message="nul \x00 é 🎉 \ud800 lone", source="api", time_lent="about")
    plain = LogRecord(message="plain é", source="api", received_at=datetime(2025, 1, 1, tzinfo=UTC))
    for ascii_only in (False, True):
        body = encode_records([plain, hostile], ascii_only=ascii_only)
        assert decode_records(body) == [plain, hostile]
    assert encode_records([plain], ascii_only=True).isascii()
