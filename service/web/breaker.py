"""Pages and the JSON API fail fast while the database is known not to answer.

A database that accepts connections and never answers costs each page the pool's ping deadline
(3 s) and the connect timeout (5 s) before its 503: 8.4 s measured (`bench/outage.py --mode
hang`), so a dashboard open during an outage hangs. Once one request has waited that long for
its outage, the others answer 503 at once for `HOLD_SECONDS`; after that one request at a time
tries the database again, and the first that gets through lets every request through again.
An outage that fails fast (a refused connection, a missing SQLite file) holds nothing back: its
503 is quick already, and the request after the database returns gets through.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from time import monotonic

from sqlalchemy.exc import OperationalError

HOLD_SECONDS = 2.0
# A request that met the outage after waiting this long opens the breaker.
SLOW_SECONDS = 1.0
# A trial request that neither failed nor succeeded by then (it never used its session) no
# longer keeps the others out: the next request tries instead.
TRIAL_SECONDS = 15.0


class DatabaseNotAnswering(Exception):
    """The database did not answer a moment ago; this request did not try it."""


class DatabaseBreaker:
    """Whether a request that needs the database should try it now; safe across threads."""

    def __init__(self, clock: Callable[[], float] = monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._open_until: float | None = None
        self._trial_since: float | None = None

    def admit(self) -> bool:
        """Return True when a request may use the database, False when it should answer 503."""
        with self._lock:
            if self._open_until is None:
                return True
            now = self._clock()
            if now < self._open_until:
                return False
            if self._trial_since is not None and now - self._trial_since < TRIAL_SECONDS:
                return False
            self._trial_since = now
            return True

    def failed(self, waited: float) -> None:
        """Note that a request met the database unavailable after `waited` seconds.

        A quick failure opens nothing; one while open (a trial's) holds the others back again.
        """
        with self._lock:
            if waited < SLOW_SECONDS and self._open_until is None:
                return
            self._open_until = self._clock() + HOLD_SECONDS
            self._trial_since = None

    def succeeded(self) -> None:
        """Note that a request used the database without meeting an outage."""
        with self._lock:
            self._open_until = None
            self._trial_since = None

    @property
    def open(self) -> bool:
        """Return True while requests are being answered 503 without trying the database."""
        with self._lock:
            return self._open_until is not None


def refused() -> OperationalError:
    """Return the error a request refused by the breaker raises (answered as any outage)."""
    return OperationalError(
        None, None, DatabaseNotAnswering("the database did not answer moments ago")
    )


def is_refusal(error: BaseException) -> bool:
    """Tell whether `error` is the breaker's own refusal (not a new sign of the outage)."""
    return isinstance(getattr(error, "orig", None), DatabaseNotAnswering)
