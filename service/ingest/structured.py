"""JSON log lines: where structlog, python-json-logger, loguru, Docker, Cloud Logging and ECS keep
the message, the traceback, the time and the level, read into one `JsonRecord`.

Pure: the text in, a record or None out. Headers decide what to do with it (`headers._json`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.ingest.timestamps import epoch_time, field_time

MESSAGE_KEYS = ("message", "msg", "event", "log", "text", "line")
TIME_KEYS = ("timestamp", "@timestamp", "time", "date", "ts", "asctime")
LEVEL_KEYS = ("level", "levelname", "severity", "log.level", "lvl")
EXCEPTION_KEYS = (
    *("exception", "exc_info", "exc_text", "stack_trace", "stacktrace", "traceback"),
    *("error.stack", "error.stack_trace"),
)
_NESTED_STACK_KEYS = ("stack_trace", "stack", "traceback")
# Docker's json-file and fluentd wrap one raw line in "log"; loguru's "text" is the rendered line:
# their other fields are the wrapper's, not the app's.
_ENVELOPE_KEYS = ("log", "text")
# Where the record came from rather than what it says.
_METADATA_KEYS = frozenset(
    (
        *(*TIME_KEYS, *LEVEL_KEYS, "stream", "logger", "logger_name", "name", "module"),
        *("funcName", "filename", "pathname", "lineno", "process", "processName", "thread"),
        *("threadName", "taskName", "pid", "hostname", "host", "@version", "ecs.version"),
    )
)
_METADATA_PREFIXES = ("logging.googleapis.com/", "log.", "dd.")
_NEEDS_QUOTES = re.compile(r'[\s"=]')
_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"


@dataclass(frozen=True, slots=True)
class JsonRecord:
    """What a JSON log line says: its text (message, then traceback), time and level word."""

    text: str
    time: datetime | None
    level: str


def read_json_record(line: str) -> JsonRecord | None:
    """Read a JSON object log line; None when it is not JSON or has no message or traceback.

    An object with neither (an HTTP error body such as `{"detail": ...}`) is not a log record.
    The record's other fields follow the message as `key=value`, as structlog's console prints
    them, so that `error="server closed the connection unexpectedly"` is still there to match.
    """
    if not line.rstrip().endswith("}"):
        return None
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    key = next((k for k in MESSAGE_KEYS if isinstance(data.get(k), str)), None)
    exception_key, exception = _exception(data)
    if key is None and not exception:
        return None
    text = data[key].rstrip() if key else ""  # Docker's "log" keeps the line's newline
    if key not in _ENVELOPE_KEYS:
        text = " ".join(filter(None, (text, _extra_fields(data, {key, exception_key}))))
    if exception and exception.strip() not in text:
        text = f"{text}\n{exception}" if text else exception
    level = next((v for k in LEVEL_KEYS if isinstance(v := data.get(k), str)), "")
    return JsonRecord(text, record_time(data), level.strip().upper())


def _extra_fields(data: dict[str, Any], used: set[str | None]) -> str:
    """Render the fields that are neither the message, its metadata nor its traceback."""
    parts: list[str] = []
    for key, value in data.items():
        if value is None or key in used or key in _METADATA_KEYS:
            continue
        if key.startswith(_METADATA_PREFIXES):
            continue
        if isinstance(value, str):
            quoted = not value or _NEEDS_QUOTES.search(value)
            text = json.dumps(value, ensure_ascii=False) if quoted else value
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float):
            text = str(value)
        else:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        parts.append(f"{key}={text}")
    return " ".join(parts)


def record_time(record: dict[str, Any]) -> datetime | None:
    """Return the time of a JSON log record: its first time field that reads as a time."""
    for key in TIME_KEYS:
        value = record.get(key)
        if isinstance(value, str):
            time = field_time(value.strip())
        elif isinstance(value, int | float) and not isinstance(value, bool):
            try:
                seconds = float(value)
            except OverflowError:  # an integer of hundreds of digits
                continue
            time = epoch_time(seconds)
        else:
            continue
        if time is not None:
            return time
    return None


def record_exception(record: dict[str, Any]) -> str:
    """Return the traceback a JSON log record holds, as text ("" when it holds none)."""
    return _exception(record)[1]


def _exception(data: dict[str, Any]) -> tuple[str | None, str]:
    """Return the field that holds the line's traceback and the traceback as text."""
    for key in EXCEPTION_KEYS:
        value = data.get(key)
        if isinstance(value, dict):  # {"exception": {"type": ..., "stack_trace": ...}}
            value = _nested_stack(value)
        if isinstance(value, list) and value:
            return key, render_stacks(value)
        if isinstance(value, str) and value.strip():
            return key, value.rstrip()
    error = data.get("error")  # ECS and Datadog: error.stack_trace, error.stack
    stack = _nested_stack(error).rstrip() if isinstance(error, dict) else ""
    return ("error", stack) if stack else (None, "")


def _nested_stack(value: dict[str, Any]) -> str:
    return next((v for k in _NESTED_STACK_KEYS if isinstance(v := value.get(k), str)), "")


def render_stacks(stacks: list[Any]) -> str:
    """Print structlog's `dict_tracebacks` as Python prints the chain: the root cause first.

    structlog lists the raised exception first and its causes after it; each cause says whether
    it was the direct cause (`raise ... from`) or the exception being handled.
    """
    parts: list[str] = []
    joint = ""
    for stack in reversed(stacks):
        if not isinstance(stack, dict):
            return ""
        lines = ["Traceback (most recent call last):"]
        for frame in stack.get("frames") or ():
            if isinstance(frame, dict):
                name, line = frame.get("name"), frame.get("lineno")
                lines.append(f'  File "{frame.get("filename")}", line {line}, in {name}')
        kind, value = stack.get("exc_type"), stack.get("exc_value")
        lines.append(f"{kind}: {value}" if value else str(kind))
        if parts:
            parts.append(joint)
        parts.append("\n".join(lines))
        joint = _CAUSE if stack.get("is_cause") else _CONTEXT
    return "\n\n".join(parts)
