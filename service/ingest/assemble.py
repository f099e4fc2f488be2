"""Join the records of a line-split Python traceback into one event, per (source, instance, stream).

Every record comes out exactly once: in a traceback event or as a single-record event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from service.ingest.records import Event, LogRecord
from service.ingest.tracebacks import (
    ASYNCIO_HEADERS,
    BODY_STARTS,
    CHAIN_LINES,
    CONTEXT_LINE,
    ERROR_LEVELS,
    HEADER_PREFIXES,
    SQLALCHEMY_END,
    TAIL_ENDS,
    TRACEBACK,
    django_exception,
    ends_with_header,
    exception_chain,
    is_flat_frame,
    is_group_end,
    is_marker_line,
    parse_exception,
    starts_frames,
    starts_traceback,
    traceback_event,
)
from service.ingest.validation import MAX_REPORT_LINES, is_location, is_problem, opens_report

__all__ = ["TRACEBACK", "Assembler", "assemble", "exception_chain", "traceback_event"]


@dataclass(slots=True)
class _Pending:
    """What one (source, instance, stream) has not yet emitted."""

    held: list[LogRecord] = field(default_factory=list)
    records: list[LogRecord] = field(default_factory=list)
    in_tail: bool = False
    after_chain: bool = False
    tail: int = 0
    uniform: bool = False
    level: str = ""
    body: bool = False
    # After a frame at column 0 (a viewer dropped the indentation): 1, its source line may follow;
    # 2, after that source line, the `^^^` markers under it may.
    flat: int = 0
    continued: bool = False
    # A headerless validation report: its location lines since the last problem line (-1 at
    # first, so the report line's own wrapped tail may stand before the first location).
    report: bool = False
    locations: int = 0
    last_time: datetime | None = None
    last_received: datetime | None = None

    def touch(self, record: LogRecord) -> None:
        self.last_time = record.time or self.last_time
        self.last_received = record.received_at or self.last_received


_Key = tuple[str, str, str]
# Completed events that may wait, in log order, behind a line held back under another key.
MAX_WAITING = 1000


@dataclass(frozen=True, slots=True)
class AssemblerCheckpoint:
    """What `Assembler.restore` brings back: the records held per key, each source's key, and
    the events waiting behind a held record."""

    states: dict[_Key, _Pending]
    last: dict[str, _Key]
    ready: list[Event]


def _copy(state: _Pending) -> _Pending:
    return replace(state, held=list(state.held), records=list(state.records))


def _first_seq(event: Event) -> int:
    return event.records[0].seq


class Assembler:
    """Turn a stream of records into events, joining each traceback into one.

    State is kept per (source, instance, stream), so interleaved instances do not mix; a line with
    no header and no instance (a plain traceback line) belongs to the key of the line before it. One
    ERROR-level or traceback-header record per key is held back until the next record of that key
    shows whether a traceback follows it. Events come out in log order (by first seq): one that
    completes while an earlier record of another key is still held waits for it, so the events of
    feed(a) + feed(b) + flush() are those of feed(a + b) + flush(), in the same order, wherever
    a batch ends (the incident that happened first is opened first).
    """

    def __init__(
        self, *, gap_seconds: float = 5.0, max_records: int = 2000, max_tail: int = 30
    ) -> None:
        self._gap = timedelta(seconds=gap_seconds)
        self._max_records = max(2, max_records)
        self._max_tail = max_tail
        self._states: dict[_Key, _Pending] = {}
        self._last: dict[str, _Key] = {}
        # Completed events that wait for an earlier record still held under another key.
        self._ready: list[Event] = []

    @property
    def pending(self) -> int:
        """Return how many records are held back, waiting for what follows them."""
        waiting = sum(len(state.held) + len(state.records) for state in self._states.values())
        return waiting + sum(len(event.records) for event in self._ready)

    def held(self) -> list[LogRecord]:
        """Return every record held back, oldest first: feeding them to a new assembler gives
        it the same state (what a restart does with what a crash would otherwise lose)."""
        records = [
            record for state in self._states.values() for record in (*state.held, *state.records)
        ]
        records.extend(record for event in self._ready for record in event.records)
        records.sort(key=lambda record: record.seq)
        return records

    def checkpoint(self) -> AssemblerCheckpoint:
        """Return what `restore` needs to bring the assembler back to this moment."""
        states = {key: _copy(state) for key, state in self._states.items()}
        return AssemblerCheckpoint(states, dict(self._last), list(self._ready))

    def restore(self, checkpoint: AssemblerCheckpoint) -> None:
        """Bring the assembler back to a checkpoint (which stays usable for another restore)."""
        self._states = {key: _copy(state) for key, state in checkpoint.states.items()}
        self._last = dict(checkpoint.last)
        self._ready = list(checkpoint.ready)

    def feed(self, records: Iterable[LogRecord]) -> list[Event]:
        """Consume records and return the events they completed, in log order."""
        take, ready = self._take, self._ready
        for record in records:
            take(record, ready)
        return self._due()

    def flush(self) -> list[Event]:
        """Emit everything still pending (end of stream), in log order."""
        for state in self._states.values():
            self._release(state, self._ready)
        self._states.clear()
        return self._due()

    def expire(self, now: datetime) -> list[Event]:
        """Emit what has waited longer than the gap since its key's last record arrived (and
        what waited behind it)."""
        for key, state in list(self._states.items()):
            seen = state.last_received or state.last_time
            if seen is not None and now - seen > self._gap:
                self._release(state, self._ready)
                del self._states[key]
        return self._due()

    def _due(self) -> list[Event]:
        """Return the completed events that no held record comes before, in log order. Past
        `MAX_WAITING` completed events, the oldest held key is released early: a line held back
        for a traceback that never comes must not hold a whole file in memory."""
        if not self._ready:
            return []
        while len(self._ready) > MAX_WAITING:
            blocking = [
                (min(first[0].seq for first in (state.held, state.records) if first), key)
                for key, state in self._states.items()
                if state.held or state.records
            ]
            if not blocking:
                break
            _, key = min(blocking)
            self._release(self._states.pop(key), self._ready)
        firsts = [
            min(first[0].seq for first in (state.held, state.records) if first)
            for state in self._states.values()
            if state.held or state.records
        ]
        self._ready.sort(key=_first_seq)
        if not firsts:
            due, self._ready = self._ready, []
            return due
        mark = min(firsts)
        cut = next((n for n, event in enumerate(self._ready) if _first_seq(event) > mark), None)
        if cut is None:
            due, self._ready = self._ready, []
        else:
            due, self._ready = self._ready[:cut], self._ready[cut:]
        return due

    def _key(self, record: LogRecord) -> _Key:
        """Return the record's key; a bare line belongs to whoever logged the line before it."""
        if record.headed or record.instance:
            key = (record.source, record.instance, record.stream)
        else:
            key = self._last.get(record.source) or (record.source, "", record.stream)
        self._last[record.source] = key
        return key

    def _take(self, record: LogRecord, out: list[Event], key: _Key | None = None) -> None:
        key = key or self._key(record)
        state = self._states.get(key)
        if state is None:
            text = record.message
            if "\n" in text:  # a JSON log line holds its whole traceback: nothing joins it
                out.append(_single(record))
            elif _opens(text):  # also uvicorn's "ERROR:    Traceback (most recent..."
                state = self._states[key] = _Pending()
                self._open(state, [record])
            elif " validation error" in text and opens_report(text):
                state = self._states[key] = _Pending()
                self._open(state, [record])
                state.report, state.locations = True, -1
            elif record.level in ERROR_LEVELS or text.startswith(HEADER_PREFIXES):
                state = self._states[key] = _Pending(held=[record])
                state.touch(record)
            else:
                out.append(Event((record,)))  # one line (no line feed): what `_single` gives
            return
        if state.records:
            if self._joins(state, record):
                state.records.append(record)
                state.touch(record)
                if state.in_tail and record.message.startswith(SQLALCHEMY_END):
                    self._release(state, out)
                    del self._states[key]
                elif len(state.records) >= self._max_records:
                    self._split(state, key, out)
                return
        elif _opens(record.message) and not self._gapped(state, record):
            self._open(state, [*state.held, record])
            state.held = []
            return
        elif _absorbs(state.held, record) and not self._gapped(state, record):
            state.held.append(record)
            state.touch(record)
            return
        self._release(state, out)
        del self._states[key]
        self._take(record, out, key)

    def _open(self, state: _Pending, records: list[LogRecord]) -> None:
        start = records[-1]
        state.records = records
        state.uniform, state.level = start.headed, start.level
        state.in_tail = state.after_chain = state.body = state.continued = False
        state.report = False
        # Django's summary stands in for the exception line: what follows is its tail.
        state.in_tail = django_exception(start.message) is not None
        state.flat = 1 if is_flat_frame(start.message) else 0
        state.touch(start)

    def _split(self, state: _Pending, key: _Key, out: list[Event]) -> None:
        """Emit a traceback that reached the record limit and go on with its body, so the part
        that ends in the exception (a RecursionError's thousand frames) still reads as one."""
        if state.in_tail:
            self._release(state, out)
            del self._states[key]
            return
        *head, last = state.records
        out.append(traceback_event(head, continued=state.continued))
        state.records, state.continued = [last], True

    def _gapped(self, state: _Pending, record: LogRecord) -> bool:
        """Compare log time with log time and arrival with arrival, never one with the other.

        A gunicorn header carries the app's clock while the bare traceback lines under it only
        have the arrival time; mixing the two clocks would cut tracebacks apart.
        """
        gap = self._gap
        time, received = record.time, record.received_at
        last_time, last_received = state.last_time, state.last_received
        return (time is not None and last_time is not None and abs(time - last_time) > gap) or (
            received is not None
            and last_received is not None
            and abs(received - last_received) > gap
        )

    def _joins(self, state: _Pending, record: LogRecord) -> bool:
        if len(state.records) >= self._max_records or self._gapped(state, record):
            return False
        if state.report:
            return _joins_report(state, record)
        if state.in_tail:
            return self._joins_tail(state, record)
        return self._joins_body(state, record)

    def _joins_body(self, state: _Pending, record: LogRecord) -> bool:
        """Inside a traceback only the text decides: platforms may prefix every line."""
        text = record.message
        if not text or text.isspace():
            return True
        after_chain, state.after_chain = state.after_chain, False
        flat, state.flat = state.flat, 0
        if text.startswith(BODY_STARTS):
            if not state.body:  # "ERROR:    Traceback" may head frames that carry no level
                state.level, state.body = record.level, True
            state.in_tail = is_group_end(text)
            state.tail = 0
            return True
        if text.startswith(CHAIN_LINES):
            state.after_chain = True
            return True
        if text.startswith(TRACEBACK):
            return after_chain
        if record.level not in ("", state.level):
            return False
        if is_flat_frame(text):
            state.flat = 1
            return True
        if parse_exception(text) is not None or django_exception(text) is not None:
            state.in_tail, state.tail = True, 0
            return True
        if flat == 1 or (flat == 2 and is_marker_line(text)):
            state.flat = 2  # the source line of a frame at column 0, or the markers under it
            return True
        return False

    def _joins_tail(self, state: _Pending, record: LogRecord) -> bool:
        """After the exception line, unheaded lines continue a multi-line message."""
        text = record.message
        if text.startswith(CHAIN_LINES):
            state.in_tail, state.after_chain = False, True
            return True
        if _opens(text) or state.tail >= self._max_tail:
            return False
        if text.startswith(TAIL_ENDS) or ('" ' in text and "HTTP/" in text):
            return False  # see TAIL_ENDS; or the access-log line of the failed request
        # When the platform heads every line, only a line with a level of its own is new.
        joins = record.level == state.level if state.uniform else not record.headed
        state.tail += joins
        return joins

    def _release(self, state: _Pending, out: list[Event]) -> None:
        if state.records:
            out.append(traceback_event(state.records, continued=state.continued))
        out.extend(_single(record) for record in state.held)
        state.records, state.held = [], []


