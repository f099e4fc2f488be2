"""The supervisor keeps a child process running: started again after it dies (with a growing
pause), stopped with SIGTERM, killed past its deadline."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from service.runtime import Runtime
from service.supervisor import PARENT_PID_ENV, Child

SLEEPER = "import time; time.sleep(60)"
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)


def wait_for_pid(child: Child, other_than: int | None = None, seconds: float = 20.0) -> int:
    deadline = time.monotonic() + seconds
    while (pid := child.pid) is None or pid == other_than:
        assert time.monotonic() < deadline, "the child did not start"
        time.sleep(0.05)
    return pid


def test_a_child_that_dies_is_started_again_and_stop_ends_it() -> None:
    child = Child("sleeper", [sys.executable, "-c", SLEEPER], min_backoff_seconds=0.1)
    child.start()
    try:
        first = wait_for_pid(child)
        os.kill(first, signal.SIGKILL)
        second = wait_for_pid(child, other_than=first)
        assert child.restarts == 1
    finally:
        child.stop(5)
    assert child.pid is None
    assert child.restarts == 1
    assert second != first


def test_the_child_is_told_who_its_parent_is() -> None:
    read, write = os.pipe()
    script = (
        f"import os, time; os.write({write}, os.environ['{PARENT_PID_ENV}'].encode()); "
        "time.sleep(60)"
    )
    child = Child("teller", [sys.executable, "-c", script], pass_fds=(write,))
    child.start()
    try:
        told = os.read(read, 100).decode()
    finally:
        child.stop(5)
        os.close(read)
        os.close(write)
    assert told == str(os.getpid())


def test_pauses_between_restarts_double_up_to_a_ceiling() -> None:
    child = Child("x", ["true"], min_backoff_seconds=0.5, max_backoff_seconds=4.0)
    assert [child.backoff_seconds(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_a_child_that_ignores_sigterm_is_killed_after_the_deadline() -> None:
    child = Child("stubborn", [sys.executable, "-c", STUBBORN])
    child.start()
    pid = wait_for_pid(child)
    time.sleep(1.0)  # past the interpreter's start, so SIGTERM is ignored
    began = time.monotonic()
    child.stop(1.0)
    assert time.monotonic() - began < 5
    assert child.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_record_numbers_follow_the_clock_across_processes() -> None:
    names = "settings engine book spool processor setup dispatcher pager metrics report_env"
    fields = dict.fromkeys(names.split())
    started_first = Runtime(**fields)  # type: ignore[arg-type]
    time.sleep(0.01)
    started_later = Runtime(**fields)  # type: ignore[arg-type]
    earlier = started_later.reserve_seq(100)
    later = started_first.reserve_seq(100)
    assert later > earlier  # accepted later, numbered later, whichever process took it in
    assert started_first.reserve_seq(5) >= later + 100
