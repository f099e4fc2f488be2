"""Group commit: concurrent batches share one transaction, each answered once it is durable."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.ingest.records import LogRecord
from service.spool.commit import GroupCommit, Submission
from service.spool.store import Spool, SpoolClosed, SpoolFull

NOW = datetime(2025, 9, 19, 12, 0, tzinfo=UTC)


def records(*messages: str) -> list[LogRecord]:
    return [
        LogRecord(message=m, source="api", received_at=NOW, seq=i) for i, m in enumerate(messages)
    ]


def test_batches_queued_while_a_commit_runs_go_together_in_the_next() -> None:
    groups: list[int] = []
    release = threading.Event()

    def write(group: list[Submission]) -> None:
        groups.append(len(group))
        release.wait(5)
        for submission in group:
            submission.future.set_result(True)

    commit = GroupCommit(write, name="test-commit")
    first = commit.submit(Submission([], "", None, 0))
    while not groups:  # the writer is inside the first commit
        threading.Event().wait(0.01)
    later = [commit.submit(Submission([], "", None, 0)) for _ in range(5)]
    release.set()
    assert all(f.result(5) for f in [first, *later])
    commit.close()
    assert groups == [1, 5]


def test_a_cancelled_wait_is_never_written_and_the_others_are() -> None:
    written: list[Submission] = []
    release, writing = threading.Event(), threading.Event()

    def write(group: list[Submission]) -> None:
        writing.set()
        release.wait(5)
        written.extend(group)
        for submission in group:
            submission.future.set_result(True)

    commit = GroupCommit(write, name="test-commit")
    commit.submit(Submission([], "a", None, 0))
    assert writing.wait(5)  # "a" is being written: the next two wait for the next commit
    gone, kept = Submission([], "gone", None, 0), Submission([], "kept", None, 0)
    commit.submit(gone)
    commit.submit(kept)
    assert gone.future.cancel()
    release.set()
    assert kept.future.result(5) is True
    commit.close()
    assert [s.received_at for s in written] == ["a", "kept"]


def test_a_failed_commit_fails_every_batch_in_it() -> None:
    def write(_group: list[Submission]) -> None:
        raise OSError("disk gone")

    commit = GroupCommit(write, name="test-commit")
    futures = [commit.submit(Submission([], "", None, 0)) for _ in range(3)]
    for future in futures:
        with pytest.raises(OSError, match="disk gone"):
            future.result(5)
    commit.close()


def test_concurrent_appends_are_all_durable_and_in_order_per_thread(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**8)

    def send(thread: int) -> None:
        for n in range(20):
            assert spool.append("api", records(f"{thread}-{n}"), received_at=NOW)

    threads = [threading.Thread(target=send, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spool.close()
    reopened = Spool(tmp_path, max_bytes=10**8)
    messages = [b.records[0].message for b in reopened.pending(limit=1000)]
    assert len(messages) == 120
    for t in range(6):
        assert [m for m in messages if m.startswith(f"{t}-")] == [f"{t}-{n}" for n in range(20)]


def test_a_repeated_key_and_a_full_spool_are_answered_batch_by_batch(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path, max_bytes=400)

    def submit(source: str, message: str, key: str | None = None) -> Future[bool]:
        batch = {source: records(message)}
        return spool.submit_many(batch, received_at=NOW, idempotency_key=key, key_scope=source)

    futures = [
        submit("api", "one", "k"),
        submit("api", "one", "k"),
        submit("api", "x" * 500),
        submit("web", "two", "k"),
    ]
    assert futures[0].result(5) is True
    assert futures[1].result(5) is False
    with pytest.raises(SpoolFull):
        futures[2].result(5)
    assert futures[3].result(5) is True
    assert spool.pending_lines() == {"api": 1, "web": 1}


def test_a_closed_spool_refuses_new_batches(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append("api", records("one"), received_at=NOW)
    spool.close()
    with pytest.raises(SpoolClosed):
        spool.append("api", records("two"), received_at=NOW)
