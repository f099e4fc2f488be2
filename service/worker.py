"""A background thread that repeats one step: at once while there is work, after a pause when
there is none, and backing off while the step fails (a database that is down)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger("drainwatch.worker")


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
    ) -> None:
        self.name = name
        self.step = step
        self.interval_seconds = interval_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.meanwhile = meanwhile
        self.final = final
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to finish the step in hand (and the final one) and stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        backoff = self.interval_seconds
        while not self._stop.is_set():
            try:
                busy = self.step()
                backoff = self.interval_seconds
            except SQLAlchemyError as error:
                first_line = f"{type(error).__name__}: {error}".splitlines()[0]
                log.warning(
                    "%s: database unavailable, %s: %s", self.name, self.meanwhile, first_line
                )
                busy = 0
                backoff = min(backoff * 2, self.max_backoff_seconds)
            except Exception:
                log.exception("%s: step failed; %s", self.name, self.meanwhile)
                busy = 0
                backoff = min(backoff * 2, self.max_backoff_seconds)
            if not busy:
                self._stop.wait(backoff)
        if self.final is not None:
            try:
                self.final()
            except Exception:
                log.exception("%s: final step failed; %s", self.name, self.meanwhile)
