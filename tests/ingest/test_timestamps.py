"""Times log lines carry: ISO 8601 with any precision, year-less syslog, epoch numbers, and time
fields (logfmt, JSON) that hold either."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.ingest.timestamps import (
    ISO,
    bsd_time,
    epoch_time,
    field_time,
    ignored_times,
    iso_fields,
    iso_time,
    parse_timestamp,
)

T = datetime(2025, 9, 19, 12, 43, 14, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-09-19T12:43:14.1234567Z", T.replace(microsecond=123456)),  # GitHub Actions
        ("2025-09-19T12:43:14.020140981Z", T.replace(microsecond=20140)),  # Docker, containerd
        ("2025-09-19T12:43:14+0000", T),  # journalctl -o short-iso
        ("2025-09-19 12:43:14 UTC", T),
        ("2025-09-19T12:43:14.5+24:00", None),
    ],
)
def test_parse_timestamp_reads_every_precision_and_zone(
    text: str, expected: datetime | None
) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "value",
    [1758285794.123, 1758285794123, 1758285794123000, 1758285794123000000],
)
def test_epoch_time_reads_seconds_to_nanoseconds_by_magnitude(value: float) -> None:
    assert epoch_time(value) == T.replace(microsecond=123000)


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), 1e300])
def test_epoch_time_refuses_what_is_no_time(value: float) -> None:
    assert epoch_time(value) is None


def test_bsd_time_takes_its_year_from_the_reference() -> None:
    reference = datetime(2026, 1, 2, tzinfo=UTC)
    assert bsd_time("Dec", "31", ("23", "59", "59"), reference) == datetime(
        2025, 12, 31, 23, 59, 59, tzinfo=UTC
    )
    assert bsd_time("Sep", "19", ("12", "43", "14"), T) == T
    assert bsd_time("Sep", "19", ("12", "43", "14"), None) is None
    assert bsd_time("Feb", "30", ("12", "43", "14"), T) is None


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "9999-12-31T23:59:59Z",
        "0001-01-01 00:00:00",
        "1969-07-20T20:17:40Z",
    ],
)
def test_parse_timestamp_takes_a_time_outside_sane_years_for_no_time(text: str) -> None:
    assert parse_timestamp(text) is None


def test_epoch_time_refuses_a_time_before_sane_years() -> None:
    assert epoch_time(86400) is None  # 1970-01-02: an uptime counter, not a time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1758285794", T),
        ("1758285794.123", T.replace(microsecond=123000)),
        ("1758285794123", T.replace(microsecond=123000)),  # milliseconds
        ("2025-09-19T12:43:14+0000", T),
        ("12345", None),  # a counter, not a time
        ("175828579", None),
        ("17582857941", None),  # eleven digits: neither seconds nor milliseconds
    ],
)
def test_field_time_reads_rfc3339_and_epoch_seconds_and_milliseconds(
    text: str, expected: datetime | None
) -> None:
    assert field_time(text) == expected


def test_epoch_time_refuses_a_number_too_small_to_be_a_time() -> None:
    assert epoch_time(123456789) is None  # 1973: a duration or an id, not a log time
    assert epoch_time(999_999_999_999) is None  # milliseconds of 2001-09-09: the same


def test_bsd_time_takes_the_year_nearest_the_previous_line() -> None:
    new_year = bsd_time("Jan", "1", ("00", "00", "05"), datetime(2025, 12, 31, 23, 59, tzinfo=UTC))
    assert new_year == datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)


def test_bsd_time_is_never_more_than_a_day_after_the_receive_time() -> None:
    received = datetime(2026, 1, 2, tzinfo=UTC)
    previous = datetime(2025, 12, 31, 23, 59, tzinfo=UTC)
    late = bsd_time("Mar", "1", ("10", "00", "00"), previous, now=received)
    assert late == datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert bsd_time("Jan", "2", ("23", "00", "00"), previous, now=received) == datetime(
        2026, 1, 2, 23, tzinfo=UTC
    )


_DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=10)
_ZONES = st.sampled_from(
    [
        *("Z", "z", "UTC", "GMT", "+00:00", "+0000", "+00", "-00:00", "-0000", "-00"),
        *("+01:00", "-0530", "+14", "+24:00", "-23:59", "+99:99"),
    ]
)
_ISO_SHAPED = st.builds(
    lambda year, month, day, t, clock, fraction, space, zone: (
        f"{year}-{month}-{day}{t}{clock}{fraction}{space}{zone}"
    ),
    st.sampled_from(["0001", "1970", "1971", "2025", "2999", "3000", "9999"]),
    st.sampled_from(["00", "01", "02", "12", "13"]),
    st.sampled_from(["00", "01", "28", "29", "30", "31", "32"]),
    st.sampled_from(["T", " "]),
    st.sampled_from(["00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60", "07:40:05"]),
    st.one_of(
        st.just(""), st.builds(lambda sep, digits: sep + digits, st.sampled_from(".,"), _DIGITS)
    ),
    st.sampled_from(["", " "]),
    st.one_of(st.just(""), _ZONES),
)


@settings(max_examples=1500, derandomize=True)
@given(_ISO_SHAPED)
def test_iso_time_reads_every_iso_match_as_its_fields_do(text: str) -> None:
    match = ISO.match(text)
    if match is None:
        return
    before = ignored_times()
    fast = iso_time(match)
    fast_ignored = ignored_times() - before
    slow = iso_fields(match)
    assert repr(fast) == repr(slow)  # the same instant, and UTC itself as its zone
    assert fast_ignored == ignored_times() - before - fast_ignored  # an ignored year counted once
