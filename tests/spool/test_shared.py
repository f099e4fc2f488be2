"""One spool file, several processes: every process appending, one acknowledging, all of them
seeing the same bytes held, the same spool id, and the bound in force across them."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.ingest.records import LogRecord
from service.spool.store import Spool, SpoolFull

NOW = datetime(2025, 9, 19, 12, 0, tzinfo=UTC)


def records(count: int, source: str = "api") -> list[LogRecord]:
    return [
        LogRecord(message=f"line {n}", source=source, received_at=NOW, time=NOW, seq=n)
        for n in range(count)
    ]


def _append(directory: str, batches: int) -> None:
    spool = Spool(Path(directory), max_bytes=10**9)
    try:
        for _ in range(batches):
            spool.append("api", records(3), received_at=NOW)
    finally:
        spool.close()


def test_bytes_appended_by_one_and_acknowledged_by_another_agree(tmp_path: Path) -> None:
    intake, processor = Spool(tmp_path, max_bytes=10**6), Spool(tmp_path, max_bytes=10**6)
    intake.append("api", records(5), received_at=NOW)
    assert processor.size_bytes == intake.size_bytes > 0
    processor.ack([batch.seq for batch in processor.pending()])
    assert intake.size_bytes == processor.size_bytes == 0
    intake.close()
    processor.close()


def test_the_bound_holds_across_processes(tmp_path: Path) -> None:
    first = Spool(tmp_path, max_bytes=10**6)
    first.append("api", records(5), received_at=NOW)
    size = first.size_bytes
    second = Spool(tmp_path, max_bytes=size + size // 2)
    with pytest.raises(SpoolFull):
        second.append("api", records(5), received_at=NOW)
    first.ack([batch.seq for batch in first.pending()])
    assert second.append("api", records(5), received_at=NOW)
    first.close()
    second.close()


def test_a_spool_written_before_the_counter_is_counted_when_opened(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append("api", records(5), received_at=NOW)
    size = spool.size_bytes
    spool.close()
    with sqlite3.connect(tmp_path / "spool.sqlite3") as db:  # as older code left the file
        db.executescript(
            "DROP TRIGGER batch_added; DROP TRIGGER batch_removed; DROP TABLE held_bytes;"
        )
    reopened = Spool(tmp_path, max_bytes=10**6)
    assert reopened.size_bytes == size
    reopened.close()


def test_processes_appending_at_once_lose_no_batch_and_share_one_id(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append, args=(str(tmp_path), 40)) for _ in range(3)]
    for worker in workers:
        worker.start()  # all three create the file and name it at about the same moment
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    opened = Spool(tmp_path, max_bytes=10**9)
    pending = opened.pending(limit=1000)
    assert len(pending) == 120
    assert all(batch.key.startswith(opened.spool_id) for batch in pending)
    assert opened.size_bytes > 0
    opened.ack([batch.seq for batch in pending])
    assert opened.size_bytes == 0
    opened.close()
