"""Join back a message that was hard-wrapped at any width, when only the joined text matches.

A log viewer, a terminal or an e-mail client may wrap a long line at whatever width it has,
splitting the words a signature needs over several lines (a CORS error after its URL, Django's
`Invalid HTTP_HOST header:` before the host). A line is joined with the lines after it only when
they are the same instance's bare lines (no header, no traceback) with the same indentation (a
message quoted in an indented block is wrapped inside it), and only when the joined text matches
better than the line alone; every record stays in the event. Inside an
assembled event (a traceback, a validation report) a wrapped line is joined the same way, when
the whole event matches better for it (`validation errors for Settin` / `gs`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import msgspec

from service.ingest.records import Event, LogRecord
from service.ingest.tracebacks import CHAIN_LINES, TRACEBACK
from service.signatures.engine import Matcher
from service.signatures.model import Hit

MAX_LINES = 8
MAX_CHARS = 4000
# Inside an event, the lines tried as the start of a wrapped one: those holding a keyword.
MAX_INNER_STARTS = 3
# Builds the event of a join: from the pieces, how many lines are joined, and with what.
_Build = Callable[[Sequence[Event], int, str], Event]
# A cut at the width keeps the text's own spaces (join with nothing); a word wrap drops the space
# at the break (join with one). A wrapped text is wrapped one way throughout.
_SEPARATORS = (" ", "")


def rejoin_wrapped(matcher: Matcher, events: Iterable[Event]) -> Iterator[Event]:
    """Yield the events, a hard-wrapped message joined into one event with all its records."""
    pending = list(events)
    seen: dict[int, Hit | None] = {}  # each line is tried alone once, however many runs hold it

    def alone(event: Event) -> Hit | None:
        key = id(event)
        if key not in seen:
            seen[key] = matcher.match(event)
        return seen[key]

    index = 0
    last = len(pending) - 1
    while index <= last:
        event = pending[index]
        if len(event.records) > 1:
            yield _rejoin_inside(matcher, event, alone)
            index += 1
            continue
        if index == last or _headed_next(pending[index + 1]):
            yield event  # no bare line after it: nothing it could be joined with
            index += 1
            continue
        pieces = _continuations(event, pending, index + 1)
        joined = None
        if pieces and _has_keyword(matcher, [event, *pieces]):
            joined = _best_join(matcher, event, pieces, alone, _joined_lines(event))
        if joined is None or _needless_head(matcher, joined, alone(event)):
            yield event
            index += 1
        else:
            yield joined
            index += len(joined.records)


def _headed_next(event: Event) -> bool:
    """Tell an event that can never continue the line before it (`_continuations` would stop
    at it): a traceback, or a line with a header of its own. Most lines are one."""
    records = event.records
    return len(records) != 1 or records[0].headed


def _continuations(event: Event, events: Sequence[Event], start: int) -> list[Event]:
    """Return the bare one-line events after `event` that could be the rest of its line."""
    if len(event.records) != 1:
        return []
    first = event.first
    margin = _margin(first.message)
    if not _wrappable(first.message, margin):
        return []
    size = len(first.message)
    pieces: list[Event] = []
    for candidate in events[start : start + MAX_LINES - 1]:
        record = candidate.records[0]
        if len(candidate.records) != 1 or not _bare(record, first, margin):
            break
        size += len(record.message) + 1
        if size > MAX_CHARS:
            break
        pieces.append(candidate)
    return pieces


def _rejoin_inside(matcher: Matcher, event: Event, alone: Callable[[Event], Hit | None]) -> Event:
    """Return the event with one wrapped line inside it joined back, when that matches better."""
    records = event.records
    lines = [record.message for record in records]
    if "\n" in "".join(lines):  # a record holding lines of its own: not a terminal's wrap
        return event

    def own_or_piece(tried: Event) -> Hit | None:
        # Only the event is cached by id: the pieces made here do not outlive this call.
        return alone(tried) if tried is event else matcher.match(tried)

    starts = 0
    for index in range(len(records) - 1):
        if not (_wrappable(lines[index], "") and _bare(records[index + 1], records[index])):
            continue
        pieces: list[Event] = []
        for record in records[index + 1 : index + MAX_LINES]:
            if not _bare(record, records[index]):
                break
            pieces.append(Event((record,)))
        # The literal prefilter gates it all: no keyword in the whole run, nothing to try.
        if not _has_keyword(matcher, [Event((records[index],)), *pieces]):
            continue
        build = _joined_inside(event, index)
        joined = _best_join(matcher, event, pieces, own_or_piece, build)
        if joined is not None:
            return joined
        starts += 1
        if starts >= MAX_INNER_STARTS:
            break
    return event


def _bare(record: LogRecord, before: LogRecord, margin: str = "") -> bool:
    """Tell a line that may continue the wrapped line of `before` (same stream, no header, the
    indentation `margin` of the block it was wrapped in)."""
    text = record.message
    return (
        not record.headed
        and (record.source, record.instance, record.stream)
        == (before.source, before.instance, before.stream)
        and _wrappable(text, margin)
        and not text[len(margin) :].startswith((TRACEBACK, *CHAIN_LINES))
    )


def _joined_lines(event: Event) -> _Build:
    """Build a one-line event's join with the next `count - 1` events' lines."""

    def build(pieces: Sequence[Event], count: int, separator: str) -> Event:
        records = (event.first, *(piece.first for piece in pieces[: count - 1]))
        return Event(records=records, unwrapped=separator.join(_bare_lines(records)))

    return build


def _joined_inside(event: Event, start: int) -> _Build:
    """Build the event with its lines `start` .. `start + count - 1` joined into one."""
    lines = [record.message for record in event.records]

    def build(pieces: Sequence[Event], count: int, separator: str) -> Event:
        joined = separator.join(lines[start : start + count])
        text = "\n".join([*lines[:start], joined, *lines[start + count :]])
        return msgspec.structs.replace(event, unwrapped=text)

    return build


def _margin(text: str) -> str:
    """Return the indentation a wrapped run of lines starting with `text` shares: none for a
    flush line (a cut at the width may leave the one space it fell on), else its indentation."""
    indent = text[: len(text) - len(text.lstrip())]
    return "" if indent in ("", " ") else indent


def _wrappable(text: str, margin: str) -> bool:
    """Tell a line that may hold part of a message wrapped with `margin`: that indentation and
    no more (flush: at most one space), one line."""
    if not text.startswith(margin):
        return False
    rest = text[len(margin) :]
    start = rest[1:2] if not margin and rest[:1] == " " else rest[:1]
    return bool(start) and not start.isspace() and "\n" not in text


def _bare_lines(records: Sequence[LogRecord]) -> list[str]:
    """Return the records' messages without the indentation of the block they were wrapped in."""
    cut = len(_margin(records[0].message))
    return [record.message[cut:] for record in records]


