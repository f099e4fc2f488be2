"""The background loop: steps while busy, survives failing steps, runs its final step on stop."""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from service.app import LOG_FORMAT
from service.cli import main
from service.worker import Worker


def test_failing_steps_are_survived_and_the_final_step_runs() -> None:
    calls: list[str] = []
    done = threading.Event()

    def step() -> int:
        calls.append("step")
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, Exception("database is down"))
        if len(calls) == 2:
            raise ValueError("a bug in one step")
        done.set()
        return 0

    worker = Worker(
        "test-worker",
        step,
        interval_seconds=0.01,
        max_backoff_seconds=0.05,
        meanwhile="work waits",
        final=lambda: calls.append("final"),
    )
    worker.start()
    assert done.wait(5)
    worker.stop()
    assert calls[:3] == ["step", "step", "step"]
    assert calls[-1] == "final"


def test_a_busy_step_is_repeated_without_a_pause() -> None:
    count = 0

    def step() -> int:
        nonlocal count
        count += 1
        return 1 if count < 50 else 0

    worker = Worker(
        "test-worker", step, interval_seconds=10.0, max_backoff_seconds=10.0, meanwhile="-"
    )
    started = time.monotonic()
    worker.start()
    while count < 50 and time.monotonic() - started < 5:
        time.sleep(0.01)
    worker.stop(timeout=0.1)
    assert count >= 50 and time.monotonic() - started < 5


# --- the worker's own outage lines --------------------------------------------------------

DOWN = re.compile(r"^\[DB_DOWN\] op=processor try=(\d+)/(\d+) sleep=(\d+\.\d)s reason=(\S+)$")


def outage() -> OperationalError:
    return OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


def failing_then_working(failures: int) -> tuple[Callable[[], int], list[int]]:
    """Return a step that raises `outage()` `failures` times, then does one unit of work."""
    calls: list[int] = []

    def step() -> int:
        calls.append(1)
        if len(calls) <= failures:
            raise outage()
        return 1

    return step, calls


def processor_worker(step: Callable[[], int], **options: Any) -> Worker:
    return Worker(
        "drainwatch-processor",
        step,
        interval_seconds=0.2,
        max_backoff_seconds=5.0,
        meanwhile="batches stay in the spool",
        **{"rng": random.Random(4), **options},
    )


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "drainwatch.worker"]


def test_each_failed_try_logs_db_down_and_the_first_good_one_db_recovered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    step, _calls = failing_then_working(3)
    worker = processor_worker(step)
    caplog.set_level(logging.INFO, logger="drainwatch.worker")
    pauses = [worker.run_step()[1] for _ in range(4)]
    lines = messages(caplog)
    assert len(lines) == 4
    tries = [DOWN.match(line) for line in lines[:3]]
    assert all(tries), lines
    assert [(m[1], m[2], m[4]) for m in tries if m] == [
        ("1", "10", "ConnectionRefusedError"),
        ("2", "10", "ConnectionRefusedError"),
        ("3", "10", "ConnectionRefusedError"),
    ]
    # The logged sleep is the pause the worker takes.
    assert [float(m[3]) for m in tries if m] == [round(p, 1) for p in pauses[:3]]
    assert lines[3] == "[DB_RECOVERED] op=processor after 4 attempts"
    assert pauses[3] == 0.2


def test_the_back_off_doubles_up_to_its_cap_with_jitter() -> None:
    worker = processor_worker(lambda: 0)
    for failures in range(1, 12):
        ceiling = min(0.2 * 2 ** (failures - 1), 5.0)
        draws = [worker.backoff_seconds(failures) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in draws)
        assert len(set(draws)) > 1, "no jitter"
    other = processor_worker(lambda: 0, rng=random.Random(5))
    assert [worker.backoff_seconds(8) for _ in range(5)] != [
        other.backoff_seconds(8) for _ in range(5)
    ]


def test_after_max_tries_the_worker_says_so_and_keeps_trying(
    caplog: pytest.LogCaptureFixture,
) -> None:
    step, calls = failing_then_working(5)
    worker = processor_worker(step, max_tries=2)
    caplog.set_level(logging.INFO, logger="drainwatch.worker")
    for _ in range(6):
        worker.run_step()
    down = [r for r in caplog.records if r.getMessage().startswith("[DB_DOWN]")]
    assert [DOWN.match(r.getMessage())[1] for r in down] == ["1", "2", "1", "2", "1"]  # type: ignore[index]
    assert [r.levelname for r in down] == ["WARNING", "ERROR", "WARNING", "ERROR", "WARNING"]
    assert len(calls) == 6
    assert messages(caplog)[-1] == "[DB_RECOVERED] op=processor after 6 attempts"


def test_a_statement_the_database_refused_is_no_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    errors: list[Exception] = [
        outage(),
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        ValueError("a bug"),
    ]

    def step() -> int:
        raise errors.pop(0)

    worker = processor_worker(step)
    caplog.set_level(logging.INFO, logger="drainwatch.worker")
    worker.run_step()
    assert worker.state.database_down
    worker.run_step()
    assert not worker.state.database_down
    worker.run_step()
    lines = messages(caplog)
    assert sum(line.startswith("[DB_DOWN]") for line in lines) == 1
    assert lines[1] == "[DB_RECOVERED] op=processor after 2 attempts"
    assert worker.state.failures == 3
    assert worker.state.last_error == "ValueError: a bug"


def test_the_state_tells_failures_since_when_and_the_last_success() -> None:
    step, _calls = failing_then_working(2)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    worker = processor_worker(step, clock=lambda: now)
    assert worker.state.last_success_at is None and worker.state.failures == 0
    worker.run_step()
    worker.run_step()
    state = worker.state
    assert (state.failures, state.database_down, state.failing_since) == (2, True, now)
    assert state.last_error.startswith("OperationalError: ")
    worker.run_step()
    state = worker.state
    assert (state.failures, state.failing_since, state.last_success_at) == (0, None, now)


def test_the_outage_lines_diagnose_as_drainwatchs_own_db_outage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    step, _calls = failing_then_working(3)
    worker = processor_worker(step)
    caplog.set_level(logging.INFO, logger="drainwatch.worker")
    for _ in range(4):
        worker.run_step()
    formatter = logging.Formatter(LOG_FORMAT)
    log = tmp_path / "drainwatch.log"
    log.write_text("".join(formatter.format(r) + "\n" for r in caplog.records))
    assert main(["scan", str(log), "--format", "json"]) == 0
    incidents = json.loads(capsys.readouterr().out)["incidents"]
    assert [(i["signature"], i["status"], i["fields"]["op"]) for i in incidents] == [
        ("app.db-outage", "resolved", "processor")
    ]
    assert incidents[0]["occurrences"] == 3


def test_a_final_step_that_meets_an_outage_says_so_in_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def final() -> None:
        raise outage()

    worker = Worker(
        "drainwatch-processor",
        lambda: 0,
        interval_seconds=0.01,
        max_backoff_seconds=0.01,
        meanwhile="batches stay in the spool",
        final=final,
    )
    caplog.set_level(logging.INFO, logger="drainwatch.worker")
    worker.start()
    worker.stop()
    [record] = [r for r in caplog.records if "final step" in r.getMessage()]
    assert record.levelname == "WARNING" and record.exc_info is None
    assert "ConnectionRefusedError" in record.getMessage()
    assert "batches stay in the spool" in record.getMessage()
