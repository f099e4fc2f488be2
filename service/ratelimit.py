"""Per-source rate limits on accepted lines: a token bucket per source that may run into debt.

A batch is let through whenever its source's bucket holds any tokens, and costs its whole size, so
a batch bigger than the burst still passes when the source has been quiet; the debt it leaves
tells the next sender how long to wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Token buckets of lines per second, one per source; safe to share between threads."""

    def __init__(
        self,
        lines_per_second: float,
        burst: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = lines_per_second
        self.burst = max(burst, lines_per_second)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        """Return False when the limit is switched off (a rate of 0 or less)."""
        return self.rate > 0

    def wait(self, source: str) -> float:
        """Return how long `source` must wait before any batch of it passes (0: it may send)."""
        if not self.enabled:
            return 0.0
        with self._lock:
            tokens, _ = self._refilled(source)
        return (1 - tokens) / self.rate if tokens <= 0 else 0.0

    def _refilled(self, source: str) -> tuple[float, float]:
        """Return the source's tokens as refilled to now, and now (call with the lock held)."""
        now = self._clock()
        tokens, then = self._buckets.get(source, (self.burst, now))
        return min(self.burst, tokens + (now - then) * self.rate), now

    def take(self, source: str, lines: int) -> float:
        """Spend `lines` tokens of `source` and return 0; or spend none and return the wait."""
        if not self.enabled:
            return 0.0
        with self._lock:
            tokens, now = self._refilled(source)
            if tokens <= 0:
                self._buckets[source] = (tokens, now)
                return (1 - tokens) / self.rate
            self._buckets[source] = (tokens - lines, now)
            return 0.0
