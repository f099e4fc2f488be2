"""What one round of sending did to an outbox row, for incident events (deliver.py) and outage
messages (paging.py) alike: each target sent, retried or given up, and when to try again."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from service.metrics import Metrics

PENDING, SENT, FAILED, OFF = "pending", "sent", "failed", "off"
ERROR_CHARS = 300
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 15 * 60.0


def backoff(attempts: int, jitter: float) -> timedelta:
    """Return the wait after `attempts` failed rounds: 2, 4, 8... s up to 15 min, jittered 10%."""
    seconds = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)
    return timedelta(seconds=seconds * (0.9 + 0.2 * jitter))


def status(row: Any, target: str) -> str:
    """Return the state of one target of an outbox row (`<target>_status`)."""
    return str(getattr(row, f"{target}_status"))


def record_round(
    row: Any,
    errors: Mapping[str, str | None],
    *,
    targets: tuple[str, ...],
    now: datetime,
    max_attempts: int,
    jitter: Callable[[], float],
    metrics: Metrics | None,
) -> bool:
    """Record one round's outcome on `row` (None: delivered, else the error per target); return
    True when some target is still to be retried (then at `row.next_attempt_at`)."""
    row.attempts += 1
    failures = []
    for target, error in errors.items():
        if error is None:
            outcome = SENT
        else:
            failures.append(f"{target}: {error}")
            outcome = FAILED if row.attempts >= max_attempts else "retry"
        if outcome != "retry":
            setattr(row, f"{target}_status", outcome)
        if metrics is not None:
            metrics.notifications.labels(target=target, outcome=outcome).inc()
    if failures:
        row.last_error = "; ".join(failures)[:ERROR_CHARS]
    if any(status(row, t) == PENDING for t in targets):
        row.next_attempt_at = now + backoff(row.attempts, jitter())
        return True
    row.delivered_at = now
    return False
