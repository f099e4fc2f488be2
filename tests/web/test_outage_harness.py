"""The PostgreSQL outage harness (bench/outage.py), short: a real `drainwatch serve` whose database
is cut off under load answers every ingest request 202 and every page 503, replays every line
exactly once, and diagnoses its own outage."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.outage import run_outage
from tests.conftest import POSTGRES_URL

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="DRAINWATCH_TEST_DATABASE_URL is not set"),
]


def test_a_short_postgresql_outage_loses_nothing_and_is_diagnosed(tmp_path: Path) -> None:
    figures = run_outage(POSTGRES_URL, down=6.0, up=2.0, mode="refuse", directory=tmp_path)
    assert figures.misses() == []
    assert figures.ingest[("during", 202)] > 0
    assert figures.pages[("during /api/sources", 503)] == figures.ingest[("during", 202)]
