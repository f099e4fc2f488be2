"""Recognise and strip the headers that platforms and frameworks put before a log message.

A line may carry layers (syslog envelope, Heroku tag, a JSON object, gunicorn header); each is
peeled in turn. The outermost layer's time, instance and stream win (the platform's clock); the
innermost level wins. A JSON log line (only a line starting with `{` is tried) gives its message
with the traceback of its exception field appended, and that message is peeled in turn: Docker's
json-file driver wraps the app's own header.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence
from datetime import datetime

from service.ingest import timestamps
from service.ingest.common_layers import app_layer, platform_layers
from service.ingest.layer import Header, heroku_identity
from service.ingest.levels import LEVEL_COLUMN, LEVELS, PYTHON_LEVELS, UVICORN_COLUMN, unpad
from service.ingest.logfmt import STARTS as LOGFMT_STARTS
from service.ingest.logfmt import logfmt
from service.ingest.normalise import (
    clean_lines,
    normalise_line,
    normalise_message,
    normalised_lines,
)
from service.ingest.records import LogRecord
from service.ingest.redact import lines_to_redact, redact, redact_key_blocks
from service.ingest.structured import read_json_record
from service.ingest.syslog import bsd, render_copy, syslog
from service.ingest.timestamps import ISO, MONTHS, SLASHED, iso_time, parse_timestamp

__all__ = ["LEVELS", "parse_line", "parse_lines", "parse_text", "parse_timestamp", "split_lines"]

_MAX_LAYERS = 6
# Every pattern below is applied with .match (anchored) and has no nested repetition.
_HEROKU_TAG = re.compile(r"(app|heroku)\[([^\]\s]{1,64})\]: ?")
_COMPOSE = re.compile(r"([A-Za-z0-9][\w.-]{0,63}) +\| ?")
_INSTANCE_ID = re.compile(r"[a-z][a-z0-9]{1,9}-[a-z0-9][a-z0-9-]{7,80}(?= )")
_FLASK = re.compile(r"([A-Z]{3,8}) in [\w.]{1,128}: ")
# After an ISO time: journalctl -o short-iso "host tag[pid]: ", Fly.io "app[machine] region [info]"
# (no space before the message), containerd/CRI-O log files "stderr F ".
_SYSLOG_TAG = re.compile(r"[^\s\[\]]{1,255} [^\s\[\]:]{1,64}\[(\d{1,10})\]: ?")
_FLY = re.compile(r"(app|proxy|runner|health)\[([0-9a-f]{6,32})\] [a-z]{3} \[\w{1,10}\]")
_CRI = re.compile(r"(?:stdout|stderr) [FP] ")
# A syslog tag with no time or host before it, as journalctl -o cat or a paste trims it.
_BARE_TAG = re.compile(r"[a-z][\w.-]{0,63}\[(\d{1,10})\]: ?")
# A markdown quote of a pasted log: "> line", and ">" alone for a blank line inside it.
_QUOTE = ("> ", ">\t")
_LOGURU_FRAME = '> File "'  # loguru marks the frame that raised; that is no quote
# A markdown code fence glued onto the first line of a pasted log ("```2021-03-16T22:51:00 ...").
# Not a language tag ("```python"): only when a header, a digit or a capital follows.
_FENCE = "```"
_FLY_SOURCES = ("app[", "proxy[", "runner[", "health[")


def parse_line(
    line: str,
    *,
    source: str,
    received_at: datetime | None = None,
    seq: int = 0,
    reference: datetime | None = None,
) -> LogRecord:
    """Split one normalised line into its header fields and its message (see `Header`)."""
    if line[:1] in (" ", "\t"):  # a traceback's frames and source lines: no header to look for
        return LogRecord(message=line, source=source, received_at=received_at, seq=seq)
    if line.startswith(_FENCE) and _fence_glued(line[3:4]):
        line = line[3:]
    header = Header(received_at, reference)
    text = written = line
    platform = platform_layers(line, header)  # the commonest layers, in one match each
    if platform is not None:
        text = written = platform
    app = app_layer(text, header)
    if app is not None:
        text = app
    while not header.done and header.layers < _MAX_LAYERS:
        rest = _peel(text, header)
        if rest is None:
            break
        text = rest
        header.layers += 1
        if header.wrapped:  # the platform's wrapping: what is left is the line as written
            written, header.wrapped = text, False
    if header.time is None and "0" <= line[:1] <= "9":  # an access line's time; text kept
        header.time = timestamps.clf_time(line)
    return LogRecord(
        message=text,
        source=source,
        time=header.time,
        received_at=received_at,
        instance=header.instance,
        stream=header.stream or "app",
        level=header.level or header.json_level,
        headed=header.layers > 0,
        seq=seq,
        written=written if written != text else "",
    )


def parse_text(
    text: str,
    *,
    source: str,
    received_at: datetime | None = None,
    start_seq: int = 0,
    max_line_bytes: int = 65536,
    reference: datetime | None = None,
) -> list[LogRecord]:
    """Split text into lines and return one normalised, redacted, parsed record per line.

    A wrapped line comes back as one record (`normalised_lines`); see `Header` for `reference`.
    """
    lines = split_lines(text, max_line_bytes=max_line_bytes)
    return parse_lines(
        lines,
        lines_to_redact(lines),
        source=source,
        received_at=received_at,
        start_seq=start_seq,
        reference=reference,
    )


def split_lines(text: str, *, max_line_bytes: int = 65536) -> list[str]:
    """Return the normalised lines of text, a hard-wrapped line joined back, for `parse_lines`."""
    if "\n" not in text and "\r" not in text:  # one line (a logplex frame): nothing to join
        line = normalise_line(text.removeprefix("\ufeff"), max_bytes=max_line_bytes)
        return [line] if line else []
    lines = clean_lines(text, max_bytes=max_line_bytes, headed=_is_headed)
    if lines is None:
        lines = list(normalised_lines(text, max_bytes=max_line_bytes, headed=_is_headed))
    return lines


def parse_lines(
    lines: Sequence[str],
    secret: Container[int],
    *,
    first: int = 0,
    source: str,
    received_at: datetime | None = None,
    start_seq: int = 0,
    reference: datetime | None = None,
) -> list[LogRecord]:
    """Return one redacted, parsed record per normalised line (blank ones give none).

    Lines are numbered from `first`; those whose number is in `secret` (`lines_to_redact`, asked
    once for a whole batch) go through `redact`, which would leave every other line unchanged.
    """
    records: list[LogRecord] = []
    seq = start_seq
    for index, normalised in enumerate(lines, first):
        line = redact(normalised) if index in secret else normalised
        if not line or line.isspace():
            continue
        record = parse_line(
            line, source=source, received_at=received_at, seq=seq, reference=reference
        )
        if record.time and (reference or received_at or not timestamps.starts_year_less(line)):
            reference = record.time  # not an app's own time a year-less header could not date
        records.append(record)
        seq += 1
    return redact_key_blocks(records)


def _fence_glued(first: str) -> bool:
    """Tell whether the character after a code fence starts the log line glued onto it."""
    return first.isdigit() or first in ("[", "<", "{") or ("A" <= first <= "Z")


def _is_headed(line: str) -> bool:
    return parse_line(line, source="").headed


def _peel(text: str, header: Header) -> str | None:
    """Strip one header layer into `header` and return the rest, or None if there is none."""
    first = text[:1]
    if first == "<":
        return syslog(text, header)
    if first == "[":
        return _bracketed(text, header)
    if "0" <= first <= "9":
        if text[2:3] == ":" or text[1:2] == ":":
            return render_copy(text, header)
        return _timestamped(text, header)
    if "A" <= first <= "Z":
        return _capitalised(text, header)
    if "a" <= first <= "z":
        if text.startswith(LOGFMT_STARTS) and (rest := logfmt(text, header, LEVELS)) is not None:
            return rest
        if text.startswith(("app[", "heroku[")):
            return _heroku_tag(text, header)
        if text.find("]: ", 1, 80) > 0 and (match := _BARE_TAG.match(text)) is not None:
            header.place(None, match.group(1))
            header.wrapped = True
            return text[match.end() :]
        return _compose(text, header)
    if first == "{":
        return _json(text, header)
    if first == ">" and (text == ">" or text.startswith(_QUOTE)):
        if text.startswith(_LOGURU_FRAME):
            return None
        header.wrapped = True
        return text[2:]
    return None


def _one_space(text: str) -> str:
    """Drop the single separator after a header, keeping any indentation of the message."""
    return text[1:] if text[:1] in (" ", "\t") else text


def _heroku_tag(text: str, header: Header) -> str | None:
    match = _HEROKU_TAG.match(text)
    if match is None:
        return None
    stream, instance = heroku_identity(match.group(1), match.group(2))
    header.place(None, instance, stream)
    header.wrapped = True
    return text[match.end() :]


def _compose(text: str, header: Header) -> str | None:
    match = _COMPOSE.match(text)
    if match is None or match.group(1).upper() in LEVELS:
        return None
    header.place(None, match.group(1))
    header.wrapped = True
    return text[match.end() :]


def _capitalised(text: str, header: Header) -> str | None:
    if text[3:4] == " " and text[:3] in MONTHS:
        return bsd(text, header)
    colon = text.find(":", 1, 10)
    level = text[:colon] if colon > 0 else ""
    if level not in PYTHON_LEVELS:  # not "FATAL:  ..." (PostgreSQL) nor "Error: ..."
        space = text.find(" ", 3, 9)
        if space > 0 and text[:space] in LEVELS and text[space:].lstrip(" ")[:1] == "[":
            return _leading_level(text, header)  # alembic: "INFO  [alembic.runtime] message"
        return _compose(text, header)
    header.level, header.done = LEVELS[level], True
    after = text[colon + 1 :]
    if not after or after[0] == " ":
        return unpad(after, colon + 1, UVICORN_COLUMN)  # uvicorn pads "INFO:" to a fixed width
    logger_end = after.find(":")
    if logger_end > 0 and " " not in after[:logger_end]:
        return after[logger_end + 1 :]  # logging.basicConfig: LEVEL:logger:message
    return after


def _bracketed(text: str, header: Header) -> str | None:
    close = text.find("]", 1, 64)
    if close < 0:
        return None
    inner = text[1:close]
    rest = _one_space(text[close + 1 :])
    time = parse_timestamp(inner)
    if time is None:
        level = LEVELS.get(inner.strip().upper())
        if level is None:
            return _celery(inner, rest, header)
        header.level = level
        return rest
    header.place(time)
    header.done = True
    while not header.level and rest.startswith("["):  # gunicorn: [pid] [LEVEL]
        end = rest.find("]", 1, 40)
        token = rest[1:end] if end > 0 else ""
        if token.isdigit():
            # Under a platform's prefix the traceback lines after this header carry no pid, so
            # the pid would only tell the header from its own traceback.
            if header.layers == 0:
                header.place(None, token)
        elif token.strip().upper() in LEVELS:
            header.level = LEVELS[token.strip().upper()]
        else:
            break
        rest = _one_space(rest[end + 1 :])
    if header.level:
        return rest
    flask = _FLASK.match(rest)  # "[time] ERROR in module: message"
    if flask is not None and flask.group(1) in LEVELS:
        header.level = LEVELS[flask.group(1)]
        return rest[flask.end() :]
    return _leading_level(rest, header)


def _celery(inner: str, rest: str, header: Header) -> str | None:
    """Take celery's "[2025-09-19 12:43:14,552: ERROR/ForkPoolWorker-2] message"."""
    stamp, _, origin = inner.partition(": ")
    level, _, process = origin.partition("/")
    time = parse_timestamp(stamp) if stamp[:1].isdigit() else None
    if time is None or level not in LEVELS:
        return None
    header.place(time, process if header.layers == 0 else "")
    header.level, header.done = LEVELS[level], True
    return rest


