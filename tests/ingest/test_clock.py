"""Untimed events borrow the last log time: `about` when a close timed line follows, else `after`."""

from __future__ import annotations

from service.ingest.clock import BOUND, LogClock
from service.ingest.records import ABOUT, AFTER, Event
from tests.factories import at, event


def stamped(*events: Event) -> list[tuple[str, object, str]]:
    return [(e.text, e.time, e.time_lent) for e in LogClock().stamp(events)]


def test_an_untimed_line_between_close_timed_lines_is_about_the_earlier_time() -> None:
    got = stamped(
        event("a", seconds=0), event("==> Deploying...", seconds=None), event("b", seconds=20)
    )
    assert got == [("a", at(0), ""), ("==> Deploying...", at(0), ABOUT), ("b", at(20), "")]


def test_an_untimed_line_with_no_timed_line_after_it_is_only_after_the_last() -> None:
    got = stamped(event("a", seconds=0), event("==> Cloning from x", seconds=None))
    assert got == [("a", at(0), ""), ("==> Cloning from x", at(0), AFTER)]


def test_a_gap_wider_than_the_bound_gives_only_a_lower_bound() -> None:
    late = BOUND.total_seconds() + 1
    got = stamped(event("a", seconds=0), event("x", seconds=None), event("b", seconds=late))
    assert got[1] == ("x", at(0), AFTER)


def test_an_untimed_line_before_any_time_stays_untimed() -> None:
    assert stamped(event("x", seconds=None), event("a", seconds=5))[0] == ("x", None, "")


def test_only_a_timed_line_of_the_same_source_bounds() -> None:
    events = (
        event("a", seconds=0),
        event("x", seconds=None),
        event("other", seconds=10, source="web"),
        event("b", seconds=30),
    )
    got = stamped(*events)
    assert [text for text, _, _ in got] == ["a", "x", "other", "b"]  # order kept
    assert got[1] == ("x", at(0), ABOUT)


def test_the_clock_carries_the_last_time_across_batches() -> None:
    clock = LogClock()
    list(clock.stamp([event("a", seconds=0)]))
    [untimed, _] = clock.stamp([event("x", seconds=None), event("b", seconds=3)])
    assert (untimed.time, untimed.time_lent) == (at(0), ABOUT)
