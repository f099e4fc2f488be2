"""Reading one Python traceback: where it starts, its frames, and its chain of exceptions.

Tracebacks as Python prints them, with loguru's `> File` markers, rich's boxes and exception
groups, and as people paste them: without the header, glued to the logger line that announced
them, summarised by Django's debug page, cut at the terminal width or with their indentation
dropped by a log viewer; the assembler uses this to decide which records belong together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

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
    # Python's unraisable-exception hook (a __del__ that raised) heads the traceback it prints.
    "Exception ignored in",
)
# asyncio's handler logs "key: value" context lines between its header and the traceback.
ASYNCIO_HEADERS = (
    "Exception in callback",
    "Task exception was never retrieved",
    "Future exception was never retrieved",
)
CONTEXT_LINE = re.compile(r"[a-z_]{2,32}: ")
ERROR_LEVELS = frozenset({"ERROR", "CRITICAL"})
SQLALCHEMY_END = "(Background on this error at:"
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
BODY_STARTS = (" ", "\t", "> File ", "│", "╰")  # indented, loguru's marked frame, rich's box
# Neither a new traceback header nor a platform line (Render's `==> Exited with status 1`, GitHub
# Actions' `##[error]...`) continues an exception message.
TAIL_ENDS = (*HEADER_PREFIXES, "==> ", "##[")
# Django's debug page names the exception instead of printing its line: `Exception Type:
# OperationalError at /` (a tab after the colon in the page's own copy) and `Exception Value: ...`.
DJANGO_TYPE = "Exception Type:"
DJANGO_VALUE = "Exception Value:"
_DJANGO_TYPE = re.compile(r"Exception Type:\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?: at \S*)?\s*")
# The first frame of a traceback whose header the paster cut: `  File "x.py", line 3, in f`.
_HEADLESS = re.compile(r' {1,8}(?:> )?File "[^"]+", line \d+|> File "[^"]+", line \d+')
# A frame whose indentation a log viewer dropped (Heroku's dashboard): at column 0, and whole.
_FLAT = re.compile(r'File "[^"]+", line \d+, in \S')
# `systemctl status` and `less -S` cut journal lines at the terminal width, before the line number
# (`  File "/venv/lib/python3.6/site-packages/gunicorn/arbi`); `less` marks the cut with `>`,
# systemd's ellipsis with `…`. What is left after the path's closing quote starts `, line `.
_CUT_MARKS = "…> \t"
_LINE_PREFIX = ", line "
_PATH_HINTS = ("/", "\\", ".py")


def parse_exception(text: str) -> tuple[str, str] | None:
    """Return (type, message) if text is a column-0 exception line like `pkg.Error: message`."""
    match = _EXCEPTION.fullmatch(text.rstrip())
    if match is None:
        return None
    name = match.group(1)
    last = name.rpartition(".")[2]
    if not last[:1].isupper() and not (":" in text and "." in name):
        return None
    return name, match.group(2) or ""


def is_group_end(text: str) -> bool:
    """Return True for the `    +----` line that closes an exception group's sub-tracebacks."""
    return text.startswith(_GROUP_END) and set(text[4:].rstrip()) <= {"+", "-"}


def starts_traceback(text: str) -> bool:
    """Return True for the first line of a traceback (plain, exception group, or rich's box)."""
    return text.startswith(_TRACEBACK_STARTS) and (text[0] != "╭" or _RICH_TITLE in text)


def ends_with_header(text: str) -> bool:
    """Return True for a logger line with the traceback header glued onto its end."""
    return text.endswith((TRACEBACK, TRACEBACK + " ")) and not text.startswith(TRACEBACK)


def starts_frames(text: str) -> bool:
    """Return True for a frame line, the first line of a traceback whose header was cut."""
    first = text[:1]
    if first == "F":
        return is_flat_frame(text)
    if first not in (" ", ">"):
        return False
    return _HEADLESS.match(text) is not None or _cut_frame(text) is not None


def is_flat_frame(text: str) -> bool:
    """Return True for a whole frame line at column 0 (its indentation dropped by a viewer)."""
    return text.startswith('File "') and _FLAT.match(text) is not None


def is_marker_line(text: str) -> bool:
    """Return True for the `~~~^^^` line Python 3.11+ prints under a frame's source line."""
    stripped = text.strip()
    return bool(stripped) and set(stripped) <= _MARKERS


def _cut_frame(text: str) -> tuple[str, int, str] | None:
    """Read a frame line cut before its line number: (the path as far as it goes, 0, "")."""
    body = text.lstrip(" ")
    if not 1 <= len(text) - len(body) <= 8 or not body.startswith('File "'):
        return None
    path, quote, rest = body[6:].rstrip(_CUT_MARKS).partition('"')
    if quote and not _LINE_PREFIX.startswith(rest):
        return None
    if not path or not any(hint in path for hint in _PATH_HINTS):
        return None
    return path, 0, ""


