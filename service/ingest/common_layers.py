"""The commonest header layers, each read in one match, as the general peelers would read them.

Most traffic carries one of a few prefixes on every line: Heroku's logplex frame
(`<190>1 TIME host app web.1 - `) or its text-drain prefix (`TIME app[web.1]: `) outside, and
Python logging's `TIME - logger - LEVEL - ` or uvicorn's `LEVEL:     ` inside. The general peelers
(`service.ingest.headers`) try each kind of layer in turn; these take such a layer at once and
leave the `Header` exactly as the general ones would (a property test compares the two over every
corpus line). Anything they do not recognise, or are not sure of, they leave to the general ones.
Every pattern is applied with .match (anchored) and has no nested repetition.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from service.ingest.layer import Header, heroku_identity
from service.ingest.levels import LEVELS, PYTHON_LEVELS, UVICORN_COLUMN, unpad
from service.ingest.timestamps import ISO, SANE_YEARS

# Heroku's text drain (and Papertrail's archive): an RFC 3339 time in UTC, then `app[dyno]: ` or
# `heroku[router]: `; as `_timestamped` then `_heroku_tag` peel it (no syslog tag, Fly.io or
# instance id can start with `app[`/`heroku[` followed by `]: `).
_HEROKU_PREFIX = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]00:00))"
    r" (app|heroku)\[([^\]\s]{1,64})\]: ?"
)
# A logplex frame from Heroku (`host` and `app`/`heroku`, so no STRUCTURED-DATA is looked for):
# `_rfc5424`'s five space-separated fields, the message after the fifth space.
_LOGPLEX_FRAME = re.compile(r"<\d{1,3}>1 ([^ ]+) host (app|heroku) ([^ ]*) [^ ]* ")
# Python logging's `%(asctime)s - %(name)s - %(levelname)s - %(message)s`: the time as `ISO`
# reads it when a letter follows (so no zone), a logger without spaces, a level word.
_DASHED = re.compile(
    r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?) - ([A-Za-z_][A-Za-z0-9_.]*)"
    r" - ([A-Z]{3,9}) - "
)


def platform_layers(line: str, header: Header) -> str | None:
    """Peel Heroku's prefix of a line into `header` and return the rest, or None if it has none.

    The rest is what the app wrote: the caller keeps it as the line as written.
    """
    rest = line
    if line[:1] == "<":
        framed = _logplex_frame(line, header)
        if framed is None:
            return None
        rest = framed
    if "0" <= rest[:1] <= "9" and rest[10:11] == "T":  # also inside a frame: a drain of a drain
        inner = _heroku_prefix(rest, header)
        if inner is not None:
            return inner
    return None if rest is line else rest


def app_layer(text: str, header: Header) -> str | None:
    """Peel Python logging's or uvicorn's header into `header` and return the message, or None."""
    first = text[:1]
    if "0" <= first <= "9":
        return _dashed(text, header)
    if "A" <= first <= "Z":
        return _uvicorn(text, header)
    return None


def _heroku_prefix(line: str, header: Header) -> str | None:
    match = _HEROKU_PREFIX.match(line)
    if match is None:
        return None
    if header.time is None:  # under a frame's time the line's own is stripped, not parsed
        time = _utc_time(match.group(1))
        if time is None:
            return None
        header.time = time
    stream, instance = heroku_identity(match.group(2), match.group(3))
    header.place(None, instance, stream)
    header.layers += 2  # the time, then the tag
    return line[match.end() :]


def _logplex_frame(line: str, header: Header) -> str | None:
    match = _LOGPLEX_FRAME.match(line)
    if match is None:
        return None
    stamp = match.group(1)
    time = None
    if stamp != "-":
        whole = ISO.match(stamp)
        time = _utc_time(stamp) if whole is not None and whole.end() == len(stamp) else None
        if time is None:  # no time, or one `parse_timestamp` reads (and counts) otherwise
            return None
    message = line[match.end() :]
    if message == "-" or message.startswith("- "):  # STRUCTURED-DATA "-": the rest is message
        message = message[2:]
    stream, instance = heroku_identity(match.group(2), match.group(3))
    header.place(time, instance, stream)
    header.layers += 1
    return message.removeprefix("\ufeff")


def _dashed(text: str, header: Header) -> str | None:
    match = _DASHED.match(text)
    if match is None:
        return None
    logger, level = match.group(2, 3)
    if level not in LEVELS or logger in LEVELS:
        return None
    if header.time is None:  # an app's own time under a platform's is stripped, not parsed
        time = _naive_time(match.group(1))
        if time is None:
            return None
        header.time = time
    header.level, header.done = LEVELS[level], True
    header.layers += 1
    return text[match.end() :]


def _uvicorn(text: str, header: Header) -> str | None:
    colon = text.find(":", 1, 10)
    if colon < 0 or text[colon + 1 : colon + 2] != " ":
        return None
    level = text[:colon]
    if level not in PYTHON_LEVELS:
        return None
    header.level, header.done = LEVELS[level], True
    header.layers += 1
    return unpad(text[colon + 1 :], colon + 1, UVICORN_COLUMN)


def _utc_time(text: str) -> datetime | None:
    """Return a UTC time as `iso_time` reads it, or None to leave it to `iso_time`."""
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is not UTC or not SANE_YEARS[0] <= stamp.year <= SANE_YEARS[1]:
        return None
    return stamp


def _naive_time(text: str) -> datetime | None:
    """Return a time without a zone as `iso_time` reads it (UTC), or None to leave it to it."""
    return _utc_time(text + "Z")
