"""Normalisation: decoding, control and ANSI removal, truncation."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.ingest.headers import parse_line, split_lines
from service.ingest.normalise import (
    WRAP_WIDTH,
    clean_lines,
    decode_bytes,
    normalise_line,
    normalise_message,
    normalised_lines,
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"plain", "plain"),
        (b"\xef\xbb\xbfwith bom", "with bom"),
        (b"bad \xff\xfe bytes", "bad \ufffd\ufffd bytes"),
        (b"truncated \xe2\x9c", "truncated \ufffd"),
        ("caf\u00e9 \u2705".encode(), "caf\u00e9 \u2705"),
        (b"", ""),
    ],
)
def test_decode_bytes_replaces_invalid_utf8_and_strips_bom(data: bytes, expected: str) -> None:
    assert decode_bytes(data) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ordinary line", "ordinary line"),
        ("tab\tkept", "tab\tkept"),
        ("nul\x00dropped", "nuldropped"),
        ("\x1b[31mERROR\x1b[0m: red", "ERROR: red"),
        ("\x1b[1;32;40mbold green\x1b[0m", "bold green"),
        ("\x1b[2K\x1b[1Gprogress", "progress"),
        ("\x1b]0;window title\x07after", "after"),
        ("\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x9b31mC1 csi", "C1 csi"),
        ("unterminated \x1b[31", "unterminated "),
        ("lone escape \x1b", "lone escape "),
        ("bell\x07 and backspace\x08", "bell\ufffd and backspace\ufffd"),
        ("embedded\nnewline", "embedded\ufffdnewline"),
        ("carriage\rreturn", "carriage\ufffdreturn"),
        ("del\x7fchar", "del\ufffdchar"),
        ("unicode \u00e9 \u2705 kept", "unicode \u00e9 \u2705 kept"),
        # colour codes whose ESC was lost on the way, stripped only beside a reset
        (
            "[31mERROR[0m:    Exception in ASGI application",
            "ERROR:    Exception in ASGI application",
        ),
        ("Started server process [[36m1[0m]", "Started server process [1]"),
        ("[36;1malembic upgrade head[0m", "alembic upgrade head"),
        ("[[0m0m", ""),
        ("timeout [5m] without a reset", "timeout [5m] without a reset"),
    ],
)
def test_normalise_line_removes_escapes_and_control_characters(line: str, expected: str) -> None:
    assert normalise_line(line) == expected


def test_normalise_line_keeps_lines_within_the_limit() -> None:
    line = "x" * 100
    assert normalise_line(line, max_bytes=100) == line


def test_normalise_line_truncates_and_marks_long_lines() -> None:
    result = normalise_line("x" * 1000, max_bytes=100)
    assert result.startswith("x" * 50)
    assert result.endswith(" bytes]")
    assert "…[truncated " in result
    assert len(result.encode("utf-8")) <= 100
    kept = result.index(" …")
    assert result == "x" * kept + f" …[truncated {1000 - kept} bytes]"


def test_normalise_line_counts_utf8_bytes_not_characters() -> None:
    line = "\u00e9" * 60  # 120 bytes in 60 characters
    result = normalise_line(line, max_bytes=100)
    assert "truncated" in result
    assert len(result.encode("utf-8")) <= 100


def test_normalise_line_never_splits_a_multibyte_character() -> None:
    result = normalise_line("\u2705" * 100, max_bytes=64)
    head = result.split(" …")[0]
    assert set(head) == {"\u2705"}


@given(st.text(), st.integers(min_value=40, max_value=300))
def test_normalise_line_output_is_bounded_and_control_free(text: str, max_bytes: int) -> None:
    result = normalise_line(text, max_bytes=max_bytes)
    assert len(result.encode("utf-8")) <= max_bytes
    assert not any(ord(c) < 0x20 and c != "\t" for c in result)
    assert "\x1b" not in result


@given(st.text())
def test_normalise_line_is_idempotent(text: str) -> None:
    once = normalise_line(text, max_bytes=200)
    assert normalise_line(once, max_bytes=200) == once


@pytest.mark.parametrize(
    "line",
    ["\x1b]" * 20000, "\x1b[" + "0;" * 30000, "\x1b]0;" + "a" * 60000, "\x9b" * 60000],
)
def test_normalise_line_stays_fast_on_hostile_escapes(line: str) -> None:
    started = time.perf_counter()
    result = normalise_line(line)
    assert time.perf_counter() - started < 1.0
    assert "\x1b" not in result


@pytest.mark.parametrize("line", ["[0" * 30000 + "x[0m", "[" * 30000 + "0m" * 30000])
def test_orphan_colour_codes_are_stripped_fast_on_hostile_lines(line: str) -> None:
    started = time.perf_counter()
    normalise_line(line)
    assert time.perf_counter() - started < 1.0


def test_normalise_message_keeps_newlines_and_cleans_each_line() -> None:
    text = "first\x1b[0m\r\n\tsecond\x07\rthird"
    assert normalise_message(text) == "first\n\tsecond\ufffd\nthird"


def _lines(text: str, headed: tuple[str, ...] = ()) -> list[str]:
    return list(normalised_lines(text, headed=lambda line: line.startswith(headed or ("\x00",))))


def _wrap(line: str, width: int = WRAP_WIDTH) -> str:
    return "\n".join(line[i : i + width] for i in range(0, len(line), width))


LONG = (
    "app[worker.1]: psycopg2.OperationalError: server closed the connection unexpectedly "
    "This probably means the server terminated abnormally before or while processing the request."
)


def test_a_line_hard_wrapped_mid_word_is_joined_back() -> None:
    assert _lines(_wrap(LONG) + "\nnext line") == [LONG, "next line"]


def test_a_wrap_that_fell_on_a_space_is_joined_back() -> None:
    line = "x" * (WRAP_WIDTH - 5) + " from the CRM"
    assert _lines(_wrap(line)) == [line]


@pytest.mark.parametrize(
    "following",
    [
        "ValueError: boom",
        "DETAIL:  Key (id)=(1) already exists.",
        "Traceback (most recent call last):",
        '  File "/app/x.py", line 1, in f',
        "  two spaces",
        "[SQL: SELECT 1]",
        "^^^^^",
        "app[web.1]: a line with a header of its own",
    ],
)
def test_a_line_that_cannot_be_a_continuation_is_never_joined(following: str) -> None:
    line = "x" * WRAP_WIDTH
    assert _lines(f"{line}\n{following}", headed=("app[",)) == [line, following]


@pytest.mark.parametrize(
    "text",
    [
        "x" * (WRAP_WIDTH - 1) + "\ncontinued",  # not the wrap width
        "x" * (WRAP_WIDTH + 1) + "\ncontinued",
        "x" * WRAP_WIDTH + "\n\ncontinued",  # a blank line between
        "    " + "x" * (WRAP_WIDTH - 4) + "\ncontinued",  # an indented source line
    ],
)
def test_only_a_column_zero_line_of_exactly_the_wrap_width_continues(text: str) -> None:
    assert len(_lines(text)) == 2


def test_joining_stops_at_a_quarter_of_the_line_limit() -> None:
    text = ("y" * WRAP_WIDTH + "\n") * 100
    lines = list(normalised_lines(text, max_bytes=1000, headed=lambda line: False))
    assert "".join(lines) == "y" * WRAP_WIDTH * 100
    assert max(len(line) for line in lines) <= 1000 // 4 + WRAP_WIDTH


def test_lone_surrogates_from_json_escapes_become_replacement_characters() -> None:
    assert normalise_line("a\ud800b\udfffc") == "a\ufffdb\ufffdc"


def _headed(line: str) -> bool:
    return line[:1].isdigit()


_PIECES = st.sampled_from(
    [
        *("\n", "\r\n", "\r", "\ufeff", "\x00", "\t", "\x1b[31m", "[31m", "[0m", "\x9b", "é", "😀"),
        *("ERROR", "Traceback (most recent call last):", "  File", "ValueError: x", "word", " "),
        *("2025-10-09 07:40:00,354 INFO x", "a" * 79, "b" * 80, "c" * 81, "\ud800", "x" * 300),
    ]
)


@settings(max_examples=1500, derandomize=True)
@given(st.lists(_PIECES, max_size=12).map("".join), st.sampled_from([65536, 400, 64]))
def test_clean_lines_are_the_normalised_lines_of_a_clean_text(text: str, max_bytes: int) -> None:
    clean = clean_lines(text, max_bytes=max_bytes, headed=_headed)
    normalised = list(normalised_lines(text, max_bytes=max_bytes, headed=_headed))
    assert clean is None or clean == normalised


def test_clean_lines_take_a_clean_text_and_leave_any_other() -> None:
    wrapped = "x" * 80 + "\nrest of it\n"
    assert clean_lines(wrapped, headed=_headed) == ["x" * 80 + "rest of it"]
    assert clean_lines("\ufeffa\r\nb\n\nc", headed=_headed) == ["a", "b", "c"]
    assert clean_lines("a\x00b", headed=_headed) is None
    assert clean_lines("[31mred[0m", headed=_headed) is None


@settings(max_examples=1500, derandomize=True)
@given(st.lists(_PIECES, max_size=6).map("".join), st.sampled_from([65536, 400, 64]))
def test_split_lines_are_the_normalised_lines(text: str, max_bytes: int) -> None:
    def headed(line: str) -> bool:
        return parse_line(line, source="").headed

    expected = list(normalised_lines(text, max_bytes=max_bytes, headed=headed))
    assert split_lines(text, max_line_bytes=max_bytes) == expected
