"""The sieve: one prefilter pass over a batch's lines tells the few events worth Python's time
(a signature's keyword, the shape of a platform line, an error level) from the rest, which
intake only counts, and reads the access lines that are nothing else, which intake only counts
as requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.incidents.deploys import MARKER_STARTS
from service.incidents.gaps import DROP_LITERALS
from service.ingest.access import ACCESS_LITERALS, Access, parse_access
from service.ingest.glued import MARKER
from service.ingest.records import Event, LogRecord
from service.signatures.engine import Matcher, Owners
from service.signatures.templates import ERROR_LEVELS


@dataclass(frozen=True, slots=True)
class Sight:
    """What the sieve found in a one-line event: the prefilter's owners of its message and of
    its line as written, and whether it has the shape of a platform line."""

    message: Owners
    written: Owners
    platform: bool


@dataclass(frozen=True, slots=True)
class Request:
    """A one-line event that is an access line and nothing else (no keyword, no deploy marker,
    no dropped-lines notice, no glued Render lines): all it tells is this request."""

    access: Access


# An event the sieve found nothing in: it is only counted.
PLAIN = Sight((), (), platform=False)
# What the sieve tells of an event: None for one it does not look at (several lines).
Seen = Sight | Request | None


def sift(matcher: Matcher, events: Sequence[Event]) -> list[Seen]:
    """Return what one prefilter pass over all their lines found in each one-line event:
    `PLAIN` when nothing, a `Request` for a bare access line, None for an event it does not
    look at (several lines)."""
    texts: list[str] = []
    places: list[tuple[int, LogRecord, int]] = []
    append_text, append_place = texts.append, places.append
    for index, event in enumerate(events):
        records = event.records
        if len(records) != 1 or event.unwrapped or event.exception_line:
            continue
        record = records[0]
        message, written = record.message, record.written
        if "\n" in message or "\n" in written:
            continue
        append_place((index, record, len(texts)))
        append_text(message)
        if written:
            append_text(written)
    found = matcher.sift(texts)
    sights: list[Seen] = [None] * len(events)
    for index, record, at in places:
        owners = found[at]
        as_written = found[at + 1] if record.written else ()
        message = record.message
        if owners or as_written:
            sights[index] = Sight(owners, as_written, _platform_shaped(message))
            continue
        access_shaped = _access_shaped(message)
        other = _other_platform_shaped(message)
        if access_shaped and not other:
            # What `_note_platform_line` would make of it, without matching it: no keyword
            # means no hit, and a platform line never becomes a template hit.
            access = parse_access(message)
            if access is not None:
                sights[index] = Request(access)
                continue
        if access_shaped or other or record.level in ERROR_LEVELS:
            sights[index] = Sight((), (), access_shaped or other)
        else:
            sights[index] = PLAIN
    return sights


# What every line `_note_platform_line` or `split_glued` reads holds: deploy markers, dropped
# lines, access lines, Render lines glued together. Most lines hold none; plain `in` tests find
# that faster than a prefilter could, whose callbacks would fire on every access line.
_OTHER_SHAPES = (MARKER, *DROP_LITERALS)


_HTTP, _ROUTER = ACCESS_LITERALS


def _access_shaped(message: str) -> bool:
    """Tell whether a line may be an access line."""
    return _HTTP in message or _ROUTER in message


def _other_platform_shaped(message: str) -> bool:
    """Tell whether a line may be a deploy marker, a dropped-lines notice or glued Render lines."""
    for literal in _OTHER_SHAPES:
        if literal in message:
            return True
    return message.startswith(MARKER_STARTS)


def _platform_shaped(message: str) -> bool:
    """Tell whether a line may be a platform line."""
    return _access_shaped(message) or _other_platform_shaped(message)
