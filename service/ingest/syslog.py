"""The syslog header layers: RFC 5424 (Heroku's logplex variant too) and RFC 3164 (BSD).

Each peeler takes the text and the `Header` being filled, and returns the rest of the line, or
None when the text is not that kind of header. Every pattern is applied with .match (anchored)
and has no nested repetition.
"""

from __future__ import annotations

import re

import regex

from service.ingest.layer import Header, heroku_identity
from service.ingest.timestamps import MONTHS, parse_timestamp

_SD_TIMEOUT = 0.25
_PRI = re.compile(r"<(\d{1,3})>")
_BSD = re.compile(
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]?\d) (\d\d):(\d\d):(\d\d) "
    r"(\S{1,255}) (?:([^\s\[\]:]{1,64})(?:\[([^\]\s]{0,32})\])?: ?)?"
)
# Papertrail's event viewer names a Heroku line's program `app/web.1` or `heroku/router`.
_PAPERTRAIL_PROGRAM = re.compile(r"(app|heroku)/([^\s/]{1,64})")
# Render's dashboard, copied: "Jul 15 10:02:14 AM  message" (12-hour clock, no host), sometimes
# with the instance's short id: "10:17:39 PM  [hh4tw] message".
_RENDER_CLOCK = re.compile(r"(\d\d?):(\d\d):(\d\d) ([AP]M) {1,2}(?:\[([a-z0-9]{5})\] )?")
_RENDER_DAY = re.compile(r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]?\d) ")
# RFC 5424 STRUCTURED-DATA: one or more [SD-ID *(SP PARAM="VALUE")], `\"`, `\\` and `\]` escaped.
_STRUCTURED_DATA = regex.compile(
    r'(?:\[[^\s=\]"]{1,32}(?: [^\s=\]"]{1,32}="(?:[^"\\]|\\.)*")*\])+ ?'
)


def syslog(text: str, header: Header) -> str | None:
    """Peel `<PRI>` and the RFC 5424 or RFC 3164 header after it."""
    match = _PRI.match(text)
    if match is None:
        return None
    rest = text[match.end() :]
    if rest.startswith("1 "):
        return _rfc5424(rest[2:], header)
    if rest[3:4] == " " and rest[:3] in MONTHS:
        return bsd(rest, header)
    return None


def _rfc5424(text: str, header: Header) -> str | None:
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
    nil_data = message == "-" or message.startswith("- ")
    if nil_data:  # STRUCTURED-DATA is "-": what follows is all message, `[DB_DOWN]` included
        message = message[2:]
    header.wrapped = True
    if host == "host" and app in ("app", "heroku"):
        # Heroku's logplex frames usually carry no STRUCTURED-DATA field at all, so a leading
        # "[...]" is the message (a gunicorn header), never structured data.
        stream, instance = heroku_identity(app, procid)
    else:
        stream = "app"
        instance = next((part for part in (procid, app, host) if part != "-"), "")
        message = message if nil_data else _strip_structured_data(message)
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


def bsd(text: str, header: Header) -> str | None:
    """Peel an RFC 3164 header (`Oct 11 22:14:15 host tag[pid]: `), with or without `<PRI>`."""
    match = _BSD.match(text)
    if match is None:
        return None
    if match.group(6) in ("AM", "PM"):
        return render_copy(text, header)
    host, tag, pid = match.group(6, 7, 8)
    rest = text[match.end() :]
    if tag is None and host.endswith(":"):  # no host: "Feb 14 07:33:02 app/web.1:  message"
        tag, rest = host[:-1], rest.removeprefix(" ")
    month, day, hour, minute, second = match.group(1, 2, 3, 4, 5)
    time = header.year_less(month, day, (hour, minute, second))
    program = _PAPERTRAIL_PROGRAM.fullmatch(tag) if tag and not pid else None
    if program is not None:
        stream, instance = heroku_identity(program.group(1), program.group(2))
        header.place(time, instance, stream)
    else:
        header.place(time, pid or tag or "")
    header.wrapped = True
    return rest


def render_copy(text: str, header: Header) -> str | None:
    """Peel a line copied from Render's dashboard: `[Jul 15 ]10:02:14 AM  [abcde] message`."""
    day = _RENDER_DAY.match(text)
    start = day.end() if day is not None else 0
    match = _RENDER_CLOCK.match(text, start)
    if match is None:
        return None
    hour, minute, second, noon, instance = match.group(1, 2, 3, 4, 5)
    time = None
    if day is not None and int(hour) <= 12:
        hours = int(hour) % 12 + (12 if noon == "PM" else 0)
        clock = (str(hours), minute, second)
        time = header.year_less(day.group(1), day.group(2), clock)
    header.place(time, instance or "")
    header.wrapped = True
    return text[match.end() :]
