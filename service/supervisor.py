"""Child processes `drainwatch serve` supervises: started with it, restarted with back-off when one
dies, stopped with SIGTERM (their own final flush) and killed only past a deadline.

A child dies with its parent, even one killed by `kill -9`: the supervisor names itself in the
child's environment (`DRAINWATCH_PARENT_PID`), and the child's `die_with_parent` asks Linux for
SIGKILL when its parent goes (`prctl(PR_SET_PDEATHSIG)`) and watches its parent's pid as well (for
other systems, and for a parent that died before the child could ask).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

log = logging.getLogger("drainwatch.supervisor")
PARENT_PID_ENV = "DRAINWATCH_PARENT_PID"
_PR_SET_PDEATHSIG = 1
_WATCH_SECONDS = 0.5
# A child that ran this long before it died is restarted after the shortest pause again.
_STEADY_SECONDS = 60.0


def die_with_parent() -> None:
    """End this process when the parent that started it ends (if a supervisor started it)."""
    named = os.environ.get(PARENT_PID_ENV, "")
    if not named.isdigit():
        return
    parent = int(named)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError) as error:
            log.warning("prctl(PR_SET_PDEATHSIG) unavailable (%s); watching the parent pid", error)
    if os.getppid() != parent:
        os._exit(1)  # the parent is gone already

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="drainwatch-parent-watch", daemon=True).start()


class Child:
    """One child process (a command line), kept running by a thread of its own until `stop`.

    The thread that starts the child also waits for it: Linux sends the death signal when the
    thread that forked a child ends, so that thread must live as long as the child should.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        pass_fds: Sequence[int] = (),
        min_backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(os.environ if env is None else env)
        self.pass_fds = tuple(pass_fds)
        self.min_backoff_seconds = min_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.restarts = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        """Return the pid of the child running now, or None."""
        with self._lock:
            process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        """Start the child, and the thread that restarts it when it dies."""
        self._thread = threading.Thread(target=self._keep_running, name=self.name, daemon=True)
        self._thread.start()

    def backoff_seconds(self, failures: int) -> float:
        """Return the pause before restarting a child that died `failures` times in a row."""
        return min(self.max_backoff_seconds, self.min_backoff_seconds * 2.0 ** (failures - 1))

    def _keep_running(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            began = time.monotonic()
            try:
                process = subprocess.Popen(  # noqa: S603 - our own command line
                    self.argv,
                    env={**self.env, PARENT_PID_ENV: str(os.getpid())},
                    pass_fds=self.pass_fds,
                )
            except OSError as error:
                failures += 1
                log.error("%s could not be started: %s", self.name, error)
                self._stopping.wait(self.backoff_seconds(failures))
                continue
            with self._lock:
                self._process = process
                if self._stopping.is_set():
                    process.terminate()
            code = process.wait()
            if self._stopping.is_set():
                return
            failures = 1 if time.monotonic() - began > _STEADY_SECONDS else failures + 1
            pause = self.backoff_seconds(failures)
            self.restarts += 1
            log.error(
                "%s (pid %d) exited with %s; starting it again in %.1f s",
                self.name,
                process.pid,
                _exit_text(code),
                pause,
            )
            self._stopping.wait(pause)

    def stop(self, timeout: float) -> None:
        """Send SIGTERM, wait up to `timeout` s for the child to finish, then kill it."""
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
        if self._thread is not None:
            self._thread.join(timeout)
        if process is not None and process.poll() is None:
            log.error("%s (pid %d) did not stop in %.1f s; killed", self.name, process.pid, timeout)
            process.kill()
            process.wait()


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"status {code}"


def processor_child(log_level: str) -> Child:
    """Return the child process `drainwatch serve` keeps its processor running in."""
    argv = [sys.executable, "-m", "service", "process", "--log-level", log_level]
    return Child("drainwatch-processor", argv)
