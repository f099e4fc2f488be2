"""Read the times log lines carry: ISO 8601 / RFC 3339, Go's `YYYY/MM/DD HH:MM:SS`, year-less
syslog, and epoch numbers.

Every result is a UTC-aware datetime, or None when the text is not a valid time. A time without a
zone is read as UTC (containers and platforms log in UTC).
"""

from __future__ import annotations

import math
import re
import threading
from datetime import UTC, datetime, timedelta, timezone

MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
# Applied with .match (anchored); no nested repetition. Up to 9 fractional digits: Docker and
# containerd print nanoseconds, GitHub Actions 7 digits.
ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?"
    r"(?: ?(Z|z|UTC|GMT|[+-]\d\d(?::?\d\d)?))?(?=[\s\]|]|$)"
)
# Go's log package and nginx's error log: "2026/07/09 17:35:44[.123456] ", the groups of `ISO`.
SLASHED = re.compile(
    r"(\d{4})/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?"
    r"(?: ?(Z|UTC|[+-]\d\d(?::?\d\d)?))?(?=[\s\]|]|$)"
)
# Common log format's time, as access logs (gunicorn, nginx, Apache) print it after the client:
# "10.0.0.1 - - [06/Oct/2025:09:11:58 +0000] \"GET ...".
CLF = re.compile(
    r"\S{1,64} \S{1,64} \S{1,64} "
    r"\[(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-]\d{4})\] \""
)
# A time field's value that is an epoch number: seconds (a fraction allowed) or milliseconds.
_EPOCH_TEXT = re.compile(r"\d{10}(?:\.\d{1,9})?|\d{13}")
# An epoch number below this many seconds (2001-09-09) is a counter or a duration, not a time.
_MIN_EPOCH_SECONDS = 1e9
# Epoch numbers past these are milliseconds, then microseconds, then nanoseconds.
_EPOCH_UNITS = ((1e17, 1e9), (1e14, 1e6), (1e11, 1e3))
_ZONES: dict[str, timezone] = {}
# Zones `datetime.fromisoformat` reads as UTC itself (`iso_time`); "z", "UTC" and "GMT" it refuses.
_UTC_ZONES = frozenset({"Z", "+00:00", "+0000", "+00", "-00:00", "-0000", "-00"})
_SECONDS: dict[str, datetime | None] = {}
# Lines whose own time was outside `SANE_YEARS` and so was ignored, counted per thread, so a
# caller can tell how many of the lines it parsed lost their time (`ignored_times`).
_IGNORED = threading.local()


def parse_timestamp(text: str) -> datetime | None:
    """Parse a whole ISO 8601 / RFC 3339 timestamp as a UTC datetime (no zone means UTC)."""
    match = ISO.match(text)
    if match is None or match.end() != len(text):
        return None
    return iso_time(match)


def field_time(text: str) -> datetime | None:
    """Read a time field's value (logfmt `ts=`, a JSON string): RFC 3339 or epoch seconds/ms."""
    if _EPOCH_TEXT.fullmatch(text):
        return epoch_time(float(text))
    return parse_timestamp(text)


def clf_time(line: str) -> datetime | None:
    """Return the time of a common-log-format access line, or None for any other line."""
    if '] "' not in line[:200]:
        return None
    match = CLF.match(line)
    if match is None or match.group(2) not in MONTHS:
        return None
    day, month, year, hour, minute, second, zone = match.groups()
    try:
        stamp = datetime(
            int(year), MONTHS[month], int(day), int(hour), int(minute), int(second), 0, _zone(zone)
        )
    except ValueError:
        return None
    return sane_time(stamp.astimezone(UTC))


def epoch_time(value: float) -> datetime | None:
    """Read a Unix time in seconds, milliseconds, microseconds or nanoseconds (by magnitude)."""
    if not math.isfinite(value) or value <= 0:
        return None
    for threshold, divisor in _EPOCH_UNITS:
        if value >= threshold:
            value /= divisor
            break
    if value < _MIN_EPOCH_SECONDS:
        return None
    try:
        return sane_time(datetime.fromtimestamp(value, UTC))
    except (OverflowError, OSError, ValueError):
        return None


# The years a log line's own time is believed in; outside them the line counts as untimed.
SANE_YEARS = (1971, 2999)


