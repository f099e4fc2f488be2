"""Grafana Loki's push bodies (`POST /loki/api/v1/push`): the JSON that curl and Vector send, and
the snappy-compressed protobuf `logproto.PushRequest` that Promtail, Alloy, Fluent Bit and the
Docker driver send by default.

One entry per log line: the line is the message and its timestamp the time; the stream's labels
name the source, instance and stream, and the labels or the line's structured metadata its level.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import cramjam
from google.protobuf import (  # type: ignore[import-untyped]
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    timestamp_pb2,
)

from service.ingest.entries import BodyError, Entry, Parsed
from service.ingest.formats.caps import TOO_MANY, within_room
from service.ingest.formats.jsoncap import CappedJsonError, JsonTooLarge, load_capped
from service.ingest.formats.labelset import parse_label_set
from service.ingest.formats.lokiwire import push_streams
from service.ingest.formats.wire import WireError

# The first label present (and not empty) names the entry's source, then its instance.
SOURCE_LABELS = (
    *("source", "service_name", "app", "application", "service", "job", "container"),
    *("container_name", "compose_service"),
)
INSTANCE_LABELS = ("instance", "dyno", "pod", "host", "hostname", "container_id")
LEVEL_LABELS = ("level", "detected_level", "severity")
# The `stream` label is kept only when it is one of the service's streams (not Docker's stderr).
STREAM_WORDS = frozenset(("app", "router", "build", "deploy", "request"))

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime holds
_MAX_NANOSECONDS = (_MAX_SECONDS + 1) * 10**9 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class _Envelope:
    """What a stream's labels say of each of its lines."""

    source: str
    instance: str
    stream: str
    level: str


def parse_loki_json(data: bytes, *, max_entries: int | None = None) -> Parsed:
    """Read a JSON push body: `{"streams": [{"stream": {labels}, "values": [[ts, line], ...]}]}`.

    A value is `[timestamp, line]` or `[timestamp, line, {structured metadata}]`; the timestamp is
    Unix epoch nanoseconds as a string (Loki's rule) or, leniently, as a JSON number. A body that is
    not JSON or has no `streams` list is a `BodyError`; a stream or value of the wrong shape is
    skipped and counted (`bad_stream`, `bad_labels`, `bad_value`, `bad_timestamp`). Values past
    `max_entries` are counted as `too_many_lines`, not read.
    """
    try:
        body, surplus = load_capped(
            data, lines="streams.item.values", containers=("streams",), room=max_entries
        )
    except JsonTooLarge as error:
        raise BodyError("payload_too_large", f"the Loki push body is too large: {error}") from None
    except CappedJsonError as error:
        raise BodyError("bad_loki", f"the Loki push body is not JSON: {error}") from None
    streams = body.get("streams") if isinstance(body, dict) else None
    if not isinstance(streams, list):
        raise BodyError("bad_loki", 'the Loki push body is not an object with a "streams" list')
    parsed = Parsed()
    if surplus:
        parsed.rejected[TOO_MANY] += surplus
    room = max_entries
    for stream in streams:
        used = _read_json_stream(stream, parsed, room)
        room = None if room is None else room - used
    return parsed


def _read_json_stream(stream: object, parsed: Parsed, room: int | None) -> int:
    """Add the entries of one JSON stream to `parsed`, counting those it cannot use.

    Returns how many values it read: at most `room`, the others counted as `too_many_lines`.
    """
    values = stream.get("values") if isinstance(stream, dict) else None
    if not isinstance(stream, dict) or not isinstance(values, list):
        parsed.rejected["bad_stream"] += 1
        return 0
    values = within_room(values, room, parsed)
    labels = _string_map(stream.get("stream", {}))
    if labels is None:
        parsed.rejected["bad_labels"] += len(values)
        return len(values)
    envelope = _envelope(labels)
    for value in values:
        if not isinstance(value, list) or len(value) not in (2, 3):
            parsed.rejected["bad_value"] += 1
            continue
        line = value[1]
        metadata = _string_map(value[2]) if len(value) == 3 else {}
        if not isinstance(line, str) or metadata is None:
            parsed.rejected["bad_value"] += 1
            continue
        time = _json_time(value[0])
        if time is None:
            parsed.rejected["bad_timestamp"] += 1
            continue
        parsed.entries.append(_entry(envelope, _clean(line), time, metadata))
    return len(values)


