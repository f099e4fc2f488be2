"""Protobuf push bodies walked on the wire: exact counts past the cap, the parts too large to
decode counted, damaged framing refused, and the same entries as protobuf's own decoder."""

from __future__ import annotations

import contextlib

import cramjam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from service.ingest.entries import BodyError
from service.ingest.formats import loki
from service.ingest.formats.loki import parse_loki_protobuf
from service.ingest.formats.otlp import parse_otlp_protobuf
from service.ingest.formats.otlpwire import MAX_PART_BYTES
from service.ingest.formats.wire import WireError, count_field, fields, varint

MIB = 1 << 20
SECONDS = 1_764_756_000


def _snappy(raw: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(raw))


def _push(streams: list[tuple[str, list[str]]]) -> bytes:
    request = loki.PushRequest()
    for labels, lines in streams:
        adapter = request.streams.add(labels=labels.encode())
        for line in lines:
            entry = adapter.entries.add(line=line.encode())
            entry.timestamp.seconds = SECONDS
    return bytes(request.SerializeToString())


def test_varints_and_fields_are_read_as_protobuf_writes_them() -> None:
    assert varint(b"\xac\x02", 0, 2) == (300, 2)
    data = b"\x08\x96\x01\x12\x03abc\x1d\x01\x02\x03\x04"
    assert list(fields(data, 0, len(data))) == [(1, 0, 150, 3), (2, 2, 5, 8), (3, 5, 9, 13)]
    assert count_field(data, 0, len(data), 2) == 1


