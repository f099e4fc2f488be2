"""What a body format hands over: entries (one message each, with the envelope's fields), and how
they become records (normalised, redacted, header-parsed) like any text line.

A format's parser is a pure function `bytes -> Parsed`; it raises `BodyError` only when nothing in
the body can be read. Entries it cannot use are counted in `Parsed.rejected` by reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from service.ingest.headers import LEVELS, parse_lines, split_lines
from service.ingest.records import LogRecord
from service.ingest.redact import lines_to_redact, redact_key_blocks
from service.ingest.timestamps import sane_time

# The longest instance and stream names kept (the database columns' widths allow more).
MAX_INSTANCE = 200
MAX_STREAM = 40


class BodyError(ValueError):
    """The body as a whole cannot be read in its declared format (an answer of 400)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry as its envelope delivered it.

    `message` may hold several lines (a traceback in one JSON field) and may itself begin with a log
    header (syslog, gunicorn...), which is peeled as for a text line. The envelope's `time`,
    `instance` and `stream` are the platform's and win over the line's own; the line's level wins
    over the envelope's. `source` is set by formats that name their source in the payload (Loki
    stream labels, OTLP `service.name`); empty means the source of the URL or token.
    """

    message: str
    time: datetime | None = None
    instance: str = ""
    stream: str = ""
    level: str = ""
    source: str = ""


@dataclass(slots=True)
class Parsed:
    """A body read into entries, with the entries it had to skip counted by reason."""

    entries: list[Entry] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)


def line_count(entries: list[Entry]) -> int:
    """Return an upper bound of the records `to_records` makes (for reserving seq numbers)."""
    return sum(entry.message.count("\n") + 1 for entry in entries)


def to_records(
    entries: list[Entry],
    *,
    source: str,
    received_at: datetime | None,
    start_seq: int = 0,
    max_line_bytes: int = 65536,
) -> list[LogRecord]:
    """Turn entries into records: each message parsed as text, the envelope's fields laid over it.

    Every record of an entry takes the entry's instance and stream, so the lines of a traceback in
    one entry stay together; only the entry's first record takes the entry's time. Every record
    takes `source`: the caller has already turned the entry's own source label into a valid name.
    """
    if received_at is not None and len(entries) > 1 and not any(map(_has_envelope, entries)):
        # Logplex frames: split one by one (a wrap never joins two), parsed as one run of lines.
        lines = [
            line
            for entry in entries
            for line in split_lines(entry.message, max_line_bytes=max_line_bytes)
        ]
        records = parse_lines(
            lines,
            lines_to_redact(lines),
            source=source,
            received_at=received_at,
            start_seq=start_seq,
        )
        return redact_key_blocks(records)
    return _each_entry(
        entries,
        source=source,
        received_at=received_at,
        start_seq=start_seq,
        max_line_bytes=max_line_bytes,
    )


def _each_entry(
    entries: list[Entry],
    *,
    source: str,
    received_at: datetime | None,
    start_seq: int,
    max_line_bytes: int,
) -> list[LogRecord]:
    """`to_records` entry by entry: each entry's lines parsed, its envelope laid over them."""
    records: list[LogRecord] = []
    seq = start_seq
    reference = None  # the entry's or the last line's time dates a year-less time
    split = [split_lines(entry.message, max_line_bytes=max_line_bytes) for entry in entries]
    # One search of the whole batch for the lines that may hold a secret, not one per entry.
    secret = lines_to_redact([line for lines in split for line in lines])
    first = 0
    for entry, lines in zip(entries, split, strict=True):
        # An envelope's time outside the sane years is dropped (and counted) as a line's own is.
        time = sane_time(entry.time) if entry.time is not None else None
        parsed = parse_lines(
            lines,
            secret,
            first=first,
            source=source,
            received_at=received_at,
            start_seq=seq,
            reference=time or reference,
        )
        first += len(lines)
        reference = time or next((r.time for r in reversed(parsed) if r.time), reference)
        seq += entry.message.count("\n") + 1
        level = LEVELS.get(entry.level.strip().upper(), "")
        if time is None and not entry.instance and not entry.stream and not level:
            records += parsed  # no envelope to lay over (text, logplex): the records as parsed
            continue
        instance, stream = entry.instance[:MAX_INSTANCE], entry.stream[:MAX_STREAM]
        for index, record in enumerate(parsed):
            records.append(
                LogRecord(
                    message=record.message,
                    source=record.source,
                    time=time if index == 0 and time is not None else record.time,
                    received_at=record.received_at,
                    instance=instance or record.instance,
                    stream=stream or record.stream,
                    level=record.level or level,
                    headed=record.headed,
                    seq=record.seq,
                    written=record.written,
                    time_lent=record.time_lent,
                )
            )
    # A key logged line by line comes as one entry per line (logplex frames, JSON lines).
    return redact_key_blocks(records)


def _has_envelope(entry: Entry) -> bool:
    """Tell whether an entry brings fields of its own to lay over its records.

    Entries without (logplex frames) are parsed as one run of lines: with `received_at` set,
    every timed line dates the next as the last time of an entry does, and a key's lines are
    followed across entries either way; only the record numbers run on without gaps per entry.
    """
    return entry.time is not None or bool(entry.instance or entry.stream or entry.level)