def _string_map(value: object) -> dict[str, str] | None:
    """Return a JSON object of strings (labels, structured metadata), or None for anything else."""
    if not isinstance(value, dict):
        return None
    if not all(isinstance(item, str) for item in value.values()):
        return None
    return {_clean(key): _clean(item) for key, item in value.items()}


def _clean(text: str) -> str:
    """Replace the lone surrogates a JSON `\\ud800` escape can make (they cannot be encoded)."""
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _json_time(value: object) -> datetime | None:
    """Read a JSON timestamp: epoch nanoseconds as a string of digits or as a number."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()) or len(value) > 19:
            return None
        return nanoseconds_time(int(value))
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return nanoseconds_time(value)
    if isinstance(value, float) and math.isfinite(value):
        return nanoseconds_time(int(value))
    return None


def nanoseconds_time(nanoseconds: int) -> datetime | None:
    """Return the UTC time of Unix epoch nanoseconds (to the microsecond); None if out of range.

    The epoch itself and times before it are not times a log line was written (a protobuf entry
    without a timestamp reads as 0).
    """
    if not 0 < nanoseconds <= _MAX_NANOSECONDS:
        return None
    return _EPOCH + timedelta(microseconds=nanoseconds // 1000)


def parse_loki_protobuf(data: bytes, *, max_bytes: int, max_entries: int | None = None) -> Parsed:
    """Read a protobuf push body: a `logproto.PushRequest`, snappy-compressed (block format).

    The uncompressed length the snappy block declares is checked before anything is inflated: over
    `max_bytes` it is a `BodyError("payload_too_large")`. A body that is not snappy or not a
    `PushRequest` is a `BodyError("bad_loki")`; a stream whose label string does not parse, or an
    entry without a valid timestamp, is skipped and counted (`bad_labels`, `bad_timestamp`).
    The message is walked on the wire (`lokiwire`), never built whole: entries past
    `max_entries` are counted as `too_many_lines`, never decoded, so what this costs beyond the
    inflated body is in proportion to the entries kept.
    """
    declared = snappy_length(data)
    if declared > max_bytes:
        raise BodyError(
            "payload_too_large",
            f"the snappy body declares {declared} bytes uncompressed, over the {max_bytes} allowed",
        )
    try:
        # Inflated once, into a buffer of the declared size (no second copy as bytes).
        raw = bytearray(declared)
        written = cramjam.snappy.decompress_raw_into(data, raw)
        if written != declared:
            raise ValueError(f"{written} bytes inflated, {declared} declared")
    except (cramjam.DecompressionError, ValueError) as error:
        raise BodyError(
            "bad_loki", f"the Loki push body is not snappy-compressed: {error}"
        ) from None
    try:
        streams = list(push_streams(raw, max_entries))
    except WireError as error:
        raise BodyError("bad_loki", f"the Loki push body is not a PushRequest: {error}") from None
    parsed = Parsed()
    for stream in streams:
        if stream.surplus:
            parsed.rejected[TOO_MANY] += stream.surplus
        labels = None if stream.labels is None else parse_label_set(_text(stream.labels))
        if labels is None:
            parsed.rejected["bad_labels"] += len(stream.entries)
            continue
        envelope = _envelope(labels)
        for entry in stream.entries:
            time = _proto_time(entry.seconds, entry.nanos)
            if time is None:
                parsed.rejected["bad_timestamp"] += 1
                continue
            metadata = {_text(name): _text(value) for name, value in entry.metadata}
            parsed.entries.append(_entry(envelope, _text(entry.line), time, metadata))
    return parsed


def snappy_length(data: bytes) -> int:
    """Return the uncompressed length a snappy block declares: its leading varint (uint32).

    A block that does not begin with a whole varint of at most 32 bits is a `BodyError`.
    """
    length = 0
    for index, byte in enumerate(data[:5]):
        length |= (byte & 0x7F) << (7 * index)
        if byte < 0x80:
            if length > 0xFFFFFFFF:
                break
            return length
    raise BodyError("bad_loki", "the Loki push body does not begin with a snappy block length")


def _text(value: bytes | bytearray) -> str:
    """Decode a protobuf text field (declared as bytes: Loki does not enforce UTF-8)."""
    return value.decode("utf-8", errors="replace")


def _proto_time(seconds: int, nanos: int) -> datetime | None:
    """Return the UTC time of a `google.protobuf.Timestamp`, or None when it is not valid."""
    if not (0 <= nanos < 10**9 and 0 <= seconds <= _MAX_SECONDS):
        return None
    return nanoseconds_time(seconds * 10**9 + nanos)


def _envelope(labels: Mapping[str, str]) -> _Envelope:
    """Read what a stream's labels say of its lines."""
    stream = labels.get("stream", "")
    return _Envelope(
        source=_first(labels, SOURCE_LABELS),
        instance=_first(labels, INSTANCE_LABELS),
        stream=stream if stream in STREAM_WORDS else "",
        level=_first(labels, LEVEL_LABELS),
    )