def iso_time(match: re.Match[str]) -> datetime | None:
    """Return the UTC time of an `ISO` match, or None if its fields are out of range."""
    zone = match.group(8)
    if zone is None or zone in _UTC_ZONES:
        # The common case, in C (a quarter of the time): a UTC or zone-less time, which
        # `datetime.fromisoformat` reads as `iso_fields` does (comma, 7-9 fractional digits cut
        # to 6); what it refuses is read by `iso_fields`.
        text = match.group() if zone else match.group() + "Z"
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:  # out of range (Feb 30, 24:00), or a spelling it does not read
            return iso_fields(match)
        if SANE_YEARS[0] <= stamp.year <= SANE_YEARS[1]:
            return stamp
        _count_ignored()
        return None
    return iso_fields(match)


def iso_fields(match: re.Match[str]) -> datetime | None:
    """Return `iso_time`'s answer from the match's fields (any zone), in Python."""
    fraction, zone = match.group(7, 8)
    # Lines of one burst share their second: memoise that part, add the fraction afterwards.
    key = match.string[match.start() : match.start() + 19] + (zone or "")
    if key in _SECONDS:
        stamp = _SECONDS[key]
    else:
        if len(_SECONDS) >= 4096:
            _SECONDS.clear()
        stamp = _SECONDS[key] = _whole_seconds(match)
    if stamp is None:
        return None
    if not SANE_YEARS[0] <= stamp.year <= SANE_YEARS[1]:
        _count_ignored()
        return None
    if not fraction:
        return stamp
    # The stamp is a whole second in UTC: adding the fraction is `replace(microsecond=)`, faster.
    return stamp + timedelta(microseconds=int((fraction + "00000")[:6]))


def starts_year_less(line: str) -> bool:
    """Tell whether a line starts with a year-less syslog time (after an optional `<PRI>`)."""
    text = line[line.find(">", 0, 6) + 1 :] if line[:1] == "<" else line
    return text[3:4] == " " and text[:3] in MONTHS


def bsd_time(
    month: str,
    day: str,
    clock: tuple[str, str, str],
    reference: datetime | None,
    *,
    now: datetime | None = None,
) -> datetime | None:
    """Date a year-less syslog time by `reference`; without one the time is unknown (None).

    The year is the one that puts the time nearest the reference (the stream's previous time, or
    the receive time): December read in January is last year's, January after December next
    year's. Never more than a day after `now` (the receive time), when it is known.
    """
    if reference is None:
        return None
    hour, minute, second = (int(part) for part in clock)
    latest = now + timedelta(days=1) if now is not None else None
    best: datetime | None = None
    for year in (reference.year - 1, reference.year, reference.year + 1):
        try:
            stamp = datetime(year, MONTHS[month], int(day), hour, minute, second, tzinfo=UTC)
        except ValueError:
            continue
        if latest is not None and stamp > latest:
            continue
        if best is None or abs(stamp - reference) < abs(best - reference):
            best = stamp
    return best


def _zone(text: str | None) -> timezone:
    if text is None or text in ("Z", "z", "UTC", "GMT"):
        return UTC
    zone = _ZONES.get(text)
    if zone is None:
        digits = text[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
        zone = timezone(timedelta(minutes=minutes if text[0] == "+" else -minutes))
        if len(_ZONES) < 256:
            _ZONES[text] = zone
    return zone


def _whole_seconds(match: re.Match[str]) -> datetime | None:
    year, month, day, hour, minute, second, _fraction, zone = match.groups()
    try:
        stamp = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), 0, _zone(zone)
        )
    except ValueError:
        return None
    try:
        return stamp if stamp.tzinfo is UTC else stamp.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00:00+01:00 and 9999-12-31T23:59:59-01:00 fall off datetime's range in
        # UTC: the earliest time stands for them, which `iso_time` then counts as out of range.
        return datetime.min.replace(tzinfo=UTC)


def sane_time(stamp: datetime) -> datetime | None:
    """Return `stamp`, or None when its year is outside what a log line can mean.

    A line dated 0001 or 9999 is a placeholder or garbage; kept as a time, it would overflow the
    incident arithmetic (`last_seen + quiet period`) and stop the processor.
    """
    if SANE_YEARS[0] <= stamp.year <= SANE_YEARS[1]:
        return stamp
    _count_ignored()
    return None


def _count_ignored() -> None:
    _IGNORED.count = getattr(_IGNORED, "count", 0) + 1


def ignored_times() -> int:
    """Return how many times this thread has ignored as out of range (a running count)."""
    count: int = getattr(_IGNORED, "count", 0)
    return count
