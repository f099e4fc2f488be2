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

from service.ingest.formats.wire import LEN, VARINT, count_field, fields

# A label set longer than this is no stream's (Loki's own limit is 1,024 bytes a label value).
MAX_LABELS_BYTES = 64 * 1024
# Structured metadata is read for a level only; pairs past these on one entry are not looked at.
MAX_METADATA_PAIRS = 128


@dataclass(slots=True)
class WireEntry:
    """One entry as the wire holds it: its timestamp, line and the metadata pairs looked at."""

    seconds: int
    nanos: int
    line: bytes
    metadata: list[tuple[bytes, bytes]]


@dataclass(slots=True)
class WireStream:
    """One stream: its label string (None when there is none or it is too long to be one), the
    entries kept, and how many more it held past the room given."""

    labels: bytes | None
    entries: list[WireEntry] = field(default_factory=list)
    surplus: int = 0


def push_streams(raw: bytes, room: int | None) -> Iterator[WireStream]:
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


def _stream(raw: bytes, start: int, end: int, room: int | None) -> WireStream:
    labels: bytes | None = None
    entries: list[WireEntry] = []
    for number, kind, a, b in fields(raw, start, end):
        if kind != LEN:
            continue
        if number == 1:
            labels = raw[a:b] if b - a <= MAX_LABELS_BYTES else None
        elif number == 2:
            if room is not None and len(entries) >= room:
                # Past the cap: the rest of this stream is only counted (and checked).
                rest = 1 + count_field(raw, b, end, 2)
                if labels is None:
                    labels = _late_labels(raw, b, end)
                return WireStream(labels, entries, rest)
            entries.append(_entry(raw, a, b))
    return WireStream(labels, entries)


def _late_labels(raw: bytes, start: int, end: int) -> bytes | None:
    """Return a label string written after the entries (no client does; protobuf allows it)."""
    labels: bytes | None = None
    for number, kind, a, b in fields(raw, start, end):
        if number == 1 and kind == LEN:
            labels = raw[a:b] if b - a <= MAX_LABELS_BYTES else None
    return labels


def _entry(raw: bytes, start: int, end: int) -> WireEntry:
    seconds = nanos = 0
    line = b""
    metadata: list[tuple[bytes, bytes]] = []
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


def _timestamp(raw: bytes, start: int, end: int) -> tuple[int, int]:
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


def _pair(raw: bytes, start: int, end: int) -> tuple[bytes, bytes]:
    name = value = b""
    for number, kind, a, b in fields(raw, start, end):
        if kind == LEN and number == 1:
            name = raw[a:b]
        elif kind == LEN and number == 2:
            value = raw[a:b]
    return name, value