def _timestamped(text: str, header: Header) -> str | None:
    if len(text) < 19 or text[13] != ":" or text[4] not in ("-", "/"):
        return None
    match = (ISO if text[4] == "-" else SLASHED).match(text)
    if match is None:
        return None
    if header.time is None:  # an app's own time under a platform's is stripped, not parsed
        header.time = iso_time(match)
        if header.time is None:
            return None
    rest = _one_space(text[match.end() :])
    first = rest[:1]
    if first == "|":
        return _loguru(rest, header)
    if first == "-" and rest[1:2] == " ":
        return _dashed(rest, header)
    if first == "[":
        close = rest.find("]", 1, 16)
        level = LEVELS.get(rest[1:close].strip().upper()) if close > 0 else None
        if level is not None:  # structlog "[error    ]" or "[ERROR]"
            header.level, header.done = level, True
            return _one_space(rest[close + 1 :])
        return rest
    return _platform_prefix(rest, header)


def _platform_prefix(rest: str, header: Header) -> str:
    """Take what platforms print after an ISO time: an instance, a syslog tag, a stream."""
    if not "a" <= rest[:1] <= "z":  # all of them start with a lower-case name
        return _leading_level(rest, header)
    # Literal checks first: most lines have none of these, and a failed regex costs more.
    if rest.find("]: ", 0, 330) > 0 and (match := _SYSLOG_TAG.match(rest)) is not None:
        header.place(None, match.group(1))
        header.wrapped = True
        return rest[match.end() :]
    if rest.startswith(_FLY_SOURCES) and (match := _FLY.match(rest)) is not None:
        header.place(None, match.group(2), "app" if match.group(1) == "app" else "platform")
        header.wrapped = True
        return rest[match.end() :]
    if rest.startswith(("stdout ", "stderr ")) and (match := _CRI.match(rest)) is not None:
        header.wrapped = True
        return rest[match.end() :]
    instance = _INSTANCE_ID.match(rest)
    if instance is not None and any(c.isdigit() for c in instance.group()):
        header.place(None, instance.group())
        header.wrapped = True
        return rest[instance.end() + 1 :]
    return _leading_level(rest, header)


