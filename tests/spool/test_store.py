"""The spool keeps batches durably, in order, bounded, and idempotent by key."""

from __future__ import annotations

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
