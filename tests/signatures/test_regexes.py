"""Regex searches within a CPU budget: a paused or busy host is not catastrophic backtracking."""

from __future__ import annotations

import time

import pytest
import regex

from service.signatures.regexes import compile_pattern, search_within


class PausedSearch:
    """A pattern whose first `overruns` searches outlast the timeout while using no CPU.

    That is what the regex module sees when the process is paused or starved mid-search: its
    clock runs out while the search itself did almost nothing.
    """

    def __init__(self, overruns: int) -> None:
        self.overruns = overruns
        self.calls = 0
        self._real = compile_pattern(r"NameError: name '(?P<name>\w+)' is not defined")

    def search(self, text: str, *, timeout: float) -> regex.Match[str] | None:
        self.calls += 1
        if self.calls <= self.overruns:
            time.sleep(timeout)
            raise TimeoutError("regex timed out")
        return self._real.search(text, timeout=timeout)


LINE = "NameError: name 'logger' is not defined"


def test_a_search_that_overran_the_clock_while_paused_is_tried_again() -> None:
    paused = PausedSearch(overruns=1)
    match = search_within(paused, LINE, 0.02)  # type: ignore[arg-type]
    assert match is not None and match.group("name") == "logger"


def test_a_host_too_busy_to_tell_counts_as_no_match_not_as_a_timeout() -> None:
    paused = PausedSearch(overruns=10)
    assert search_within(paused, LINE, 0.02) is None  # type: ignore[arg-type]
    assert paused.calls == 3


def test_catastrophic_backtracking_still_times_out() -> None:
    compiled = compile_pattern("ZQ(b|bb)+$")
    with pytest.raises(TimeoutError):
        search_within(compiled, "ZQ" + "b" * 64 + "\x00", 0.02)


def test_a_search_in_time_is_not_repeated() -> None:
    paused = PausedSearch(overruns=0)
    assert search_within(paused, LINE, 0.02) is not None  # type: ignore[arg-type]
    assert paused.calls == 1
