"""Relative ages on the pages, with the UTC time on hover."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.web.ages import age, time_element

NOW = datetime(2025, 10, 6, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "said"),
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(minutes=12, seconds=59), "12 min ago"),
        (timedelta(hours=3, minutes=5), "3 h ago"),
        (timedelta(days=2, hours=23), "2 d ago"),
        (timedelta(days=45), "1 mo ago"),
        (timedelta(days=400), "1 y ago"),
        (-timedelta(minutes=5), "in 5 min"),
        (-timedelta(seconds=5), "in under a minute"),
    ],
)
def test_age_says_how_long_ago(delta: timedelta, said: str) -> None:
    assert age(NOW - delta, NOW) == said


def test_a_time_element_carries_the_machine_time_and_utc_on_hover() -> None:
    html = str(time_element(NOW - timedelta(minutes=12), NOW))
    assert html == (
        '<time datetime="2025-10-06T11:48:00+00:00" title="2025-10-06 11:48:00 UTC">'
        "12 min ago</time>"
    )


def test_a_naive_time_from_sqlite_is_utc_and_an_rfc3339_string_is_read() -> None:
    naive = str(time_element(datetime(2025, 10, 6, 11, 0), NOW))
    text = str(time_element("2025-10-06T13:00:00+02:00", NOW))
    assert "1 h ago" in naive and "1 h ago" in text


def test_a_stamp_shows_the_time_and_its_age_on_hover() -> None:
    html = str(time_element(NOW - timedelta(hours=2), NOW, show="stamp"))
    assert (
        ">2025-10-06 10:00:00 UTC</time>" in html
        and 'title="2025-10-06 10:00:00 UTC, 2 h ago"' in html
    )


def test_no_time_is_never() -> None:
    assert "never" in str(time_element(None, NOW))
