"""A background thread that repeats one step: at once while there is work, after a pause when
there is none, and backing off with jitter while the step fails (a database that is down).

While the database is unreachable the worker logs its own outage in the shape drainwatch
diagnoses (`app.db-outage`): `[DB_DOWN] op=OP try=N/M sleep=Xs reason=CLASS` on each failed try,
and `[DB_RECOVERED] op=OP after N attempts` on the first try that reaches the database again.
It never gives up: after M tries it says so at ERROR and starts a new round of M.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from service.db import utcnow

log = logging.getLogger("drainwatch.worker")
MAX_TRIES = 10

# Errors that mean "the database did not answer", not "the database refused this statement":
# a stopped or restarting server, a dropped connection, an exhausted pool, a file that cannot be
# opened or written (SQLite reports those as OperationalError too).
UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)


def database_unavailable(error: BaseException) -> bool:
    """Return True when `error` says the database could not be reached or written at all."""
    if isinstance(error, UNAVAILABLE):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def failure_reason(error: BaseException) -> str:
    """Return one word naming a failure: the driver's exception class, else the error's own."""
    original = getattr(error, "orig", None)
    cause = original if isinstance(original, BaseException) else error
    return type(cause).__name__


@dataclass(frozen=True, slots=True)
class WorkerState:
    """What the worker's last steps did, for /healthz."""

    running: bool
    failures: int
    database_down: bool
    last_error: str
    failing_since: datetime | None
    last_success_at: datetime | None


class Worker:
    """Runs `step` (which returns how much it did) in a daemon thread until `stop`."""

    def __init__(
        self,
        name: str,
        step: Callable[[], int],
        *,
        interval_seconds: float,
        max_backoff_seconds: float,
        meanwhile: str,
        final: Callable[[], object] | None = None,
        op: str | None = None,
        max_tries: int = MAX_TRIES,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.name = name
        self.step = step
        self.interval_seconds = interval_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.meanwhile = meanwhile
        self.final = final
        self.op = op or name.removeprefix("drainwatch-")
        self.max_tries = max_tries
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._down_tries = 0
        self._last_error = ""
        self._failing_since: datetime | None = None
        self._last_success_at: datetime | None = None

    @property
    def state(self) -> WorkerState:
        """Return what the last steps did: failures in a row, the last error, since when."""
        return WorkerState(
            running=self._thread is not None and self._thread.is_alive(),
            failures=self._failures,
            database_down=self._down_tries > 0,
            last_error=self._last_error,
            failing_since=self._failing_since,
            last_success_at=self._last_success_at,
        )

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def finish(self) -> None:
        """Stop after the step in hand, without waiting for it (the step itself may call it)."""
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to finish the step in hand (and the final one) and stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def backoff_seconds(self, failures: int) -> float:
        """Return the pause after `failures` failed tries in a row: doubling, capped, jittered.

        Half the doubled pause is kept and the other half drawn at random ("equal jitter"), so
        several processes on one database do not retry in step, and none retries at once.
        """
        doubled = self.interval_seconds * 2.0 ** min(failures - 1, 30)
        ceiling = min(doubled, self.max_backoff_seconds)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def run_step(self) -> tuple[int, float]:
        """Run the step once; return (work done, seconds to pause if nothing was done)."""
        try:
            busy = self.step()
        except Exception as error:  # the loop must outlive any step
            return 0, self._failed(error)
        self._succeeded()
        return busy, self.interval_seconds

    def _succeeded(self) -> None:
        self._recovered()
        self._failures = 0
        self._last_error = ""
        self._failing_since = None
        self._last_success_at = self._clock()

    def _recovered(self) -> None:
        if self._down_tries:
            log.info("[DB_RECOVERED] op=%s after %d attempts", self.op, self._down_tries + 1)
            self._down_tries = 0

    def _failed(self, error: Exception) -> float:
        self._failures += 1
        if self._failing_since is None:
            self._failing_since = self._clock()
        first_line = f"{type(error).__name__}: {error}".splitlines()[0]
        self._last_error = first_line[:500]
        sleep = self.backoff_seconds(self._failures)
        if database_unavailable(error):
            self._down_tries += 1
            self._log_down(error, sleep)
        elif isinstance(error, SQLAlchemyError):
            # The database answered (it refused a statement), so it is no longer down.
            self._recovered()
            log.error("%s: step failed; %s: %s", self.name, self.meanwhile, first_line)
        else:
            log.exception("%s: step failed; %s", self.name, self.meanwhile)
        return sleep

    def _log_down(self, error: Exception, sleep: float) -> None:
        tries = (self._down_tries - 1) % self.max_tries + 1
        level = logging.ERROR if tries == self.max_tries else logging.WARNING
        log.log(
            level,
            "[DB_DOWN] op=%s try=%d/%d sleep=%.1fs reason=%s",
            self.op,
            tries,
            self.max_tries,
            sleep,
            failure_reason(error),
        )
        if tries == self.max_tries:
            log.error(
                "%s: the database has been unreachable for %d tries; still trying, %s",
                self.name,
                self._down_tries,
                self.meanwhile,
            )

    def _loop(self) -> None:
        while not self._stop.is_set():
            busy, pause = self.run_step()
            if not busy:
                self._stop.wait(pause)
        if self.final is not None:
            try:
                self.final()
            except Exception as error:
                if not database_unavailable(error):
                    log.exception("%s: final step failed; %s", self.name, self.meanwhile)
                    return
                log.warning(
                    "%s: final step skipped, the database is unavailable (%s); %s",
                    self.name,
                    failure_reason(error),
                    self.meanwhile,
                )