def _first(labels: Mapping[str, str], keys: tuple[str, ...]) -> str:
    """Return the value of the first of `keys` present and not empty, else ""."""
    return next((value for key in keys if (value := labels.get(key))), "")


def _entry(envelope: _Envelope, line: str, time: datetime, metadata: Mapping[str, str]) -> Entry:
    """Make the entry of one line; the line's structured metadata names its level first."""
    return Entry(
        message=line,
        time=time,
        instance=envelope.instance,
        stream=envelope.stream,
        level=_first(metadata, LEVEL_LABELS) or envelope.level,
        source=envelope.source,
    )


def _push_proto() -> descriptor_pb2.FileDescriptorProto:
    """Describe Loki's push messages (grafana/loki pkg/push/push.proto) with the fields read here.

    Text fields are declared `bytes`, the same on the wire as `string`: Loki's Go decoder does not
    require UTF-8, so neither does this one (each field is decoded with replacement).
    """
    field = descriptor_pb2.FieldDescriptorProto
    optional, repeated = field.LABEL_OPTIONAL, field.LABEL_REPEATED
    layout = {
        "PushRequest": [("streams", 1, field.TYPE_MESSAGE, repeated, ".logproto.StreamAdapter")],
        "StreamAdapter": [
            ("labels", 1, field.TYPE_BYTES, optional, ""),
            ("entries", 2, field.TYPE_MESSAGE, repeated, ".logproto.EntryAdapter"),
            ("hash", 3, field.TYPE_UINT64, optional, ""),
        ],
        "EntryAdapter": [
            ("timestamp", 1, field.TYPE_MESSAGE, optional, ".google.protobuf.Timestamp"),
            ("line", 2, field.TYPE_BYTES, optional, ""),
            ("structuredMetadata", 3, field.TYPE_MESSAGE, repeated, ".logproto.LabelPairAdapter"),
        ],
        "LabelPairAdapter": [
            ("name", 1, field.TYPE_BYTES, optional, ""),
            ("value", 2, field.TYPE_BYTES, optional, ""),
        ],
    }
    proto = descriptor_pb2.FileDescriptorProto(
        name="drainwatch/loki/push.proto",
        package="logproto",
        syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"],
    )
    for name, fields in layout.items():
        message_type = proto.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            added = message_type.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:  # messages only: a scalar with a type name does not build
                added.type_name = type_name
    return proto


def _message_classes() -> dict[str, Any]:
    """Build the push message classes in a pool of their own (no clash with another `logproto`)."""
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    pool.AddSerializedFile(_push_proto().SerializeToString())
    names = ("PushRequest", "StreamAdapter", "EntryAdapter", "LabelPairAdapter")
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"logproto.{name}"))
        for name in names
    }


_CLASSES = _message_classes()
# Loki's push messages, for encoding as well as decoding (tests, clients).
PushRequest: Any = _CLASSES["PushRequest"]
StreamAdapter: Any = _CLASSES["StreamAdapter"]
EntryAdapter: Any = _CLASSES["EntryAdapter"]
LabelPairAdapter: Any = _CLASSES["LabelPairAdapter"]
