"""The spool keeps batches durably, in order, bounded, and idempotent by key."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.ingest.records import LogRecord
from service.spool.store import Spool, SpoolFull

NOW = datetime(2025, 9, 19, 12, 0, tzinfo=UTC)


def records(*messages: str, source: str = "api") -> list[LogRecord]:
    return [
        LogRecord(
            message=m, source=source, received_at=NOW, time=NOW, level="ERROR", seq=i, headed=True
        )
        for i, m in enumerate(messages)
    ]


def test_batches_survive_reopening(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append("api", records("one", "two"), received_at=NOW)
    spool.close()
    reopened = Spool(tmp_path, max_bytes=10**6)
    [batch] = reopened.pending()
    assert [r.message for r in batch.records] == ["one", "two"]
    assert batch.records[0].time == NOW
    assert batch.key.startswith(reopened.spool_id)


def test_ack_forgets_batches_and_frees_bytes(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append("api", records("one"), received_at=NOW)
    spool.append("web", records("two", source="web"), received_at=NOW)
    assert spool.pending_lines() == {"api": 1, "web": 1}
    first, second = spool.pending()
    spool.ack([first.seq])
    assert [b.seq for b in spool.pending()] == [second.seq]
    spool.ack([second.seq])
    assert spool.size_bytes == 0


def test_sources_take_turns_so_one_backlog_holds_back_no_other(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**7)
    for n in range(30):
        spool.append("busy", records(f"busy {n}", source="busy"), received_at=NOW)
    spool.append("quiet", records("quiet 0", source="quiet"), received_at=NOW)
    spool.append("busy", records("busy 30", source="busy"), received_at=NOW)
    step = spool.pending(limit=10)
    assert len(step) == 10
    assert [b.source for b in step].count("quiet") == 1
    busy = [b.records[0].message for b in step if b.source == "busy"]
    assert busy == [f"busy {n}" for n in range(9)]  # each source's own order is kept
    assert [b.seq for b in step] == sorted(b.seq for b in step)
    alone = Spool(tmp_path / "alone", max_bytes=10**7)
    for n in range(3):
        alone.append("busy", records(f"busy {n}", source="busy"), received_at=NOW)
    assert [b.records[0].message for b in alone.pending(limit=2)] == ["busy 0", "busy 1"]


def test_repeated_idempotency_key_stores_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    assert spool.append("api", records("one"), received_at=NOW, idempotency_key="frame-1")
    assert not spool.append("api", records("one"), received_at=NOW, idempotency_key="frame-1")
    assert spool.append("web", records("one"), received_at=NOW, idempotency_key="frame-1")
    assert len(spool.pending()) == 2


def test_full_spool_refuses_new_batches(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=200)
    spool.append("api", records("x" * 50), received_at=NOW)
    with pytest.raises(SpoolFull):
        spool.append("api", records("y" * 150), received_at=NOW)
    assert len(spool.pending()) == 1


def test_a_batch_whose_bytes_changed_comes_out_damaged_and_the_next_intact(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append("api", records("one", "two"), received_at=NOW)
    spool.append("api", records("three"), received_at=NOW)
    with sqlite3.connect(tmp_path / "spool.sqlite3") as db:  # one flipped character on disk
        db.execute(
            "UPDATE batch SET body = CAST(replace(body, 'one', 'onf') AS BLOB) WHERE seq = 1"
        )
    first, second = spool.pending()
    assert first.records == [] and first.lines == 2 and b"onf" in first.raw
    assert "checksum mismatch" in first.damage
    assert [r.message for r in second.records] == ["three"] and second.damage == ""


def test_a_batch_that_no_longer_decodes_comes_out_damaged(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append("api", records("one"), received_at=NOW)
    with sqlite3.connect(tmp_path / "spool.sqlite3") as db:  # torn: half a body, no checksum
        db.execute("UPDATE batch SET body = CAST(substr(body, 1, 10) AS BLOB), crc = NULL")
    [batch] = spool.pending()
    assert batch.records == [] and batch.damage.startswith("spool batch damaged: JSONDecodeError")


def test_a_malformed_spool_file_is_moved_aside_and_what_reads_is_recovered(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path, max_bytes=10**8)
    for index in range(300):
        spool.append("api", records(f"line {index} " + "x" * 3000), received_at=NOW)
    spool_id = spool.spool_id
    spool.close()
    path = tmp_path / "spool.sqlite3"
    data = bytearray(path.read_bytes())
    page = 4096
    middle = (len(data) // page // 2) * page
    data[middle : middle + page] = b"\xff" * page  # one page of the file destroyed
    path.write_bytes(bytes(data))
    reopened = Spool(tmp_path, max_bytes=10**8)
    assert reopened.spool_id == spool_id
    assert "recovered" in reopened.damage and "damaged-" in reopened.damage
    recovered = reopened.pending(limit=1000)
    assert 250 <= len(recovered) < 300
    assert all(batch.damage == "" for batch in recovered)
    assert list(tmp_path.glob("spool.sqlite3.damaged-*"))
    reopened.append("api", records("after"), received_at=NOW)
    assert reopened.pending(limit=1000)[-1].records[0].message == "after"