@pytest.mark.parametrize(
    "data",
    [b"\x12\x05ab", b"\x08", b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x0b", b"\x00"],
    ids=["short-payload", "no-varint", "long-varint", "group", "field-zero"],
)
def test_damaged_framing_is_a_wire_error(data: bytes) -> None:
    with pytest.raises(WireError):
        list(fields(data, 0, len(data)))
    with pytest.raises(WireError):
        count_field(data, 0, len(data), 2)


def test_loki_entries_past_the_cap_are_counted_exactly_across_streams() -> None:
    long_line = "x" * 300  # a two-byte length: the counting loop's slow path
    body = _push(
        [('{app="a"}', ["a0", "a1", long_line]), ('{app="b"}', ["b0", long_line, "b2", "b3"])]
    )
    parsed = parse_loki_protobuf(_snappy(body), max_bytes=MIB, max_entries=4)
    assert [entry.message for entry in parsed.entries] == ["a0", "a1", long_line, "b0"]
    assert dict(parsed.rejected) == {"too_many_lines": 3}


def test_millions_of_empty_loki_entries_are_counted_not_built() -> None:
    stream = b"\x0a\x09" + b'{app="a"}' + b"\x12\x00" * 1_000_000
    body = b"\x0a" + _len(stream) + stream
    parsed = parse_loki_protobuf(_snappy(body), max_bytes=8 * MIB, max_entries=10)
    assert dict(parsed.rejected) == {"bad_timestamp": 10, "too_many_lines": 999_990}


def _len(payload: bytes) -> bytes:
    out, size = bytearray(), len(payload)
    while size >= 0x80:
        out.append(size & 0x7F | 0x80)
        size >>= 7
    return bytes(out + bytes([size]))


def test_labels_written_after_the_entries_still_name_the_stream() -> None:
    entry = loki.EntryAdapter(line=b"late")
    entry.timestamp.seconds = SECONDS
    raw_entry = entry.SerializeToString()
    labels = b'{app="late"}'
    stream = (b"\x12" + _len(raw_entry) + raw_entry) * 3 + b"\x0a" + _len(labels) + labels
    body = b"\x0a" + _len(stream) + stream
    parsed = parse_loki_protobuf(_snappy(body), max_bytes=MIB, max_entries=1)
    assert [(e.message, e.source) for e in parsed.entries] == [("late", "late")]
    assert dict(parsed.rejected) == {"too_many_lines": 2}


def test_a_truncated_loki_body_is_refused_whole() -> None:
    body = _push([('{app="a"}', ["a0", "a1"])])
    with pytest.raises(BodyError) as error:
        parse_loki_protobuf(_snappy(body[:-3]), max_bytes=MIB)
    assert error.value.code == "bad_loki"


def test_a_huge_label_string_is_bad_labels() -> None:
    body = _push([('{app="' + "x" * (70 * 1024) + '"}', ["a"]), ('{app="b"}', ["b"])])
    parsed = parse_loki_protobuf(_snappy(body), max_bytes=MIB)
    assert [entry.message for entry in parsed.entries] == ["b"]
    assert dict(parsed.rejected) == {"bad_labels": 1}


def test_only_the_first_metadata_pairs_are_looked_at_for_a_level() -> None:
    request = loki.PushRequest()
    adapter = request.streams.add(labels=b'{app="a"}')
    entry = adapter.entries.add(line=b"m")
    entry.timestamp.seconds = SECONDS
    for _ in range(5000):
        entry.structuredMetadata.add(name=b"k", value=b"v")
    entry.structuredMetadata.add(name=b"level", value=b"error")
    first = adapter.entries.add(line=b"n")
    first.timestamp.seconds = SECONDS
    first.structuredMetadata.add(name=b"level", value=b"warn")
    parsed = parse_loki_protobuf(_snappy(request.SerializeToString()), max_bytes=MIB)
    assert [(e.message, e.level) for e in parsed.entries] == [("m", ""), ("n", "warn")]


@settings(max_examples=60, deadline=None)
@given(
    streams=st.lists(
        st.tuples(
            st.sampled_from(['{app="a"}', '{job="b", level="info"}', "not labels"]),
            st.lists(st.text(max_size=20), max_size=6),
        ),
        max_size=4,
    ),
    cap=st.none() | st.integers(0, 12),
)
def test_loki_walking_gives_what_protobufs_decoder_gives(
    streams: list[tuple[str, list[str]]], cap: int | None
) -> None:
    raw = _push(streams)
    decoded = loki.PushRequest.FromString(raw)
    expected: list[str] = []
    room = cap
    for stream in decoded.streams:
        kept = list(stream.entries)[: room if room is not None else None]
        room = None if room is None else room - len(kept)
        if stream.labels != b"not labels":
            expected += [entry.line.decode() for entry in kept]
    parsed = parse_loki_protobuf(_snappy(raw), max_bytes=MIB, max_entries=cap)
    assert [entry.message for entry in parsed.entries] == expected
    total = sum(len(lines) for _, lines in streams)
    kept_all = total if cap is None else min(cap, total)
    assert parsed.rejected.get("too_many_lines", 0) == total - kept_all


def _export(scopes: list[list[str]], *, service: str = "api") -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    attribute = resource_logs.resource.attributes.add(key="service.name")
    attribute.value.string_value = service
    for index, bodies in enumerate(scopes):
        scope_logs = resource_logs.scope_logs.add()
        scope_logs.scope.name = f"scope{index}"
        for body in bodies:
            scope_logs.log_records.add().body.string_value = body
    return request


def test_otlp_records_past_the_cap_are_counted_exactly_across_scopes() -> None:
    request = _export([["a", "b", "c"], ["d", "e"]])
    request.resource_logs.extend(_export([["f", "g"]], service="web").resource_logs)
    parsed = parse_otlp_protobuf(request.SerializeToString(), max_entries=4)
    assert [(e.message, e.source) for e in parsed.entries] == [
        ("a", "api"),
        ("b", "api"),
        ("c", "api"),
        ("d", "api"),
    ]
    assert dict(parsed.rejected) == {"too_many_lines": 3}


def test_an_otlp_record_too_large_to_decode_is_counted_and_the_others_kept() -> None:
    request = _export([["before", "after"]])
    huge = request.resource_logs[0].scope_logs[0].log_records.add()
    for _ in range(MAX_PART_BYTES // 4):
        huge.body.array_value.values.add().string_value = "a"
    parsed = parse_otlp_protobuf(request.SerializeToString())
    assert [entry.message for entry in parsed.entries] == ["before", "after"]
    assert dict(parsed.rejected) == {"record_too_large": 1}


def test_records_under_a_resource_too_large_to_read_are_counted() -> None:
    request = _export([["a", "b"]])
    for index in range(MAX_PART_BYTES // 8):
        request.resource_logs[0].resource.attributes.add(key=f"k{index}")
    request.resource_logs.extend(_export([["c"]], service="web").resource_logs)
    parsed = parse_otlp_protobuf(request.SerializeToString())
    assert [(e.message, e.source) for e in parsed.entries] == [("c", "web")]
    assert dict(parsed.rejected) == {"record_too_large": 2}


def test_a_truncated_otlp_body_is_refused_whole() -> None:
    data = _export([["a", "b"]]).SerializeToString()
    with pytest.raises(BodyError) as error:
        parse_otlp_protobuf(data[:-2])
    assert error.value.code == "bad_otlp"


@settings(max_examples=300, deadline=None)
@given(
    cut=st.integers(0, 200),
    flips=st.lists(st.tuples(st.integers(0, 199), st.integers(0, 255)), max_size=6),
    cap=st.none() | st.integers(0, 3),
)
def test_damaged_bodies_are_read_or_refused_never_raise_anything_else(
    cut: int, flips: list[tuple[int, int]], cap: int | None
) -> None:
    loki_body = bytearray(_push([('{app="a"}', ["a0", "a1"]), ('{app="b"}', ["b0"])]))
    otlp_body = bytearray(_export([["x", "y"], ["z"]]).SerializeToString())
    for body in (loki_body, otlp_body):
        for index, byte in flips:
            if index < len(body):
                body[index] = byte
    with contextlib.suppress(BodyError):
        parse_loki_protobuf(
            _snappy(bytes(loki_body[: cut or None])), max_bytes=MIB, max_entries=cap
        )
    with contextlib.suppress(BodyError):
        parse_otlp_protobuf(bytes(otlp_body[: cut or None]), max_entries=cap)
