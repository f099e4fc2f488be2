"""The per-batch line cap while a body is read: lines counted as they will be split, cheaply.

Past the cap a body is not parsed: what is left is only counted, in C-speed string passes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from itertools import islice
from typing import TypeVar

from service.ingest.entries import Entry, Parsed

TOO_MANY = "too_many_lines"
T = TypeVar("T")
_LINE = re.compile(r"[^\r\n]+")


def within_room(items: Sequence[T], room: int | None, parsed: Parsed) -> Sequence[T]:
    """Return the first `room` items (all when None), counting the others as `too_many_lines`."""
    if room is None or len(items) <= room:
        return items
    kept = max(room, 0)
    parsed.rejected[TOO_MANY] += len(items) - kept
    return items[:kept]


def nonempty_lines(text: str) -> int:
    """Return how many non-empty lines `text` holds (a line ends at LF, CR or CRLF)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    while "\n\n" in text:  # each pass halves every run of newlines: linear in all
        text = text.replace("\n\n", "\n")
    text = text.strip("\n")
    return text.count("\n") + 1 if text else 0


def nonempty_byte_lines(data: bytes) -> int:
    """Return how many non-empty lines `data` holds, as `nonempty_lines` counts them."""
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    while b"\n\n" in data:
        data = data.replace(b"\n\n", b"\n")
    data = data.strip(b"\n")
    return data.count(b"\n") + 1 if data else 0


def within_lines(entries: list[Entry], room: int) -> tuple[list[Entry], int, int]:
    """Return the entries that hold at most `room` lines, the lines left out, and the room left.

    Lines are counted as they will be parsed (non-empty ones), so what is kept never makes more
    than `room` records. The entry that runs past `room` is cut after its last line within it;
    what follows is counted, never parsed.
    """
    kept: list[Entry] = []
    over = 0
    for entry in entries:
        lines = nonempty_lines(entry.message)
        if lines <= room:
            kept.append(entry)
            room -= lines
            continue
        over += lines - room
        if room:
            head, _ = _split_after_lines(entry.message, room)
            kept.append(replace(entry, message=head))
            room = 0
    return kept, over, room


def _split_after_lines(text: str, count: int) -> tuple[str, str]:
    """Split `text` after its `count`-th non-empty line."""
    end = 0
    for end_match in islice(_LINE.finditer(text), count):
        end = end_match.end()
    return text[:end], text[end:]
