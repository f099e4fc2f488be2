"""The kill -9 harness, short: three SIGKILLs of a real server under a loader lose and double no
acknowledged line, and every failure line is one incident occurrence (`bench/crash.py` runs 20)."""

from __future__ import annotations

import pytest

from bench.crash import run
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.slow


@pytest.mark.timeout(300)
def test_three_kills_under_load_lose_nothing_and_double_nothing() -> None:
    result = run(kills=3, batch_lines=40, seed=7)
    assert result.open_incidents == 1
    assert result.tally.failures_last > 0  # some failure lines were held back when killed
    assert (result.lost, result.doubled) == (0, 0)
    assert result.lines_received == result.tally.lines
    assert result.occurrences == result.tally.failures


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="needs DRAINWATCH_TEST_DATABASE_URL (PostgreSQL)")
@pytest.mark.timeout(300)
def test_two_servers_on_one_postgresql_and_a_kill_count_exactly() -> None:
    result = run(kills=2, batch_lines=40, seed=11, servers=2, database_url=POSTGRES_URL)
    assert (result.lost, result.doubled) == (0, 0)
    assert result.occurrences == result.tally.failures
    assert result.open_incidents == 1
