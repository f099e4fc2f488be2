"""Header times beyond ISO 8601: logfmt `time=`/`ts=`, Go's and nginx's `YYYY/MM/DD HH:MM:SS`,
epoch numbers in a time field, and year-less syslog dated by the line before."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from service.ingest.headers import parse_line, parse_text

T = datetime(2024, 10, 17, 13, 41, 50, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "time", "level", "message"),
    [
        ('time="2024-10-17T13:41:50+0000" level=info msg="started"', T, "INFO", 'msg="started"'),
        ("time=2024-10-17T13:41:50Z level=error msg=boom", T, "ERROR", "msg=boom"),
        (
            "level=warn ts=2024-10-17T13:41:50.250Z msg=slow",
            T.replace(microsecond=250000),
            "WARNING",
            "msg=slow",
        ),
        (
            "ts=1729172510.5 caller=main.go:12 msg=up",
            T.replace(microsecond=500000),
            "",
            "caller=main.go:12 msg=up",
        ),
        ("ts=1729172510000 msg=up", T, "", "msg=up"),  # milliseconds
        ("t=2024-10-17T15:41:50+0200 lvl=eror msg=x", T, "ERROR", "msg=x"),  # Grafana
    ],
)
def test_logfmt_time_and_level_are_read(
    line: str, time: datetime, level: str, message: str
) -> None:
    record = parse_line(line, source="api")
    assert (record.time, record.level, record.message) == (time, level, message)


@pytest.mark.parametrize(
    "line",
    [
        "time=5ms elapsed",  # a duration
        "ts=12345 msg=counter",  # a number too small to be a time
        "ts=abc msg=x",
        "level=info msg=no time at all",
    ],
)
def test_a_logfmt_field_that_is_no_time_leaves_the_line_untimed(line: str) -> None:
    record = parse_line(line, source="api")
    assert record.time is None
    assert record.message == line


def test_a_number_inside_a_message_is_never_read_as_a_time() -> None:
    assert parse_line("processed ts=1729172510 rows", source="api").time is None
    assert parse_line("job 1729172510 finished", source="api").time is None


@pytest.mark.parametrize(
    ("line", "time", "level", "message"),
    [
        ("2024/10/17 13:41:50 main.go:12: listening", T, "", "main.go:12: listening"),  # Go log
        ("2024/10/17 13:41:50.123456 listening", T.replace(microsecond=123456), "", "listening"),
        (
            "2024/10/17 13:41:50 [error] 31#31: *5 connect() failed",  # nginx error log
            T,
            "ERROR",
            "31#31: *5 connect() failed",
        ),
    ],
)
def test_slashed_dates_are_read(line: str, time: datetime, level: str, message: str) -> None:
    record = parse_line(line, source="api")
    assert (record.time, record.level, record.message) == (time, level, message)


def test_an_impossible_slashed_date_is_no_header() -> None:
    record = parse_line("2024/13/45 13:41:50 hello", source="api")
    assert record.time is None


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (1729172510, T),
        (1729172510123, T.replace(microsecond=123000)),
        ("1729172510", T),
        ("2024-10-17T13:41:50+0000", T),
        (42, None),  # a counter
    ],
)
def test_a_json_time_field_reads_epoch_seconds_and_milliseconds(
    field: object, expected: datetime | None
) -> None:
    record = parse_line(json.dumps({"ts": field, "msg": "hello"}), source="api")
    assert record.time == expected


def test_year_less_syslog_takes_its_year_from_the_line_before() -> None:
    text = (
        "2025-12-31T23:59:58Z web up\n"
        "Dec 31 23:59:59 host app[7]: last of the year\n"
        "Jan  1 00:00:01 host app[7]: first of the next\n"
    )
    times = [record.time for record in parse_text(text, source="api")]
    assert times == [
        datetime(2025, 12, 31, 23, 59, 58, tzinfo=UTC),
        datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC),
    ]


def test_year_less_syslog_without_context_has_no_time() -> None:
    assert parse_text("Jul 15 10:02:14 host app[7]: x\n", source="api")[0].time is None


def test_year_less_syslog_is_never_dated_more_than_a_day_after_its_arrival() -> None:
    received = datetime(2026, 1, 2, tzinfo=UTC)
    record = parse_line("Jul 15 10:02:14 host app[7]: x", source="api", received_at=received)
    assert record.time == datetime(2025, 7, 15, 10, 2, 14, tzinfo=UTC)


def test_an_access_line_keeps_its_text_whole_and_takes_its_common_log_time() -> None:
    line = '10.0.0.1 - - [17/Oct/2024:15:41:50 +0200] "GET / HTTP/1.1" 500 0'
    record = parse_line(line, source="api")
    assert (record.message, record.headed, record.time) == (line, False, T)


@pytest.mark.parametrize(
    "line",
    [
        '10.0.0.1 - - [17/Foo/2024:13:41:50 +0000] "GET / HTTP/1.1" 500 0',
        '10.0.0.1 - - [32/Oct/2024:13:41:50 +0000] "GET / HTTP/1.1" 500 0',
        '10 users said "hi" - - [17/Oct/2024:13:41:50 +0000] "x"',
    ],
)
def test_what_only_looks_like_an_access_line_has_no_time(line: str) -> None:
    assert parse_line(line, source="api").time is None
