"""Entries into records: frames parsed as one run as they parse one by one; envelopes laid over."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from msgspec.structs import fields, replace

from service.ingest.entries import Entry, _each_entry, to_records
from service.ingest.records import LogRecord

T0 = datetime(2025, 10, 9, 7, 40, tzinfo=UTC)


def _frames(*messages: str) -> list[Entry]:
    return [Entry(message=message) for message in messages]


_FRAME_SETS = [
    _frames(
        "<190>1 2025-10-09T07:40:00.000000+00:00 host app web.1 - Traceback (most recent call last):",
        '<190>1 2025-10-09T07:40:00.001000+00:00 host app web.1 -   File "/app/x.py", line 3, in f',
        "<190>1 2025-10-09T07:40:00.002000+00:00 host app web.1 - ValueError: boom",
        "<190>1 2025-10-09T07:40:00.003000+00:00 host app web.2 - token=abc123secret",
    ),
    _frames(
        "<190>1 - host app web.1 - " + "x" * 54,
        "<190>1 2025-10-09T07:40:01+00:00 host heroku router - at=info method=GET path=/",
        "<190>1 - host app web.1 - -----BEGIN RSA PRIVATE KEY-----",
        "<190>1 - host app web.1 - " + "QUJD" * 16,
        "<190>1 - host app web.1 - -----END RSA PRIVATE KEY-----",
        "<13>Oct  9 07:40:02 host app[7]: a year-less time\r\nand a second line",
        "<190>1 2025-10-09T07:40:03+00:00 host app web.1 - ",
        "<190>1 2025-10-09T07:40:04+00:00 host app web.1 - \x1b[31mred\x1b[0m done",
        "<190>1 - host app web.1 - " + "y" * 80,
        "<190>1 - host app web.1 - continues",
    ),
    _frames("z" * 80, "continues mid-word", "\ufeffa BOM", "ERROR plain", "  File x"),
]


@pytest.mark.parametrize("entries", _FRAME_SETS)
def test_frames_read_together_give_the_records_of_frames_read_one_by_one(
    entries: list[Entry],
) -> None:
    together = to_records(entries, source="api", received_at=T0)
    one_by_one = _each_entry(
        entries, source="api", received_at=T0, start_seq=0, max_line_bytes=65536
    )
    assert [replace(r, seq=0) for r in together] == [replace(r, seq=0) for r in one_by_one]
    assert [r.seq for r in together] == sorted({r.seq for r in together})
    assert "abc123secret" not in repr(together) and "QUJDQUJD" not in repr(together)


def test_an_envelope_is_laid_over_every_field_of_the_record() -> None:
    entry = Entry(message="ERROR boom\n  more", time=T0, instance="web.3", stream="app")
    first, second = to_records([entry], source="api", received_at=T0)
    parsed = to_records([Entry(message="ERROR boom\n  more")], source="api", received_at=T0)
    changed = {"time", "instance", "stream"}
    for made, plain in zip((first, second), parsed, strict=True):
        same = [f.name for f in fields(LogRecord) if f.name not in changed]
        assert [getattr(made, name) for name in same] == [getattr(plain, name) for name in same]
    assert (first.time, first.instance, second.instance) == (T0, "web.3", "web.3")
