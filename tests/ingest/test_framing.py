"""The framer: octet counting and LF lines, any split of the stream, hostile bytes, huge counts."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.ingest.framing import Framer, FramingError, split_frames

MESSAGES = [
    b"<190>1 2025-09-19T12:43:14.000000+00:00 host app web.1 - NameError: name 'logger' is not defined",
    b'<158>1 2025-09-19T12:43:15.000000+00:00 host heroku router - at=error code=H12 desc="Request timeout"',
    "<14>1 2025-09-19T12:43:16Z host app web.2 - caf\u00e9 \u2603".encode(),
]


def counted(message: bytes) -> bytes:
    return str(len(message)).encode() + b" " + message


def test_octet_counted_frames_without_separators() -> None:
    assert split_frames(b"".join(counted(m) for m in MESSAGES)) == MESSAGES


def test_lf_lines_and_stray_newlines() -> None:
    body = b"\n".join(MESSAGES) + b"\r\n\n"
    assert split_frames(body) == MESSAGES


def test_mixed_framing_and_stray_lf_between_counted_frames() -> None:
    body = counted(MESSAGES[0]) + b"\n" + MESSAGES[1] + b"\n" + counted(MESSAGES[2])
    assert split_frames(body) == MESSAGES


def test_plain_text_starting_with_digits_is_a_line() -> None:
    assert split_frames(b"200 OK\n2025-09-19 12:43:14 started\n") == [
        b"200 OK",
        b"2025-09-19 12:43:14 started",
    ]


def test_declared_length_of_a_billion_allocates_nothing_and_fails_clearly() -> None:
    tracemalloc.start()
    with pytest.raises(FramingError, match="declares 1000000000 bytes"):
        Framer().feed(b"1000000000 <190>1 x")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1_000_000


def test_an_endless_line_fails_clearly() -> None:
    with pytest.raises(FramingError, match="without a newline"):
        Framer(max_frame=100).feed(b"x" * 200)


@settings(max_examples=200, derandomize=True)
@given(st.lists(st.sampled_from(MESSAGES), min_size=1, max_size=8), st.data())
def test_any_split_of_the_stream_gives_the_same_frames(
    messages: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(counted(m) for m in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    framer = Framer()
    frames: list[bytes] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        frames += framer.feed(stream[start:cut])
        start = cut
    assert frames + framer.close() == messages


@settings(max_examples=300, derandomize=True)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_frame_or_fail_clearly(data: bytes) -> None:
    try:
        frames = split_frames(data, max_frame=4096)
    except FramingError:
        return
    assert all(isinstance(frame, bytes) for frame in frames)
