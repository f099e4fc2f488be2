"""Recognise and strip the headers that platforms and frameworks put before a log message.

A line may carry layers (syslog envelope, Heroku tag, gunicorn header); each is peeled in turn. The
outermost layer's time, instance and stream win (the platform's clock); the innermost level wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import regex

from service.ingest.normalise import normalise_line
from service.ingest.records import LogRecord
from service.ingest.redact import redact

# Level words as frameworks print them, mapped to Python's canonical names.
LEVELS: dict[str, str] = {
    **dict.fromkeys(("TRACE", "DEBUG"), "DEBUG"),
    **dict.fromkeys(("INFO", "NOTICE", "SUCCESS"), "INFO"),
    **dict.fromkeys(("WARN", "WARNING"), "WARNING"),
    **dict.fromkeys(("ERR", "ERROR"), "ERROR"),
    **dict.fromkeys(("CRIT", "CRITICAL", "FATAL"), "CRITICAL"),
}
# uvicorn's "LEVEL:     message" and logging.basicConfig's "LEVEL:logger:message" use these.
_PYTHON_LEVELS = frozenset({"TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})
MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_MAX_LAYERS = 6
_SD_TIMEOUT = 0.25

# Every pattern below is applied with .match (anchored) and has no nested repetition.
_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?"
    r"(?: ?(Z|z|UTC|GMT|[+-]\d\d(?::?\d\d)?))?(?=[\s\]|]|$)"
)
_PRI = re.compile(r"<(\d{1,3})>")
_BSD = re.compile(
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]?\d) (\d\d):(\d\d):(\d\d) "
    r"(\S{1,255}) (?:([^\s\[\]:]{1,64})(?:\[([^\]\s]{0,32})\])?: ?)?"
)
_HEROKU_TAG = re.compile(r"(app|heroku)\[([^\]\s]{1,64})\]: ?")
_COMPOSE = re.compile(r"([A-Za-z0-9][\w.-]{0,63}) +\| ?")
_INSTANCE_ID = re.compile(r"[a-z][a-z0-9]{1,9}-[a-z0-9][a-z0-9-]{7,80}(?= )")
_FLASK = re.compile(r"([A-Z]{3,8}) in [\w.]{1,128}: ")
# RFC 5424 STRUCTURED-DATA: one or more [SD-ID *(SP PARAM="VALUE")], `\"`, `\\` and `\]` escaped.
_STRUCTURED_DATA = regex.compile(
    r'(?:\[[^\s=\]"]{1,32}(?: [^\s=\]"]{1,32}="(?:[^"\\]|\\.)*")*\])+ ?'
)
_ZONES: dict[str, timezone] = {}
_SECONDS: dict[str, datetime | None] = {}


@dataclass(slots=True)
class _Header:
    received_at: datetime | None
    time: datetime | None = None
    instance: str = ""
    stream: str = ""
    level: str = ""
    done: bool = False

    def place(self, time: datetime | None, instance: str = "", stream: str = "") -> None:
        if self.time is None:
            self.time = time
        if not self.instance:
            self.instance = instance
        if not self.stream:
            self.stream = stream


def parse_timestamp(text: str) -> datetime | None:
    """Parse a whole ISO 8601 / RFC 3339 timestamp as a UTC datetime (no zone means UTC)."""
    match = _ISO.match(text)
    if match is None or match.end() != len(text):
        return None
    return _time(match)


def parse_line(
    line: str, *, source: str, received_at: datetime | None = None, seq: int = 0
) -> LogRecord:
    """Split one normalised line into its header fields and its message."""
    header = _Header(received_at)
    text = line
    headed = False
    for _ in range(_MAX_LAYERS):
        rest = _peel(text, header)
        if rest is None:
            break
        text, headed = rest, True
        if header.done:
            break
    return LogRecord(
        message=text,
        source=source,
        time=header.time,
        received_at=received_at,
        instance=header.instance,
        stream=header.stream or "app",
        level=header.level,
        headed=headed,
        seq=seq,
    )


def parse_text(
    text: str,
    *,
    source: str,
    received_at: datetime | None = None,
    start_seq: int = 0,
    max_line_bytes: int = 65536,
) -> list[LogRecord]:
    """Split text into lines and return one normalised, redacted, parsed record per line."""
    text = text.removeprefix("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    records: list[LogRecord] = []
    seq = start_seq
    for raw in text.split("\n"):
        if not raw:
            continue
        line = redact(normalise_line(raw, max_bytes=max_line_bytes))
        if not line or line.isspace():
            continue
        records.append(parse_line(line, source=source, received_at=received_at, seq=seq))
        seq += 1
    return records


def _peel(text: str, header: _Header) -> str | None:
    """Strip one header layer into `header` and return the rest, or None if there is none."""
    first = text[:1]
    if first == "<":
        return _syslog(text, header)
    if first == "[":
        return _bracketed(text, header)
    if "0" <= first <= "9":
        return _timestamped(text, header)
    if "A" <= first <= "Z":
        return _capitalised(text, header)
    if "a" <= first <= "z":
        if text.startswith(("app[", "heroku[")):
            return _heroku_tag(text, header)
        return _compose(text, header)
    return None


def _one_space(text: str) -> str:
    """Drop the single separator after a header, keeping any indentation of the message."""
    return text[1:] if text[:1] in (" ", "\t") else text


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


def _time(match: re.Match[str]) -> datetime | None:
    fraction, zone = match.group(7, 8)
    # Lines of one burst share their second: memoise that part, add the fraction afterwards.
    key = match.string[match.start() : match.start() + 19] + (zone or "")
    if key in _SECONDS:
        stamp = _SECONDS[key]
    else:
        if len(_SECONDS) >= 4096:
            _SECONDS.clear()
        stamp = _SECONDS[key] = _whole_seconds(match)
    if stamp is None or not fraction:
        return stamp
    return stamp.replace(microsecond=int((fraction + "00000")[:6]))


def _whole_seconds(match: re.Match[str]) -> datetime | None:
    year, month, day, hour, minute, second, _fraction, zone = match.groups()
    try:
        stamp = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), 0, _zone(zone)
        )
    except ValueError:
        return None
    return stamp if stamp.tzinfo is UTC else stamp.astimezone(UTC)


def _bsd_time(match: re.Match[str], reference: datetime | None) -> datetime | None:
    """Date a year-less syslog time by `reference`; without one the time is unknown (None).

    A date over a day after the reference belongs to the year before (December read in January).
    """
    if reference is None:
        return None
    month, day, hour, minute, second = match.group(1, 2, 3, 4, 5)
    for year in (reference.year, reference.year - 1):
        try:
            stamp = datetime(
                year, MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=UTC
            )
        except ValueError:
            continue
        if stamp - reference <= timedelta(days=1):
            return stamp
    return None


def _heroku_identity(app: str, dyno: str) -> tuple[str, str]:
    """Map a Heroku source/dyno pair to (stream, instance).

    `heroku[router]` is the router; other `heroku[...]` lines and `app[api]` (releases, config) are
    the platform talking about the app; everything else under `app[...]` is the app itself.
    """
    if app == "heroku":
        return ("router" if dyno == "router" else "platform"), dyno
    return ("platform" if dyno == "api" else "app"), dyno


def _heroku_tag(text: str, header: _Header) -> str | None:
    match = _HEROKU_TAG.match(text)
    if match is None:
        return None
    stream, instance = _heroku_identity(match.group(1), match.group(2))
    header.place(None, instance, stream)
    return text[match.end() :]


def _compose(text: str, header: _Header) -> str | None:
    match = _COMPOSE.match(text)
    if match is None or match.group(1).upper() in LEVELS:
        return None
    header.place(None, match.group(1))
    return text[match.end() :]


def _syslog(text: str, header: _Header) -> str | None:
    match = _PRI.match(text)
    if match is None:
        return None
    rest = text[match.end() :]
    if rest.startswith("1 "):
        return _rfc5424(rest[2:], header)
    if rest[3:4] == " " and rest[:3] in MONTHS:
        return _bsd(rest, header)
    return None


def _rfc5424(text: str, header: _Header) -> str | None:
    parts = text.split(" ", 5)
    if len(parts) < 5:
        return None
    stamp, host, app, procid, _msgid = parts[:5]
    message = parts[5] if len(parts) == 6 else ""
    time = None
    if stamp != "-":
        time = parse_timestamp(stamp)
        if time is None:
            return None
    if message == "-" or message.startswith("- "):
        message = message[2:]
    if host == "host" and app in ("app", "heroku"):
        # Heroku's logplex frames usually carry no STRUCTURED-DATA field at all, so a leading
        # "[...]" is the message (a gunicorn header), never structured data.
        stream, instance = _heroku_identity(app, procid)
    else:
        stream = "app"
        instance = next((part for part in (procid, app, host) if part != "-"), "")
        message = _strip_structured_data(message)
    header.place(time, instance, stream)
    return message.removeprefix("\ufeff")


def _strip_structured_data(message: str) -> str:
    if message.startswith("["):
        try:
            match = _STRUCTURED_DATA.match(message, timeout=_SD_TIMEOUT)
        except TimeoutError:
            return message
        if match is not None:
            return message[match.end() :]
    return message


def _bsd(text: str, header: _Header) -> str | None:
    match = _BSD.match(text)
    if match is None:
        return None
    tag, pid = match.group(7, 8)
    header.place(_bsd_time(match, header.received_at), pid or tag or "")
    return text[match.end() :]


def _capitalised(text: str, header: _Header) -> str | None:
    if text[3:4] == " " and text[:3] in MONTHS:
        return _bsd(text, header)
    colon = text.find(":", 1, 10)
    level = text[:colon] if colon > 0 else ""
    if level not in _PYTHON_LEVELS:  # not "FATAL:  ..." (PostgreSQL) nor "Error: ..."
        return _compose(text, header)
    header.level, header.done = LEVELS[level], True
    after = text[colon + 1 :]
    if not after or after[0] == " ":
        return after.lstrip(" ")  # uvicorn pads "INFO:" to a fixed width
    logger_end = after.find(":")
    if logger_end > 0 and " " not in after[:logger_end]:
        return after[logger_end + 1 :]  # logging.basicConfig: LEVEL:logger:message
    return after


def _bracketed(text: str, header: _Header) -> str | None:
    close = text.find("]", 1, 64)
    if close < 0:
        return None
    inner = text[1:close]
    rest = _one_space(text[close + 1 :])
    time = parse_timestamp(inner)
    if time is None:
        level = LEVELS.get(inner.strip().upper())
        if level is None:
            return None
        header.level = level
        return rest
    header.place(time)
    header.done = True
    while not header.level and rest.startswith("["):  # gunicorn: [pid] [LEVEL]
        end = rest.find("]", 1, 40)
        token = rest[1:end] if end > 0 else ""
        if token.isdigit():
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


def _timestamped(text: str, header: _Header) -> str | None:
    if len(text) < 19 or text[4] != "-" or text[13] != ":":
        return None
    match = _ISO.match(text)
    if match is None:
        return None
    if header.time is None:  # an app's own time under a platform's is stripped, not parsed
        header.time = _time(match)
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
    instance = _INSTANCE_ID.match(rest)
    if instance is not None and any(c.isdigit() for c in instance.group()):
        header.place(None, instance.group())
        return rest[instance.end() + 1 :]
    return _leading_level(rest, header)


def _leading_level(rest: str, header: _Header) -> str:
    """Take a leading upper-case level word ("ERROR [app.main] msg", "ERROR msg") if present."""
    space = rest.find(" ", 3, 10)
    level = LEVELS.get(rest[:space]) if space > 0 else None
    if level is None:
        return rest
    header.level, header.done = level, True
    rest = rest[space:].lstrip(" ")
    if rest.startswith("["):
        end = rest.find("] ", 1, 128)
        if end > 0 and " " not in rest[1:end]:
            return rest[end + 2 :]
    return rest


def _dashed(rest: str, header: _Header) -> str:
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


def _loguru(rest: str, header: _Header) -> str:
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
