"""Small explicit factories for records, events, signatures and hits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.ingest.records import Event, LogRecord
from service.signatures.model import Hit, Knowledge, Signature

T0 = datetime(2025, 9, 19, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """Return T0 plus `seconds`."""
    return T0 + timedelta(seconds=seconds)


def event(
    message: str, *, seconds: float | None = 0, source: str = "api", instance: str = "web.1"
) -> Event:
    """Return a one-record event at T0 + seconds (None for a line without time)."""
    time = at(seconds) if seconds is not None else None
    return Event(records=(LogRecord(message=message, source=source, time=time, instance=instance),))


def signature(
    id: str = "test.boom",
    *,
    kind: str = "single",
    group_by: tuple[str, ...] = (),
    quiet_minutes: int = 60,
    priority: int = 50,
    threshold: int = 0,
    window_seconds: int = 0,
) -> Signature:
    """Return a minimal valid signature."""
    return Signature(
        id=id,
        title=f"Title of {id}",
        severity="high",
        description="A test signature.",
        kind=kind,  # type: ignore[arg-type]
        priority=priority,
        group_by=group_by,
        knowledge=Knowledge(
            root_cause="Because {name}.", fix="Fix {name}.", verification=("Check.",)
        ),
        quiet_minutes=quiet_minutes,
        threshold=threshold,
        window_seconds=window_seconds,
    )


def hit(sig: Signature, ev: Event, role: str = "open", **fields: str) -> Hit:
    """Return a hit of `sig` on `ev` with captured fields."""
    return Hit(signature=sig, event=ev, fields=fields, role=role)  # type: ignore[arg-type]