def _joins_report(state: _Pending, record: LogRecord) -> bool:
    """Keep a validation report's location and problem lines; stop at the first other line."""
    text = record.message
    if record.level not in ("", state.level) or len(state.records) >= MAX_REPORT_LINES:
        return False
    if is_problem(text):
        if state.locations == -1:
            return False  # a problem needs its location first
        state.locations = 0
        return True
    if state.locations < 1 and is_location(text):
        state.locations += 1
        return True
    return False


# How a line that begins a traceback starts, unless only its end is the header (`_opens`):
# `Traceback`, an exception group's `  +`, rich's box, a frame (indented, `>` or at column 0),
# Django's `Exception Type:`. Most lines start otherwise and are told apart with one test.
_OPENING_FIRSTS = frozenset("T ╭F>E")
_HEADER_ENDS = (TRACEBACK, TRACEBACK + " ")


def _opens(text: str) -> bool:
    """Tell whether a line begins a traceback: its header (also glued onto a logger line), its
    first frame when the header was cut, or Django's summary that names the exception."""
    if text[:1] not in _OPENING_FIRSTS:
        return text.endswith(_HEADER_ENDS)  # only `ends_with_header` can hold
    return (
        starts_traceback(text)
        or starts_frames(text)
        or ends_with_header(text)
        or django_exception(text) is not None
    )


def _single(record: LogRecord) -> Event:
    """Make a one-record event, reading the traceback a multi-line message may hold."""
    text = record.message
    if "\n" in text and (TRACEBACK in text or 'File "' in text or "Exception Type:" in text):
        return traceback_event((record,))
    return Event((record,))


def _absorbs(held: list[LogRecord], record: LogRecord) -> bool:
    """Tell whether a blank line, or asyncio's `future: <Task ...>` context, joins a held header."""
    if len(held) >= 6 or record.level:
        return False
    text = record.message
    return (not text or text.isspace()) or (
        held[0].message.startswith(ASYNCIO_HEADERS) and CONTEXT_LINE.match(text) is not None
    )


def assemble(
    records: Iterable[LogRecord], *, gap_seconds: float = 5.0, max_records: int = 2000
) -> list[Event]:
    """Assemble a finite stream of records into events, sorted by first seq."""
    assembler = Assembler(gap_seconds=gap_seconds, max_records=max_records)
    events = assembler.feed(records)
    events.extend(assembler.flush())
    events.sort(key=_first_seq)
    return events
