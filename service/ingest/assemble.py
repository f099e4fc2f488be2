"""Join the records of a line-split Python traceback into one event, per (source, instance, stream).

Every record comes out exactly once: in a traceback event or as a single-record event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from service.ingest.records import Event, Frame, LogRecord

TRACEBACK = "Traceback (most recent call last):"
GROUP_TRACEBACK = "  + Exception Group Traceback (most recent call last):"
CHAIN_LINES = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
# Lines frameworks log just before the traceback they are about to print.
HEADER_PREFIXES = (
    "Exception in ASGI application",
    "Exception on /",
    "Internal Server Error: /",
    "Error handling request",
    "Exception in callback",
    "Task exception was never retrieved",
    "Future exception was never retrieved",
    "Exception in thread",
    "An error has been caught in function",
)
# asyncio's handler logs "key: value" context lines between its header and the traceback.
_ASYNCIO_HEADERS = (
    "Exception in callback",
    "Task exception was never retrieved",
    "Future exception was never retrieved",
)
_CONTEXT_LINE = re.compile(r"[a-z_]{2,32}: ")
_ERROR_LEVELS = frozenset({"ERROR", "CRITICAL"})
_SQLALCHEMY_END = "(Background on this error at:"
# Python prints the outermost exception group's closing rule at exactly this indentation.
_GROUP_END = "    +-"
_EXCEPTION = re.compile(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?::(?: (.*))?)?", re.DOTALL)
_FRAME = re.compile(r' *(?:[|>] *)?File "([^"]*)", line (\d+)(?:, in (.*))?')
_MARKERS = frozenset(" ^~-+|")
# rich (structlog's ConsoleRenderer, `rich.traceback`) boxes the frames: `╭── Traceback (most recent
# call last) ──╮`, `│ /app/x.py:51 in run │`, `╰──╯`; the exception line follows the box.
_RICH_TITLE = "Traceback (most recent call last)"
_TRACEBACK_STARTS = (TRACEBACK, GROUP_TRACEBACK, "╭─")
_RICH_FRAME = re.compile(r"│ (\S+):(\d+) in (\S+) *│$")
_BODY_STARTS = (" ", "\t", "> File ", "│", "╰")  # indented, loguru's marked frame, rich's box
# Neither a new traceback header nor a platform line (Render's `==> Exited with status 1`, GitHub
# Actions' `##[error]...`) continues an exception message.
_TAIL_ENDS = (*HEADER_PREFIXES, "==> ", "##[")


def _exception(text: str) -> tuple[str, str] | None:
    """Return (type, message) if text is a column-0 exception line like `pkg.Error: message`."""
    match = _EXCEPTION.fullmatch(text.rstrip())
    if match is None:
        return None
    name = match.group(1)
    last = name.rpartition(".")[2]
    if not last[:1].isupper() and not (":" in text and "." in name):
        return None
    return name, match.group(2) or ""


def _is_group_end(text: str) -> bool:
    return text.startswith(_GROUP_END) and set(text[4:].rstrip()) <= {"+", "-"}


def _starts_traceback(text: str) -> bool:
    return text.startswith(_TRACEBACK_STARTS) and (text[0] != "╭" or _RICH_TITLE in text)


@dataclass(slots=True)
class _Exception:
    type: str
    lines: list[str]
    top_level: bool


@dataclass(slots=True)
class _Scan:
    frames: list[Frame] = field(default_factory=list)
    chain: list[_Exception] = field(default_factory=list)
    final: int = -1
    complete: bool = False


def _scan(records: Iterable[LogRecord], *, continued: bool = False) -> _Scan:
    """Read frames and exceptions back out of an assembled traceback's records.

    A record may itself hold several lines (a JSON log's message with its traceback inside).
    `continued` says the records go on a traceback whose start was emitted before them.
    """
    scan = _Scan()
    seen_traceback, in_tail = continued, False
    target: _Exception | None = None
    frame: re.Match[str] | None = None
    for text in (line for record in records for line in record.message.split("\n")):
        if frame is not None:
            scan.frames.append(_frame(frame, text))
            frame = None
        if text.startswith(CHAIN_LINES):
            in_tail, target = False, None
        elif in_tail:
            if target is not None and text and not text.isspace():
                target.lines.append(text)
        elif _starts_traceback(text):
            seen_traceback = True
        elif not seen_traceback or (frame := _FRAME.match(text)) is not None:
            continue
        elif text.startswith("│"):
            if (rich := _RICH_FRAME.match(text)) is not None:
                scan.frames.append(Frame(rich.group(1), int(rich.group(2)), rich.group(3)))
        elif text[:1] not in (" ", "\t"):
            found = _exception(text)
            if found is not None:
                target = _Exception(found[0], [found[1]], top_level=True)
                scan.chain.append(target)
                scan.final, in_tail = len(scan.chain) - 1, True
        elif _is_group_end(text):
            in_tail = True
        else:
            _group_exception(text, scan)
    if frame is not None:
        scan.frames.append(_frame(frame, ""))
    scan.complete = in_tail
    return scan


def _frame(match: re.Match[str], following: str) -> Frame:
    """Build a frame, taking `following` as its source line when it is one."""
    code = following.strip()
    if following[:1] in (" ", "\t") and code.startswith("|"):
        code = code[1:].strip()
    if following[:1] not in (" ", "\t") or set(code) <= _MARKERS or _FRAME.match(following):
        code = ""
    name = match.group(3) or ""
    return Frame(file=match.group(1), line=int(match.group(2)), function=name, code=code)


def _group_exception(text: str, scan: _Scan) -> None:
    """Record an exception printed inside an exception group (`  | ValueError: 1`)."""
    stripped = text.lstrip(" ")
    if not stripped.startswith("| ") or stripped[2:3] in (" ", ""):
        return
    found = _exception(stripped[2:])
    if found is not None:
        top_level = text.startswith("  | ")
        scan.chain.append(_Exception(found[0], [found[1]], top_level))
        if top_level:
            scan.final = len(scan.chain) - 1


def exception_chain(event: Event) -> list[tuple[str, str]]:
    """Return every exception of the event's traceback as (type, message), in printed order."""
    return [(found.type, "\n".join(found.lines)) for found in _scan(event.records).chain]


def traceback_event(records: Iterable[LogRecord], *, continued: bool = False) -> Event:
    """Build an event from a traceback's records, with its frames and final exception.

    `continued`: the records go on a traceback too long for one event (see `Assembler`).
    """
    records = tuple(records)
    scan = _scan(records, continued=continued)
    exception_type = exception_message = ""
    if scan.complete and scan.final >= 0:
        final = scan.chain[scan.final]
        exception_type, exception_message = final.type, "\n".join(final.lines)
    return Event(records, tuple(scan.frames), exception_type, exception_message)


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
    continued: bool = False
    last_time: datetime | None = None
    last_received: datetime | None = None

    def touch(self, record: LogRecord) -> None:
        self.last_time = record.time or self.last_time
        self.last_received = record.received_at or self.last_received


_Key = tuple[str, str, str]


def _first_seq(event: Event) -> int:
    return event.records[0].seq


class Assembler:
    """Turn a stream of records into events, joining each traceback into one.

    State is kept per (source, instance, stream), so interleaved instances do not mix; a line with
    no header and no instance (a plain traceback line) belongs to the key of the line before it. One
    ERROR-level or traceback-header record per key is held back until the next record of that key
    shows whether a traceback follows it. `feed` returns what it completed, sorted by first seq;
    the events of feed(a) + feed(b) + flush() are those of feed(a + b) + flush().
    """

    def __init__(
        self, *, gap_seconds: float = 5.0, max_records: int = 2000, max_tail: int = 30
    ) -> None:
        self._gap = timedelta(seconds=gap_seconds)
        self._max_records = max(2, max_records)
        self._max_tail = max_tail
        self._states: dict[_Key, _Pending] = {}
        self._last: dict[str, _Key] = {}

    @property
    def pending(self) -> int:
        """Return how many records are held back, waiting for what follows them."""
        return sum(len(state.held) + len(state.records) for state in self._states.values())

    def feed(self, records: Iterable[LogRecord]) -> list[Event]:
        """Consume records and return the events they completed, sorted by first seq."""
        out: list[Event] = []
        for record in records:
            self._take(record, out)
        out.sort(key=_first_seq)
        return out

    def flush(self) -> list[Event]:
        """Emit everything still pending (end of stream), sorted by first seq."""
        out: list[Event] = []
        for state in self._states.values():
            self._release(state, out)
        self._states.clear()
        out.sort(key=_first_seq)
        return out

    def expire(self, now: datetime) -> list[Event]:
        """Emit what has waited longer than the gap since its key's last record arrived."""
        out: list[Event] = []
        for key, state in list(self._states.items()):
            seen = state.last_received or state.last_time
            if seen is not None and now - seen > self._gap:
                self._release(state, out)
                del self._states[key]
        out.sort(key=_first_seq)
        return out

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
            elif _starts_traceback(text):  # also uvicorn's "ERROR:    Traceback (most recent..."
                state = self._states[key] = _Pending()
                self._open(state, [record])
            elif record.level in _ERROR_LEVELS or text.startswith(HEADER_PREFIXES):
                state = self._states[key] = _Pending(held=[record])
                state.touch(record)
            else:
                out.append(_single(record))
            return
        if state.records:
            if self._joins(state, record):
                state.records.append(record)
                state.touch(record)
                if state.in_tail and record.message.startswith(_SQLALCHEMY_END):
                    self._release(state, out)
                    del self._states[key]
                elif len(state.records) >= self._max_records:
                    self._split(state, key, out)
                return
        elif _starts_traceback(record.message) and not self._gapped(state, record):
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
        if state.in_tail:
            return self._joins_tail(state, record)
        return self._joins_body(state, record)

    def _joins_body(self, state: _Pending, record: LogRecord) -> bool:
        """Inside a traceback only the text decides: platforms may prefix every line."""
        text = record.message
        if not text or text.isspace():
            return True
        after_chain, state.after_chain = state.after_chain, False
        if text.startswith(_BODY_STARTS):
            if not state.body:  # "ERROR:    Traceback" may head frames that carry no level
                state.level, state.body = record.level, True
            state.in_tail = _is_group_end(text)
            state.tail = 0
            return True
        if text.startswith(CHAIN_LINES):
            state.after_chain = True
            return True
        if text.startswith(TRACEBACK):
            return after_chain
        if record.level in ("", state.level) and _exception(text) is not None:
            state.in_tail, state.tail = True, 0
            return True
        return False

    def _joins_tail(self, state: _Pending, record: LogRecord) -> bool:
        """After the exception line, unheaded lines continue a multi-line message."""
        text = record.message
        if text.startswith(CHAIN_LINES):
            state.in_tail, state.after_chain = False, True
            return True
        if _starts_traceback(text) or state.tail >= self._max_tail:
            return False
        if text.startswith(_TAIL_ENDS) or ('" ' in text and "HTTP/" in text):
            return False  # see _TAIL_ENDS; or the access-log line of the failed request
        # When the platform heads every line, only a line with a level of its own is new.
        joins = record.level == state.level if state.uniform else not record.headed
        state.tail += joins
        return joins

    def _release(self, state: _Pending, out: list[Event]) -> None:
        if state.records:
            out.append(traceback_event(state.records, continued=state.continued))
        out.extend(_single(record) for record in state.held)
        state.records, state.held = [], []


def _single(record: LogRecord) -> Event:
    """Make a one-record event, reading the traceback a multi-line message may hold."""
    text = record.message
    if "\n" in text and TRACEBACK in text:
        return traceback_event((record,))
    return Event((record,))


def _absorbs(held: list[LogRecord], record: LogRecord) -> bool:
    """Tell whether a blank line, or asyncio's `future: <Task ...>` context, joins a held header."""
    if len(held) >= 6 or record.level:
        return False
    text = record.message
    return (not text or text.isspace()) or (
        held[0].message.startswith(_ASYNCIO_HEADERS) and _CONTEXT_LINE.match(text) is not None
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
