"""The per-source counts kept in the spool file (`spool.tally`)."""

from __future__ import annotations

from pathlib import Path

from service.spool.store import Spool
from service.spool.tally import TIME_OUT_OF_RANGE, Tally


def test_counts_add_up_per_source_and_reason(tmp_path: Path) -> None:
    tally = Tally(tmp_path / "spool.sqlite3")
    tally.add(TIME_OUT_OF_RANGE, {"api": 2, "worker": 1})
    tally.add(TIME_OUT_OF_RANGE, {"api": 3, "idle": 0})
    tally.add("other_reason", {"api": 1})
    assert tally.counts() == {
        "api": {"other_reason": 1, TIME_OUT_OF_RANGE: 5},
        "worker": {TIME_OUT_OF_RANGE: 1},
    }
    assert tally.counts("worker") == {"worker": {TIME_OUT_OF_RANGE: 1}}
    assert tally.counts("idle") == {}
    tally.close()


def test_counts_survive_a_restart_beside_the_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    first = Tally(spool.path)
    first.add(TIME_OUT_OF_RANGE, {"api": 4})
    first.close()
    second = Tally(spool.path)
    second.add(TIME_OUT_OF_RANGE, {"api": 1})
    assert second.counts() == {"api": {TIME_OUT_OF_RANGE: 5}}
    second.close()
    spool.close()