def _frame_head(text: str) -> tuple[str, int, str] | None:
    """Read a frame line's (file, line, function); 0 and "" where a terminal cut them off."""
    match = _FRAME.match(text)
    if match is not None:
        return match.group(1), int(match.group(2)), match.group(3) or ""
    return _cut_frame(text)


def django_exception(text: str) -> str | None:
    """Return the exception type a Django debug summary line (`Exception Type: X at /`) names."""
    if not text.startswith(DJANGO_TYPE):
        return None
    match = _DJANGO_TYPE.fullmatch(text)
    return match.group(1) if match is not None else None


@dataclass(slots=True)
class _Exception:
    type: str
    lines: list[str]
    top_level: bool
    # Named by Django's summary: only its `Exception Value:` and the lines indented under it count.
    summary: bool = False


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
    frame: tuple[str, int, str] | None = None
    flat = False  # the pending frame sits at column 0: so may its source line
    for text in (line for record in records for line in record.message.split("\n")):
        if frame is not None:
            code = _source_line(text, flat=flat)
            scan.frames.append(Frame(*frame, code=code))
            frame = None
            if code and text[:1] not in (" ", "\t"):
                continue
        if text.startswith(CHAIN_LINES):
            in_tail, target = False, None
        elif in_tail:
            if target is not None and text and not text.isspace():
                if not target.summary:
                    target.lines.append(text)
                elif not _add_summary_line(target, text):
                    target = None
        elif starts_traceback(text) or ends_with_header(text):
            seen_traceback = True
        elif (named := django_exception(text)) is not None:
            target = _Exception(named, [], top_level=True, summary=True)
            scan.chain.append(target)
            scan.final, in_tail, seen_traceback = len(scan.chain) - 1, True, True
        elif not seen_traceback:
            if starts_frames(text):  # the paster cut the header: the frames are the traceback
                frame, seen_traceback, flat = _frame_head(text), True, text[:1] == "F"
        elif (frame := _frame_head(text)) is not None:
            flat = text[:1] == "F"
            continue
        elif text.startswith("│"):
            if (rich := _RICH_FRAME.match(text)) is not None:
                scan.frames.append(Frame(rich.group(1), int(rich.group(2)), rich.group(3)))
        elif text[:1] not in (" ", "\t"):
            found = parse_exception(text)
            if found is not None:
                target = _Exception(found[0], [found[1]], top_level=True)
                scan.chain.append(target)
                scan.final, in_tail = len(scan.chain) - 1, True
        elif is_group_end(text):
            in_tail = True
        else:
            _group_exception(text, scan)
    if frame is not None:
        scan.frames.append(Frame(*frame))
    scan.complete = in_tail
    return scan


def _add_summary_line(target: _Exception, text: str) -> bool:
    """Take the message of a Django summary; False at the page's next `Key: value` line."""
    if text.startswith(DJANGO_VALUE):
        target.lines = [text[len(DJANGO_VALUE) :].strip()]
        return True
    if target.lines and text[:1] in (" ", "\t"):
        target.lines.append(text.strip())
        return True
    return False


def _source_line(following: str, *, flat: bool) -> str:
    """Return `following` as the source line of the frame above it, or "" when it is none.

    Under a frame at column 0 the source line is at column 0 too; a frame, a traceback's own
    line or an exception line there is not one.
    """
    code = following.strip()
    if following[:1] not in (" ", "\t"):
        if not flat or not code or _frame_head(following) is not None:
            return ""
        if starts_traceback(following) or following.startswith(CHAIN_LINES):
            return ""
        return "" if parse_exception(following) or django_exception(following) else code
    if code.startswith("|"):
        code = code[1:].strip()
    if set(code) <= _MARKERS or _frame_head(following) is not None:
        return ""
    return code


def _group_exception(text: str, scan: _Scan) -> None:
    """Record an exception printed inside an exception group (`  | ValueError: 1`)."""
    stripped = text.lstrip(" ")
    if not stripped.startswith("| ") or stripped[2:3] in (" ", ""):
        return
    found = parse_exception(stripped[2:])
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
    exception_type = exception_message = named = ""
    if scan.complete and scan.final >= 0:
        final = scan.chain[scan.final]
        exception_type, exception_message = final.type, "\n".join(final.lines)
        if final.summary:
            named = f"{exception_type}: {exception_message}".rstrip()
    return Event(
        records, tuple(scan.frames), exception_type, exception_message, exception_line=named
    )
