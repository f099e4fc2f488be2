"""The sieve: one prefilter pass over a batch's lines tells the few events worth Python's time
(a signature's keyword, the shape of a platform line, an error level) from the rest, which
intake only counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.incidents.deploys import MARKER_STARTS
from service.incidents.gaps import DROP_LITERALS
from service.ingest.access import ACCESS_LITERALS
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


# An event the sieve found nothing in: it is only counted.
PLAIN = Sight((), (), platform=False)


def sift(matcher: Matcher, events: Sequence[Event]) -> list[Sight | None]:
    """Return what one prefilter pass over all their lines found in each one-line event:
    `PLAIN` when nothing, None for an event it does not look at (several lines)."""
    texts: list[str] = []
    places: list[tuple[int, LogRecord, int]] = []
    for index, event in enumerate(events):
        records = event.records
        if len(records) != 1 or event.unwrapped or event.exception_line:
            continue
        record = records[0]
        message, written = record.message, record.written
        if "\n" in message or "\n" in written:
            continue
        places.append((index, record, len(texts)))
        texts.append(message)
        if written:
            texts.append(written)
    found = matcher.sift(texts)
    sights: list[Sight | None] = [None] * len(events)
    for index, record, at in places:
        owners = found[at]
        as_written = found[at + 1] if record.written else ()
        platform = _platform_shaped(record.message)
        if owners or as_written or platform or record.level in ERROR_LEVELS:
            sights[index] = Sight(owners, as_written, platform)
        else:
            sights[index] = PLAIN
    return sights


# What every line `_note_platform_line` or `split_glued` reads holds: deploy markers, dropped
# lines, access lines, Render lines glued together. Most lines hold none; plain `in` tests find
# that faster than a prefilter could, whose callbacks would fire on every access line.
_SHAPES = (*ACCESS_LITERALS, MARKER, *DROP_LITERALS)


def _platform_shaped(message: str) -> bool:
    """Tell whether a line may be a platform line."""
    for literal in _SHAPES:
        if literal in message:
            return True
    return message.startswith(MARKER_STARTS)