def _leading_level(rest: str, header: Header) -> str:
    """Take a leading upper-case level word ("ERROR [app.main] msg", "ERROR msg") if present."""
    space = rest.find(" ", 3, 10)
    level = LEVELS.get(rest[:space]) if space > 0 else None
    if level is None:
        return rest
    header.level, header.done = level, True
    rest = unpad(rest[space:], space, LEVEL_COLUMN)
    if rest.startswith("["):
        end = rest.find("] ", 1, 128)
        if end > 0 and _is_logger_name(rest[1:end]):
            return rest[end + 2 :]
    return rest


def _is_logger_name(token: str) -> bool:
    """Tell a logger name (`app.main`, `alembic.runtime`) from a tag the message starts with.

    An upper-case tag such as `[DB_DOWN]`, `[AUTH]` or `[LEAD_SYNC]` is the message's own text,
    which signatures match on; only a logger name is header.
    """
    return " " not in token and token != token.upper()


def _dashed(rest: str, header: Header) -> str:
    """Take "- logger - LEVEL - message" or "- LEVEL - message" (logging's common formats)."""
    fields = rest[2:].split(" - ", 3)
    for index, field in enumerate(fields[:3]):
        level = LEVELS.get(field.strip())
        if level is not None:
            header.level, header.done = level, True
            return " - ".join(fields[index + 1 :])
        if " " in field:
            break
    return rest


def _loguru(rest: str, header: Header) -> str:
    """Take loguru's "| LEVEL    | module:function:line - message"."""
    fields = rest[1:].split("|", 1)
    level = LEVELS.get(fields[0].strip().upper())
    if level is None or len(fields) < 2:
        return rest
    header.level, header.done = level, True
    message = _one_space(fields[1])
    origin = message.find(" - ")
    if origin > 0 and " " not in message[:origin]:
        return message[origin + 3 :]
    return message


def _json(text: str, header: Header) -> str | None:
    """Take a JSON log line: its message, with the traceback of its exception field appended."""
    record = read_json_record(text)
    if record is None:
        return None
    header.place(record.time)
    header.json_level = header.json_level or LEVELS.get(record.level, "")
    header.wrapped = True
    # The raw line was redacted with its escapes; the decoded text is checked once more.
    return redact(normalise_message(record.text))
