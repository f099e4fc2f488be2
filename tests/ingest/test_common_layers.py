"""The commonest layers read in one match give the record the general peelers give.

`parse_line` tries `common_layers` first; with them switched off it is the general peelers
alone, as it was before they existed. Every line of every corpus, the prefix families of the
prefix matrix, and generated lines of each shape (good, broken and nested) are parsed both ways
and compared field by field, the times' zones and the ignored-times count included.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.corpus import generate
from service.ingest import headers
from service.ingest.headers import parse_line
from service.ingest.timestamps import ignored_times
from tests.hostile import GOOD_LINES
from tests.test_prefix_matrix import FAMILIES

ROOT = Path(__file__).resolve().parents[2]
RECEIVED = datetime(2025, 10, 9, 8, 0, tzinfo=UTC)
REFERENCE = datetime(2025, 10, 9, 7, 0, tzinfo=UTC)


@contextlib.contextmanager
def _general_only() -> Iterator[None]:
    with (
        mock.patch.object(headers, "platform_layers", return_value=None),
        mock.patch.object(headers, "app_layer", return_value=None),
    ):
        yield


def _parsed(lines: list[str], *, common: bool) -> list[tuple[str, int]]:
    """Return (repr of the record, times ignored) for each line, with or without common layers."""
    answers = []
    with contextlib.nullcontext() if common else _general_only():
        for line in lines:
            before = ignored_times()
            record = parse_line(line, source="api", received_at=RECEIVED, reference=REFERENCE)
            answers.append((repr(record), ignored_times() - before))
    return answers


def _both(line: str) -> tuple[tuple[str, int], tuple[str, int]]:
    return _parsed([line], common=True)[0], _parsed([line], common=False)[0]


def _corpus_lines() -> list[str]:
    files = [*sorted((ROOT / "sample_logs").rglob("*.log"))]
    files += sorted((ROOT / "tests" / "corpus" / "excerpts").glob("*.log"))
    lines = [line for file in files for line in file.read_text(errors="replace").splitlines()]
    generated = generate(3000, failures=GOOD_LINES, near_misses=[], seed=11).split("\n")
    lines += generated
    # As Heroku delivers them: logplex frames (`bench/ingest.py`'s), and a text drain's prefix.
    lines += [f"<190>1 2025-10-09T07:40:00.1+00:00 host app web.1 - {line}" for line in generated]
    lines += [f"2025-10-09T07:40:00Z heroku[router]: {line}" for line in generated[:500]]
    lines += GOOD_LINES
    for family in FAMILIES.values():
        lines += [family.prefix + line for line in GOOD_LINES]
    return lines


def test_common_layers_read_every_corpus_line_as_the_general_peelers_do() -> None:
    lines = _corpus_lines()
    assert len(lines) > 3000
    pairs = zip(_parsed(lines, common=True), _parsed(lines, common=False), strict=True)
    assert [
        line for line, (fast, general) in zip(lines, pairs, strict=True) if fast != general
    ] == []


def test_common_layers_take_the_shapes_they_are_for() -> None:
    taken = 0
    for line in (
        "2025-10-09T07:40:03.041+00:00 app[web.1]: Cache miss",
        "<190>1 2025-10-09T07:40:00.347+00:00 host app web.1 - INFO:     started",
        "2025-10-09 07:40:00,354 - app.services.sync - WARNING - Job finished",
    ):
        header = headers.Header(RECEIVED)
        rest = headers.platform_layers(line, header)
        taken += headers.app_layer(rest if rest is not None else line, header) is not None
        taken += rest is not None
    assert taken == 4


_STAMPS = st.sampled_from(
    [
        *("2025-10-09T07:40:03.041+00:00", "2025-10-09T07:40:03Z", "2025-10-09T07:40:03.1234567Z"),
        *("2025-10-09T07:40:03-00:00", "2025-10-09T07:40:03+05:30", "2025-02-30T07:40:03Z"),
        *("0001-01-01T00:00:00Z", "9999-12-31T23:59:59+00:00", "2025-10-09T24:00:00Z", "-"),
        *("2025-10-09 07:40:03Z", "2025-10-09T07:40:03.0123456789Z", ""),
    ]
)
_APP_TIMES = st.sampled_from(
    [
        *("2025-10-09 07:40:00,354", "2025-10-09T07:40:00.354", "2025-10-09 07:40:00"),
        *("2025-02-30 07:40:00,354", "0001-01-01 00:00:00,000", "2025-10-09 07:40:00,1234567891"),
        "2025-10-09 07:40:00 +0000",
    ]
)
_WORDS = st.sampled_from(
    [
        *("app.api", "ERROR", "INFO", "x", "_a.b", "9lives", "a b", "", "-", "Traceback"),
        *("WARNING", "CRITICAL", "DEBUG", "TRACE", "WARN", "FATAL", "NOTICE", "Info", "LEVEL"),
    ]
)
_TAILS = st.one_of(
    st.sampled_from(["", " ", "- x", "-", '  File "x.py"', "[DB_DOWN] op=1", '{"a": 1}']),
    st.sampled_from(GOOD_LINES),
    st.sampled_from(["> " * depth + "x" for depth in range(1, 8)]),
    st.text(max_size=30),
)


@st.composite
def _app_lines(draw: st.DrawFn) -> str:
    shape = draw(st.sampled_from(["dashed", "uvicorn", "bare"]))
    tail = draw(_TAILS)
    if shape == "dashed":
        logger, level = draw(_WORDS), draw(_WORDS)
        gap = draw(st.sampled_from([" - ", " -  ", "  - ", " -"]))
        return f"{draw(_APP_TIMES)} - {logger}{gap}{level} - {tail}"
    if shape == "uvicorn":
        padding = draw(st.sampled_from(["", " ", "  ", "    ", "     ", "          ", "\t"]))
        return f"{draw(_WORDS)}:{padding}{tail}"
    return tail


@st.composite
def _lines(draw: st.DrawFn) -> str:
    inner = draw(_app_lines())
    outer = draw(st.sampled_from(["none", "heroku", "logplex", "both"]))
    if outer == "both":
        return f"<190>1 {draw(_STAMPS)} host app web.1 - {draw(_STAMPS)} app[web.2]: {inner}"
    if outer == "heroku":
        source = draw(st.sampled_from(["app", "heroku", "apps", "ap"]))
        dyno = draw(st.sampled_from(["web.1", "router", "api", "deadbeef12", "", "a b"]))
        gap = draw(st.sampled_from([" ", "", "  "]))
        return f"{draw(_STAMPS)} {source}[{dyno}]:{gap}{inner}"
    if outer == "logplex":
        host = draw(st.sampled_from(["host", "web-1", "-"]))
        app = draw(st.sampled_from(["app", "heroku", "worker"]))
        procid = draw(st.sampled_from(["web.1", "router", "api", "", "-"]))
        msgid = draw(st.sampled_from(["-", "", "ID47"]))
        data = draw(st.sampled_from(["", "- ", "-", '[x@1 a="b"] ', "\ufeff"]))
        pri = draw(st.sampled_from(["<190>1", "<45>1", "<1234>1", "<190>2"]))
        return f"{pri} {draw(_STAMPS)} {host} {app} {procid} {msgid} {data}{inner}"
    return inner


@settings(max_examples=1000, derandomize=True)
@given(_lines())
def test_common_layers_read_generated_lines_as_the_general_peelers_do(line: str) -> None:
    fast, general = _both(line)
    assert fast == general


@pytest.mark.parametrize(
    "line",
    [
        "2025-10-09T07:40:03.041+00:00 app[web.1]: 2025-10-09 07:40:00,354 - a - ERROR - boom",
        "<190>1 2025-10-09T07:40:00Z host heroku router - at=info method=GET",
        "<190>1 - host app web.1 - - ERROR:    x",
        "2025-10-09 07:40:00,354 - INFO - ERROR - which level",
        # Quotes are layers: the common layers count theirs, so the budget of layers ends alike.
        "2025-10-09T07:40:03Z app[web.1]: > > > > > > > x",
        "<190>1 2025-10-09T07:40:00Z host app web.1 - > > > > > > > x",
        "> > > > 2025-10-09 07:40:00,354 - a - ERROR - > > x",
    ],
)
def test_common_layers_read_nested_shapes_as_the_general_peelers_do(line: str) -> None:
    fast, general = _both(line)
    assert fast == general
