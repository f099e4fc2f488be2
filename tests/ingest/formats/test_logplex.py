"""Heroku logplex bodies: octet-counted frames into entries, and those entries into records."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.ingest.entries import BodyError, to_records
from service.ingest.formats.logplex import _counted_frames, parse_logplex
from service.ingest.framing import split_frames

PAYLOAD = (Path(__file__).parent / "payloads" / "logplex_crash.txt").read_bytes()


def frame(message: str) -> bytes:
    data = (message + "\n").encode()
    return str(len(data)).encode() + b" " + data


def test_every_frame_is_one_entry() -> None:
    parsed = parse_logplex(PAYLOAD)
    assert len(parsed.entries) == 9
    assert not parsed.rejected
    assert parsed.entries[5].message.endswith("NameError: name 'logger' is not defined")


def test_frames_become_records_with_heroku_fields() -> None:
    records = to_records(parse_logplex(PAYLOAD).entries, source="shop", received_at=None)
    by_message = {record.message: record for record in records}
    error = by_message["NameError: name 'logger' is not defined"]
    assert (error.instance, error.stream) == ("web.1", "app")
    assert error.time == datetime(2025, 9, 19, 12, 43, 14, tzinfo=UTC)
    frame_line = by_message['  File "/app/main.py", line 42, in list_orders']
    assert frame_line.instance == "web.1"
    router = next(r for r in records if r.message.startswith("at=info"))
    assert (router.stream, router.instance) == ("router", "router")
    overflow = next(r for r in records if "L10" in r.message)
    assert (overflow.stream, overflow.instance) == ("platform", "logplex")


def test_stray_newlines_between_frames_are_tolerated() -> None:
    body = b"\n" + frame("<190>1 2025-09-19T12:43:14+00:00 host app web.1 - one") + b"\r\n\n"
    body += frame("<190>1 2025-09-19T12:43:15+00:00 host app web.2 - two")
    assert [e.message[-3:] for e in parse_logplex(body).entries] == ["one", "two"]


def test_multibyte_messages_are_counted_in_bytes() -> None:
    body = frame("<190>1 2025-09-19T12:43:14+00:00 host app web.1 - caf\u00e9 \u2603") * 2
    assert [e.message[-6:] for e in parse_logplex(body).entries] == ["caf\u00e9 \u2603"] * 2


def test_frames_before_a_framing_error_are_kept() -> None:
    good = frame("<190>1 2025-09-19T12:43:14+00:00 host app web.1 - kept")
    parsed = parse_logplex(good + b"99999999 <190>1 2025-09-19T12:43:14+00:00 host app web.1 - x")
    assert [e.message[-4:] for e in parsed.entries] == ["kept"]
    assert parsed.rejected == {"bad_frame": 1}


@pytest.mark.parametrize(
    "body", [b"99999999 <190>1 x", b"4000000000 <1>"], ids=["over-limit", "huge-count"]
)
def test_a_body_with_no_frame_is_a_body_error(body: bytes) -> None:
    with pytest.raises(BodyError) as raised:
        parse_logplex(body)
    assert raised.value.code == "bad_logplex"


def test_an_empty_body_has_no_entries() -> None:
    assert parse_logplex(b"\n\n").entries == []


def _frame(text: bytes) -> bytes:
    return b"%d %s" % (len(text), text)


_PIECES = st.one_of(
    st.binary(max_size=30).map(lambda text: _frame(b"<190>1 - host app web.1 - " + text)),
    st.binary(max_size=30).map(lambda text: _frame(b"<" + text)),
    st.sampled_from([b"\n", b"\r\n", b"\r", b"12 <", b"5 <ab", b"99999999999 <", b"text\n"]),
    st.binary(max_size=8),
)


@given(st.lists(_PIECES, max_size=8).map(b"".join))
def test_the_counted_fast_path_frames_as_the_framer_does(body: bytes) -> None:
    fast = _counted_frames(body, 64 * 1024, None)
    if fast is not None:
        assert fast == split_frames(body)


def test_a_heroku_body_takes_the_counted_fast_path() -> None:
    body = b"".join(_frame(b"<190>1 - host app web.1 - line %d\n" % n) for n in range(3))
    assert _counted_frames(body, 64 * 1024, None) == [
        b"<190>1 - host app web.1 - line 0",
        b"<190>1 - host app web.1 - line 1",
        b"<190>1 - host app web.1 - line 2",
    ]
    assert _counted_frames(body, 64 * 1024, 2) is None  # past the cap: the framer counts
