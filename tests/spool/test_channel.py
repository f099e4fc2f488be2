"""The spool file's channel: refusals noted by web processes are taken once by the processor; its
published state and the pattern generation read back as written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.remote_processor import STALE_SECONDS, ChannelRefusals, RemoteProcessor
from service.spool.channel import Channel, Refusal
from service.spool.store import Spool

NOW = datetime(2025, 9, 19, 12, 0, tzinfo=UTC)


def channel(tmp_path: Path) -> Channel:
    Spool(tmp_path, max_bytes=10**6).close()
    return Channel(tmp_path / "spool.sqlite3")


def test_refusals_are_taken_once_and_in_order(tmp_path: Path) -> None:
    web, processor = channel(tmp_path), channel(tmp_path)
    web.note_refusals([Refusal("api", "rate limit", 10, 1, NOW, NOW)])
    web.note_refusals([Refusal("web", "spool full", 3, 2, NOW, NOW + timedelta(seconds=1))])
    taken = processor.take_refusals()
    assert [(r.source, r.reason, r.lines, r.batches) for r in taken] == [
        ("api", "rate limit", 10, 1),
        ("web", "spool full", 3, 2),
    ]
    assert taken[1].last == NOW + timedelta(seconds=1)
    assert processor.take_refusals() == []


def test_intake_counts_refusals_per_source_and_reason_until_flushed(tmp_path: Path) -> None:
    shared = channel(tmp_path)
    refusals = ChannelRefusals(shared)
    refusals.note("api", 100, reason="rate limit", at=NOW)
    refusals.note("api", 50, reason="rate limit", at=NOW + timedelta(seconds=2))
    refusals.note("api", 7, reason="spool full", at=NOW)
    assert shared.take_refusals() == []
    assert refusals.flush() == 2
    taken = {r.reason: r for r in shared.take_refusals()}
    assert (taken["rate limit"].lines, taken["rate limit"].batches) == (150, 2)
    assert taken["rate limit"].last == NOW + timedelta(seconds=2)
    assert taken["spool full"].lines == 7
    assert refusals.flush() == 0


def test_the_published_state_is_what_the_web_process_reports(tmp_path: Path) -> None:
    shared = channel(tmp_path)
    view = RemoteProcessor(channel(tmp_path))
    assert view.state.running is False  # nothing published yet
    assert view.state.failures == 0
    shared.publish_status(
        {
            "running": True,
            "failures": 3,
            "database_down": True,
            "last_error": "OperationalError: down",
            "failing_since": NOW.isoformat(),
            "last_success_at": None,
            "processor_error": "OperationalError: down",
            "disabled": {"python.name-error": "timed out"},
        }
    )
    view._cached = None  # the view caches for half a second
    state = view.state
    assert (state.running, state.failures, state.database_down) == (True, 3, True)
    assert state.failing_since == NOW
    assert view.last_error == "OperationalError: down"
    assert view.disabled == {"python.name-error": "timed out"}


def test_a_state_not_published_for_a_while_is_not_running(tmp_path: Path) -> None:
    shared = channel(tmp_path)
    shared.publish_status({"running": True})
    with shared._lock:
        shared._db.execute("UPDATE channel SET at = at - ?", (STALE_SECONDS + 1,))
    assert RemoteProcessor(shared).state.running is False


def test_each_reload_raises_the_pattern_generation(tmp_path: Path) -> None:
    web, processor = channel(tmp_path), channel(tmp_path)
    assert processor.patterns_generation() == 0
    assert web.patterns_reloaded() == 1
    assert web.patterns_reloaded() == 2
    assert processor.patterns_generation() == 2
