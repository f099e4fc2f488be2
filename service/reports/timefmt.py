"""How reports write times and durations: UTC, second precision, plain words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def stamp(value: datetime | None) -> str:
    """Return `2025-09-19 12:43:14 UTC`, or `unknown` when the log carried no time."""
    if value is None:
        return "unknown"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def clock(value: datetime | None) -> str:
    """Return `12:43:14`, or `?` when the log carried no time."""
    return value.astimezone(UTC).strftime("%H:%M:%S") if value is not None else "?"


def between(start: datetime, end: datetime) -> timedelta:
    """Return the time from `start` to `end` as the report's second-precision stamps show it
    (both cut to the second), so a reader who subtracts the printed times gets the same figure."""
    return end.replace(microsecond=0) - start.replace(microsecond=0)


def duration(delta: timedelta | None) -> str:
    """Return `1 h 4 min 9 s`, `12 s`, or `unknown`."""
    if delta is None:
        return "unknown"
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes or hours:
        parts.append(f"{minutes} min")
    parts.append(f"{secs} s")
    return " ".join(parts)
