"""The record (one parsed log line) and the event (a record, or a reassembled traceback).

Both are frozen `msgspec.Struct`s, not dataclasses: every line makes one of each, and a Struct
is built in a tenth of the time; a record goes to the spool and back as a JSON array at C speed
(`service.spool.codec`). Change one with `msgspec.structs.replace`.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

# How a time was lent to a line without one (`LogRecord.time_lent`).
ABOUT = "about"
AFTER = "after"


class LogRecord(msgspec.Struct, frozen=True, array_like=True):
    """One log line after header parsing, normalisation and redaction.

    `time` is the time the line itself carries (UTC-aware) or None; `received_at` is when
    drainwatch accepted it (None for offline scans). `headed` says whether the line began with
    a log header of its own (timestamp, level, pid...), which tells a traceback continuation
    line from the start of a new message. `written` is the line as the app wrote it (only the
    platform's wrapping taken off: syslog, journald, Heroku, Docker, a quote), kept when header
    parsing took more than that off the message, so a signature can match the line as written.
    `time_lent` says the line carried no time and `time` was lent by the lines around it
    (`LogClock`): `ABOUT` when timed lines close before and after it bound it (a report says
    "about"), `AFTER` when only the line before gives it (a lower bound, nothing more).
    """

    message: str
    source: str
    time: datetime | None = None
    received_at: datetime | None = None
    instance: str = ""
    stream: str = "app"
    level: str = ""
    headed: bool = False
    seq: int = 0
    written: str = ""
    time_lent: str = ""

    @property
    def when(self) -> datetime | None:
        """Return the log's own time if it has one, else the arrival time."""
        return self.time if self.time is not None else self.received_at


class Frame(msgspec.Struct, frozen=True):
    """One `File "...", line N, in func` frame of a traceback."""

    file: str
    line: int
    function: str
    code: str = ""

    @property
    def is_application(self) -> bool:
        """Return True for frames of the user's own code, not the interpreter or libraries."""
        lowered = self.file.replace("\\", "/").lower()
        # `<string>`, `<frozen importlib._bootstrap>`: generated or frozen code, not yours.
        if lowered.startswith("<"):
            return False
        return not any(part in lowered for part in _LIBRARY_PARTS)


_LIBRARY_PARTS = ("site-packages/", "dist-packages/", "/lib/python", "<frozen", "/usr/lib/")


class Event(msgspec.Struct, frozen=True):
    """What signatures match: one record, or several records joined (a traceback)."""

    records: tuple[LogRecord, ...]
    frames: tuple[Frame, ...] = ()
    exception_type: str = ""
    exception_message: str = ""
    unwrapped: str = ""
    # The final exception as Python prints it, when the log only named it (Django's debug-page
    # `Exception Type:`/`Exception Value:` summary); signatures see it after the messages.
    exception_line: str = ""

    @property
    def text(self) -> str:
        """Return the event's messages joined by newlines, or a hard-wrapped message joined back.

        `unwrapped`, when set, is the one message the records' lines were wrapped from.
        """
        if self.unwrapped:
            return self.unwrapped
        return "\n".join(record.message for record in self.records)

    @property
    def written_text(self) -> str:
        """Return the lines as the app wrote them, or "" when that is the same as `text`."""
        if self.unwrapped or not any(record.written for record in self.records):
            return ""
        return "\n".join(record.written or record.message for record in self.records)

    @property
    def matched_text(self) -> str:
        """Return what signatures match: the messages, then an exception the log only named."""
        text = self.text
        return f"{text}\n{self.exception_line}" if self.exception_line else text

    @property
    def truncated(self) -> bool:
        """Return True for a traceback whose exception line is missing (only its frames)."""
        return bool(self.frames) and not self.exception_type

    @property
    def first(self) -> LogRecord:
        """Return the event's first record."""
        return self.records[0]

    @property
    def source(self) -> str:
        """Return the source the event came from."""
        return self.records[0].source

    @property
    def instance(self) -> str:
        """Return the instance (dyno, pid, container) that logged the event."""
        return self.records[0].instance

    @property
    def time(self) -> datetime | None:
        """Return the log time of the event's first timed record, or None."""
        for record in self.records:
            if record.time is not None:
                return record.time
        return None

    @property
    def time_lent(self) -> str:
        """Return how the event's time was lent (`ABOUT`, `AFTER`), or "" for its own time."""
        return next((record.time_lent for record in self.records if record.time is not None), "")

    @property
    def when(self) -> datetime | None:
        """Return the log time if any, else the arrival time of the first record."""
        return self.time if self.time is not None else self.records[0].received_at

    @property
    def is_traceback(self) -> bool:
        """Return True when the event was assembled from a multi-line traceback."""
        return len(self.records) > 1
