"""The background loop: steps while busy, survives failing steps, runs its final step on stop."""

from __future__ import annotations

import threading
import time

from sqlalchemy.exc import OperationalError

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
