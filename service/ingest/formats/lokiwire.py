"""A Loki `PushRequest` read from its wire format: the streams' labels and the entries kept, the
entries past the line cap counted and never built (`wire.py`).

The messages (grafana/loki pkg/push/push.proto): `PushRequest {repeated StreamAdapter streams =
1}`, `StreamAdapter {bytes labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3}`,
`EntryAdapter {Timestamp timestamp = 1; bytes line = 2; repeated LabelPair structuredMetadata =
3}`, `LabelPair {bytes name = 1; bytes value = 2}`. Unknown fields and fields of another wire type
are skipped, as protobuf's decoder does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from service.ingest.formats.wire import LEN, VARINT, Wire, count_and_last, fields

# A label set longer than this is no stream's (Loki's own limit is 1,024 bytes a label value).
MAX_LABELS_BYTES = 64 * 1024
# Structured metadata is read for a level only; pairs past these on one entry are not looked at.
MAX_METADATA_PAIRS = 128


@dataclass(slots=True)
class WireEntry:
    """One entry as the wire holds it: its timestamp, line and the metadata pairs looked at."""

    seconds: int
    nanos: int
    line: Wire
    metadata: list[tuple[Wire, Wire]]


@dataclass(slots=True)
class WireStream:
    """One stream: its label string (None when there is none or it is too long to be one), the
    entries kept, and how many more it held past the room given."""

    labels: Wire | None
    entries: list[WireEntry] = field(default_factory=list)
    surplus: int = 0


def push_streams(raw: Wire, room: int | None) -> Iterator[WireStream]:
    """Yield the streams of a `PushRequest`, keeping at most `room` entries in all (None: all).

    Raises `wire.WireError` when the bytes are not a well-formed message; the streams before
    the damage have been yielded by then, so a caller collects them before using any.
    """
    for number, kind, start, end in fields(raw, 0, len(raw)):
        if number == 1 and kind == LEN:
            stream = _stream(raw, start, end, room)
            if room is not None:
                room -= len(stream.entries)
            yield stream


def _stream(raw: Wire, start: int, end: int, room: int | None) -> WireStream:
    labels: Wire | None = None
    entries: list[WireEntry] = []
    for number, kind, a, b in fields(raw, start, end):
        if kind != LEN:
            continue
        if number == 1:
            labels = _labels(raw, a, b)
        elif number == 2:
            if room is not None and len(entries) >= room:
                # Past the cap: the rest of this stream is only counted (and checked).
                rest, late = count_and_last(raw, b, end, 2, 1)
                if late is not None:  # labels written after entries (protobuf allows it)
                    labels = _labels(raw, *late)
                return WireStream(labels, entries, 1 + rest)
            entries.append(_entry(raw, a, b))
    return WireStream(labels, entries)


def _labels(raw: Wire, start: int, end: int) -> Wire | None:
    return raw[start:end] if end - start <= MAX_LABELS_BYTES else None


def _entry(raw: Wire, start: int, end: int) -> WireEntry:
    seconds = nanos = 0
    line: Wire = b""
    metadata: list[tuple[Wire, Wire]] = []
    pairs = 0
    for number, kind, a, b in fields(raw, start, end):
        if kind != LEN:
            continue
        if number == 1:
            seconds, nanos = _timestamp(raw, a, b)
        elif number == 2:
            line = raw[a:b]
        elif number == 3:
            pairs += 1
            if pairs <= MAX_METADATA_PAIRS:
                metadata.append(_pair(raw, a, b))
    return WireEntry(seconds, nanos, line, metadata)


def _timestamp(raw: Wire, start: int, end: int) -> tuple[int, int]:
    """Read a `google.protobuf.Timestamp` (int64 seconds, int32 nanos: two's complement)."""
    seconds = nanos = 0
    for number, kind, value, _after in fields(raw, start, end):
        if kind != VARINT:
            continue
        if number == 1:
            seconds = value - (1 << 64) if value >= 1 << 63 else value
        elif number == 2:
            nanos = value - (1 << 64) if value >= 1 << 63 else value
    return seconds, nanos


def _pair(raw: Wire, start: int, end: int) -> tuple[Wire, Wire]:
    name: Wire = b""
    value: Wire = b""
    for number, kind, a, b in fields(raw, start, end):
        if kind == LEN and number == 1:
            name = raw[a:b]
        elif kind == LEN and number == 2:
            value = raw[a:b]
    return name, value