def _best_join(
    matcher: Matcher,
    event: Event,
    pieces: list[Event],
    alone: Callable[[Event], Hit | None],
    build: _Build,
) -> Event | None:
    """Return the joined event whose hit improves most on the event's own, or None."""
    own = best_hit = alone(event)
    best: Event | None = None
    for count in range(2, len(pieces) + 2):
        # A line that matches alone is a message of its own, unless joining it gives that same
        # signature more fields (the middle of a wrapped CORS error matches, without its URL),
        # or it completes the line before, a hit of that signature with fewer fields (a server
        # log's `deadlock detected` before its `DETAIL:` line, which tells the lock alone too).
        piece_hit = alone(pieces[count - 2])
        # Once joining was needed, a match cut off at the end of the text may grow with the
        # next line (a CORS reason); a line that matched alone only joins for a new field.
        growing = own is None and best is not None and _cut_off(best, best_hit)
        improved: tuple[Event, Hit] | None = None
        for separator in _SEPARATORS:
            joined = build(pieces, count, separator)
            hit = matcher.match(joined)
            if hit is None or not _better(hit, best_hit, growing):
                continue
            if piece_hit is not None and not (
                _extends(hit, piece_hit) or _completes(hit, piece_hit, own)
            ):
                continue
            # Both joins match alike: the one whose fields hold fewer spaces did not split a
            # word (a cut at the width) or glue two (a word wrap).
            if (
                improved is None
                or _better(hit, improved[1], False)
                or (not _better(improved[1], hit, False) and _spaces(hit) < _spaces(improved[1]))
            ):
                improved = (joined, hit)
        if improved is not None:
            best, best_hit = improved
        elif best is not None or piece_hit is not None:
            break  # the match stopped growing, or that line stands alone: other messages
    return best


def _has_keyword(matcher: Matcher, events: list[Event]) -> bool:
    lines = _bare_lines([event.first for event in events])
    return any(matcher.has_candidates(separator.join(lines)) for separator in _SEPARATORS)


def _needless_head(matcher: Matcher, joined: Event, head: Hit | None) -> bool:
    """Tell whether the joined message matches as well without its first line: that line is
    a message of its own (the line before a wrapped one), and the join starts after it. A first
    line that is a hit of the same signature (`head`) is the start of that message."""
    lines = _bare_lines(joined.records)
    separator = "" if joined.unwrapped == "".join(lines) else " "
    rest = Event(records=joined.records[1:], unwrapped=separator.join(lines[1:]))
    hit, without = matcher.match(joined), matcher.match(rest)
    return (
        hit is not None
        and without is not None
        and without.signature.id == hit.signature.id
        and len(without.fields) >= len(hit.fields)
        and (head is None or head.signature.id != hit.signature.id)
    )


def _extends(hit: Hit, own: Hit) -> bool:
    """Tell whether `hit` is a line's own hit with more fields: the line was part of it."""
    return hit.signature.id == own.signature.id and len(hit.fields) > len(own.fields)


def _completes(hit: Hit, piece: Hit, head: Hit | None) -> bool:
    """Tell whether `hit` joins a line's hit (`piece`) to the hit of the line before (`head`),
    the same signature with fewer fields: one message over two lines, nothing of `piece` lost."""
    return (
        head is not None
        and hit.signature.id == head.signature.id == piece.signature.id
        and len(hit.fields) > len(head.fields)
        and hit.fields.items() >= piece.fields.items()
    )


def _spaces(hit: Hit) -> int:
    return sum(value.count(" ") for value in hit.fields.values())


def _cut_off(event: Event, hit: Hit | None) -> bool:
    text = event.text
    return hit is not None and any(value and text.endswith(value) for value in hit.fields.values())


def _better(hit: Hit, than: Hit | None, growing: bool) -> bool:
    """Tell whether `hit` explains more than `than`: a hit at all, a more specific one, the
    same signature with more fields, or (`growing`) with longer ones."""
    if than is None:
        return True
    if hit.signature.id != than.signature.id:
        return hit.signature.priority > than.signature.priority
    if len(hit.fields) != len(than.fields):
        return len(hit.fields) > len(than.fields)
    return growing and sum(map(len, hit.fields.values())) > sum(map(len, than.fields.values()))
