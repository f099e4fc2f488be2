"""The kill -9 harness, short: three SIGKILLs of a real server under a loader lose and double no
acknowledged line, and every failure line is one incident occurrence (`bench/crash.py` runs 20)."""

from __future__ import annotations

import pytest

from bench.crash import run

pytestmark = pytest.mark.slow


@pytest.mark.timeout(300)
def test_three_kills_under_load_lose_nothing_and_double_nothing() -> None:
    result = run(kills=3, batch_lines=40, seed=7)
    assert result.tally.failures_last > 0  # some failure lines were held back when killed
    assert (result.lost, result.doubled) == (0, 0)
    assert result.lines_received == result.tally.lines
    assert result.occurrences == result.tally.failures
