"""Loki push bodies: JSON and snappy protobuf read into the same entries, labels mapped to the
envelope, the label-set string parsed strictly, and hostile bodies refused with a BodyError only."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cramjam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.ingest.entries import BodyError, Entry, to_records
from service.ingest.formats import loki
from service.ingest.formats.loki import (
    parse_label_set,
    parse_loki_json,
    parse_loki_protobuf,
    snappy_length,
)

PAYLOADS = Path(__file__).parent / "payloads"
MAX = 1 << 20
T = datetime(2025, 9, 19, 12, 43, 14, tzinfo=UTC)
NS = "1758285794000000000"  # T in epoch nanoseconds


def _payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return data


def _json(streams: list[Any]) -> bytes:
    return json.dumps({"streams": streams}).encode()


def _label_string(labels: dict[str, str]) -> str:
    """Write labels as Go's `labels.Labels.String()` does (JSON's escapes are valid Go escapes)."""
    pairs = (f"{name}={json.dumps(value, ensure_ascii=False)}" for name, value in labels.items())
    return "{" + ", ".join(pairs) + "}"


def _request(body: dict[str, Any]) -> Any:
    """Encode a JSON push body as the `logproto.PushRequest` Promtail would send."""
    request = loki.PushRequest()
    for stream in body["streams"]:
        adapter = request.streams.add(labels=_label_string(stream["stream"]).encode())
        for value in stream["values"]:
            entry = adapter.entries.add(line=value[1].encode())
            entry.timestamp.seconds, entry.timestamp.nanos = divmod(int(value[0]), 10**9)
            for name, text in (value[2] if len(value) == 3 else {}).items():
                entry.structuredMetadata.add(name=name.encode(), value=text.encode())
    return request


def _snappy(data: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


def _protobuf(body: dict[str, Any]) -> bytes:
    return _snappy(_request(body).SerializeToString())


def _one(labels: dict[str, str], *, metadata: dict[str, str] | None = None) -> Entry:
    value = [NS, "m", metadata] if metadata is not None else [NS, "m"]
    parsed = parse_loki_json(_json([{"stream": labels, "values": [value]}]))
    assert not parsed.rejected
    [entry] = parsed.entries
    return entry


def test_a_promtail_push_gives_one_entry_per_line_with_its_streams_labels() -> None:
    parsed = parse_loki_json((PAYLOADS / "loki_promtail.json").read_bytes())
    assert not parsed.rejected
    assert len(parsed.entries) == 12
    first, *traceback = parsed.entries[:9]
    assert first == Entry(
        message="2025-09-19 12:43:14,210 ERROR [app.views] Exception on /orders/42 [GET]",
        time=datetime(2025, 9, 19, 12, 43, 14, 210000, tzinfo=UTC),
        instance="srv-1",
        stream="",  # Docker's stderr is not one of the service's streams
        source="api",
    )
    assert traceback[0].message == "Traceback (most recent call last):"
    assert traceback[-2].message == "\tThis probably means the server terminated abnormally"
    assert {(e.source, e.instance, e.stream) for e in traceback} == {("api", "srv-1", "")}
    assert traceback[0].time == datetime(2025, 9, 19, 12, 43, 14, 210113, tzinfo=UTC)
    started, retrying, failed = parsed.entries[9:]
    assert started == Entry(
        message="job render_invoice started id=8812",
        time=datetime(2025, 9, 19, 12, 43, 15, 123, tzinfo=UTC),
        instance="worker-5c9b7d-x2x8q",
        stream="app",
        source="worker",
    )
    assert (retrying.level, failed.level) == ("warn", "error")
    assert failed.message == 'render_invoice failed: "timeout" after 3 attempts'
    assert failed.time == datetime(2025, 9, 19, 12, 43, 20, 512345, tzinfo=UTC)


def test_json_and_protobuf_give_identical_entries() -> None:
    body = _payload("loki_promtail.json")
    from_json = parse_loki_json(json.dumps(body).encode())
    from_protobuf = parse_loki_protobuf(_protobuf(body), max_bytes=MAX)
    assert from_protobuf.entries == from_json.entries
    assert from_protobuf.rejected == from_json.rejected == {}


def test_entries_become_records_of_the_callers_source_with_the_streams_instance() -> None:
    parsed = parse_loki_json((PAYLOADS / "loki_promtail.json").read_bytes())
    assert {entry.source for entry in parsed.entries[:9]} == {"api"}
    # Routing an entry by its label is the caller's: the record takes the name it was given.
    records = to_records(parsed.entries, source="api", received_at=None)
    assert len(records) == 12
    assert {r.source for r in records} == {"api"}
    assert {r.instance for r in records[:9]} == {"srv-1"}
    assert records[0].time == datetime(2025, 9, 19, 12, 43, 14, 210000, tzinfo=UTC)
    assert records[0].level == "ERROR"
    assert (records[10].level, records[11].level) == ("WARNING", "ERROR")


@pytest.mark.parametrize(
    ("labels", "source"),
    [
        ({"source": "s", "service_name": "n", "app": "a"}, "s"),
        ({"job": "j", "service_name": "n"}, "n"),
        ({"job": "j", "app": "a"}, "a"),
        ({"service": "svc", "application": "application"}, "application"),
        ({"container": "c", "job": "j"}, "j"),
        ({"compose_service": "cs", "container_name": "cn"}, "cn"),
        ({"compose_service": "web"}, "web"),
        ({"app": "", "job": "render/api"}, "render/api"),  # empty is absent; the raw value
        ({"filename": "/var/log/x.log"}, ""),
        ({}, ""),
    ],
)
def test_source_is_the_first_source_label_present(labels: dict[str, str], source: str) -> None:
    assert _one(labels).source == source


@pytest.mark.parametrize(
    ("labels", "instance"),
    [
        ({"instance": "i", "dyno": "web.1", "pod": "p"}, "i"),
        ({"dyno": "web.1", "host": "h"}, "web.1"),
        ({"pod": "p", "hostname": "h"}, "p"),
        ({"host": "h", "container_id": "c"}, "h"),
        ({"hostname": "h", "container_id": "c"}, "h"),
        ({"container_id": "3f2a"}, "3f2a"),
        ({"app": "api"}, ""),
    ],
)
def test_instance_is_the_first_instance_label_present(
    labels: dict[str, str], instance: str
) -> None:
    assert _one(labels).instance == instance


@pytest.mark.parametrize(
    ("word", "stream"),
    [
        *((w, w) for w in ("app", "router", "build", "deploy", "request")),
        ("stderr", ""),
        ("stdout", ""),
        ("App", ""),
    ],
)
def test_stream_is_kept_only_when_it_is_a_service_stream(word: str, stream: str) -> None:
    assert _one({"stream": word}).stream == stream


def test_level_comes_from_structured_metadata_then_labels() -> None:
    assert _one({"level": "info"}).level == "info"
    assert _one({"detected_level": "warn", "severity": "error"}).level == "warn"
    assert _one({"severity": "error"}).level == "error"
    assert _one({"level": "info"}, metadata={"severity": "error"}).level == "error"
    assert _one({"level": "info"}, metadata={"trace_id": "x"}).level == "info"
    assert _one({}).level == ""


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (NS, T),
        ("1758285794123456789", T.replace(microsecond=123456)),  # nanoseconds cut to micro
        ("000000001", datetime(1970, 1, 1, tzinfo=UTC)),
        (1758285794000000000, T),  # a JSON number, leniently
        (1.758285794e18, T),
    ],
)
def test_timestamps_are_epoch_nanoseconds(timestamp: object, expected: datetime) -> None:
    [entry] = parse_loki_json(_json([{"stream": {}, "values": [[timestamp, "m"]]}])).entries
    assert entry.time == expected


@pytest.mark.parametrize(
    "timestamp",
    [
        "0",
        "-1",
        "+1758285794000000000",
        " 1758285794000000000",
        "1758285794_000000000",
        "1.758285794e18",
        "2025-09-19T12:43:14Z",
        "",
        "١٧٥٨",  # digits, but not ASCII ones
        "99999999999999999999",
        2**80,
        -5,
        True,
        None,
        [NS],
    ],
)
def test_a_bad_timestamp_skips_its_value(timestamp: object) -> None:
    parsed = parse_loki_json(_json([{"stream": {}, "values": [[timestamp, "m"], [NS, "kept"]]}]))
    assert [e.message for e in parsed.entries] == ["kept"]
    assert parsed.rejected == {"bad_timestamp": 1}


def test_json_nan_and_infinity_are_bad_timestamps() -> None:
    body = b'{"streams": [{"stream": {}, "values": [[NaN, "m"], [Infinity, "m"]]}]}'
    assert parse_loki_json(body).rejected == {"bad_timestamp": 2}


def test_values_and_streams_of_the_wrong_shape_are_skipped_and_counted() -> None:
    body = _json(
        [
            {"stream": {"app": "api"}, "values": [[NS, "good"]]},
            {"stream": {"app": "api"}, "values": "not a list"},
            "not a stream",
            {"stream": {"app": 42}, "values": [[NS, "a"], [NS, "b"]]},
            {"stream": ["app", "api"], "values": [[NS, "c"]]},
            {
                "stream": {"app": "api"},
                "values": [
                    [NS],
                    [NS, "m", {}, "extra"],
                    [NS, 42],
                    [NS, None],
                    [NS, "m", {"level": 3}],
                    [NS, "m", ["level", "error"]],
                    {"ts": NS, "line": "m"},
                    "line",
                    [NS, "also good", {}],
                ],
            },
        ]
    )
    parsed = parse_loki_json(body)
    assert [e.message for e in parsed.entries] == ["good", "also good"]
    assert parsed.rejected == {"bad_stream": 2, "bad_labels": 3, "bad_value": 8}


def test_a_stream_without_labels_keeps_its_lines() -> None:
    parsed = parse_loki_json(_json([{"values": [[NS, "m"]]}]))
    assert parsed.entries == [Entry(message="m", time=T)]


def test_lone_surrogates_in_json_become_replacement_characters() -> None:
    body = b'{"streams": [{"stream": {"app": "a\\ud800"}, "values": [["%s", "x\\udc00y"]]}]}'
    [entry] = parse_loki_json(body % NS.encode()).entries
    assert (entry.source, entry.message) == ("a\ufffd", "x\ufffdy")
    entry.message.encode("utf-8")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'{"streams": [',
        b"[]",
        b"null",
        b'"streams"',
        b"{}",
        b'{"streams": {}}',
        b'{"streams": null}',
        b'{"streams": "[]"}',
        b'{"Streams": []}',
        b"\xff\xfe\x00garbage",
        b'{"streams": [{"values": [["1", "\xff"]]}]}',  # not UTF-8
        b"[" * 100000 + b"]" * 100000,
        b'{"resourceLogs": []}',  # OTLP JSON sent to the Loki endpoint
    ],
)
def test_an_unreadable_json_body_is_a_bad_loki_body_error(body: bytes) -> None:
    with pytest.raises(BodyError) as caught:
        parse_loki_json(body)
    assert caught.value.code == "bad_loki"
    assert caught.value.detail


def test_an_empty_streams_list_is_an_empty_push() -> None:
    parsed = parse_loki_json(b'{"streams": []}')
    assert parsed.entries == []
    assert not parsed.rejected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{app="api", job="render", instance="srv-1"}',
            {"app": "api", "job": "render", "instance": "srv-1"},
        ),
        ("{}", {}),
        (" { } ", {}),
        ('{a="1",b="2",}', {"a": "1", "b": "2"}),  # PromQL allows a trailing comma
        ('{\n  a = "1" ,\tb="2"\n}', {"a": "1", "b": "2"}),
        ('{a=""}', {}),  # an empty value is an absent label, as in Loki
        ('{_a_1="x"}', {"_a_1": "x"}),
        ('{"service.name"="api"}', {"service.name": "api"}),  # Prometheus 3 UTF-8 names
        (r'{a="say \"hi\""}', {"a": 'say "hi"'}),
        (r'{a="C:\\logs\\"}', {"a": "C:\\logs\\"}),
        (r'{a="one\ntwo"}', {"a": "one\ntwo"}),
        (r'{a="\a\b\f\r\t\v"}', {"a": "\a\b\f\r\t\v"}),
        (r'{a="caf\u00e9 \U0001F600"}', {"a": "café 😀"}),
        (r'{a="caf\xc3\xa9"}', {"a": "café"}),  # \x escapes are bytes of UTF-8
        (r'{a="\303\251\101"}', {"a": "éA"}),  # octal too
        (r'{a="\xff!"}', {"a": "\ufffd!"}),  # invalid UTF-8, as strconv.Quote writes it
        ('{a="café ☃"}', {"a": "café ☃"}),
        ('{a="{b=\\"c\\"}", d="}"}', {"a": '{b="c"}', "d": "}"}),
    ],
)
def test_label_sets_parse_as_prometheus_writes_them(text: str, expected: dict[str, str]) -> None:
    assert parse_label_set(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "app=api",
        "{",
        "}",
        "{a}",
        "{a=}",
        "{a=b}",
        "{a='b'}",
        "{a=`b`}",
        '{a="b"',
        '{a="b}',
        '{a="b" c="d"}',
        '{a="b",,c="d"}',
        "{,}",
        '{a="b",a="c"}',
        '{a="b"} trailing',
        '{a="b"}{c="d"}',
        'up{a="b"}',
        '{1a="b"}',
        '{a-b="c"}',
        '{a.b="c"}',
        '{""="x"}',
        '{a="line\nbreak"}',
        r'{a="\q"}',
        r'{a="\'"}',
        r'{a="\x4"}',
        r'{a="\xZZ"}',
        r'{a="\400"}',
        r'{a="\0"}',
        r'{a="\u12"}',
        r'{a="\ud800"}',
        r'{a="\U00110000"}',
        r'{a="\u+123"}',
        '{a="trailing backslash\\',
    ],
)
def test_malformed_label_sets_are_none(text: str) -> None:
    assert parse_label_set(text) is None


def test_label_set_parsing_is_linear() -> None:
    started = time.perf_counter()
    assert parse_label_set('{a="' + "\\\\" * 200_000 + '"}') == {"a": "\\" * 200_000}
    assert parse_label_set('{a="' + "x" * 1_000_000 + '"') is None
    assert parse_label_set("{" + 'a="b",' * 100_000) is None
    assert parse_label_set("{" + " " * 1_000_000) is None
    assert time.perf_counter() - started < 5


def _stream(labels: bytes, *lines: tuple[int, int, bytes]) -> bytes:
    request = loki.PushRequest()
    adapter = request.streams.add(labels=labels, hash=12345)
    for seconds, nanos, line in lines:
        entry = adapter.entries.add(line=line)
        entry.timestamp.seconds, entry.timestamp.nanos = seconds, nanos
    return _snappy(request.SerializeToString())


def test_a_protobuf_stream_with_unparsable_labels_is_counted_per_entry() -> None:
    body = _stream(b'{app="api" job="x"}', (1758285794, 0, b"a"), (1758285794, 0, b"b"))
    parsed = parse_loki_protobuf(body, max_bytes=MAX)
    assert parsed.entries == []
    assert parsed.rejected == {"bad_labels": 2}


def test_protobuf_entries_without_a_valid_timestamp_are_counted() -> None:
    body = _stream(
        b'{app="api"}',
        (0, 0, b"no timestamp"),
        (-1, 0, b"before the epoch"),
        (1758285794, 10**9, b"nanos out of range"),
        (1758285794, -1, b"negative nanos"),
        (2**62, 0, b"past year 9999"),
        (1758285794, 999_999_999, b"kept"),
    )
    parsed = parse_loki_protobuf(body, max_bytes=MAX)
    assert [(e.message, e.time) for e in parsed.entries] == [
        ("kept", T.replace(microsecond=999999))
    ]
    assert parsed.rejected == {"bad_timestamp": 5}


def test_protobuf_text_that_is_not_utf8_is_decoded_with_replacement() -> None:
    body = _stream(b'{app="caf\xe9"}', (1758285794, 0, b"bad \xff byte"))
    [entry] = parse_loki_protobuf(body, max_bytes=MAX).entries
    assert (entry.source, entry.message) == ("caf\ufffd", "bad \ufffd byte")


def test_unknown_protobuf_fields_are_ignored() -> None:
    request = _request({"streams": [{"stream": {"app": "api"}, "values": [[NS, "m"]]}]})
    format_field = b"\x12\x04loki"  # PushRequest.format = 2, which Loki added later
    body = _snappy(request.SerializeToString() + format_field)
    assert [e.message for e in parse_loki_protobuf(body, max_bytes=MAX).entries] == ["m"]


def test_an_empty_push_request_has_no_entries() -> None:
    parsed = parse_loki_protobuf(_snappy(b""), max_bytes=MAX)
    assert parsed.entries == []
    assert not parsed.rejected


def test_a_snappy_bomb_is_refused_before_it_is_inflated(monkeypatch: pytest.MonkeyPatch) -> None:
    def inflate(*_: object, **__: object) -> bytes:
        raise AssertionError("the body was inflated")

    monkeypatch.setattr(cramjam.snappy, "decompress_raw", inflate)
    body = b"\xff\xff\xff\xff\x0f" + b"\x00" * 16  # declares 4 GiB - 1 in 21 bytes
    with pytest.raises(BodyError) as caught:
        parse_loki_protobuf(body, max_bytes=MAX)
    assert caught.value.code == "payload_too_large"
    assert "4294967295" in caught.value.detail


def test_the_limit_is_the_uncompressed_length() -> None:
    data = _request(_payload("loki_promtail.json")).SerializeToString()
    body = _snappy(data)
    assert len(parse_loki_protobuf(body, max_bytes=len(data)).entries) == 12
    with pytest.raises(BodyError) as caught:
        parse_loki_protobuf(body, max_bytes=len(data) - 1)
    assert caught.value.code == "payload_too_large"


@pytest.mark.parametrize(
    ("head", "length"),
    [(b"\x00", 0), (b"\x7f", 127), (b"\x80\x01", 128), (b"\xff\xff\xff\xff\x0f", 2**32 - 1)],
)
def test_the_snappy_length_is_the_leading_varint(head: bytes, length: int) -> None:
    assert snappy_length(head + b"rest") == length


@pytest.mark.parametrize(
    "head", [b"", b"\x80", b"\xff\xff\xff\xff", b"\xff" * 5, b"\xff" * 4 + b"\x10"]
)
def test_a_snappy_length_that_is_cut_short_or_too_long_is_bad_loki(head: bytes) -> None:
    with pytest.raises(BodyError) as caught:
        snappy_length(head)
    assert caught.value.code == "bad_loki"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x80",
        b"\x05abc",  # declares 5 bytes, holds a corrupt block
        b"\x0a\x00",
        b'{"streams": []}',  # JSON sent as protobuf
        _snappy(b"\xff\xff\xff"),  # not a protobuf message
        _snappy(b"\x0a\x05ab"),  # a stream cut short
        _snappy(b"\x0b" * 100_000),  # groups nested past the decoder's depth limit
        _snappy(b"\x0a\x03\x12\x01\x0a"),  # an entry cut short inside a stream
    ],
)
def test_an_unreadable_protobuf_body_is_a_bad_loki_body_error(body: bytes) -> None:
    with pytest.raises(BodyError) as caught:
        parse_loki_protobuf(body, max_bytes=MAX)
    assert caught.value.code == "bad_loki"
    assert caught.value.detail


@settings(max_examples=300, derandomize=True)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_only_ever_raise_body_error(data: bytes) -> None:
    with contextlib.suppress(BodyError):
        parse_loki_json(data)
    with contextlib.suppress(BodyError):
        parse_loki_protobuf(data, max_bytes=MAX)


@settings(max_examples=300, derandomize=True)
@given(st.binary(max_size=2000))
def test_arbitrary_snappy_compressed_bytes_only_ever_raise_body_error(data: bytes) -> None:
    try:
        parsed = parse_loki_protobuf(_snappy(data), max_bytes=MAX)
    except BodyError:
        return
    assert all(isinstance(entry.message, str) for entry in parsed.entries)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=24,
)


@settings(max_examples=300, derandomize=True)
@given(st.lists(_JSON_VALUES, max_size=4))
def test_any_streams_list_parses_without_raising(streams: list[Any]) -> None:
    parsed = parse_loki_json(json.dumps({"streams": streams}).encode())
    assert all(isinstance(entry.message, str) for entry in parsed.entries)


@settings(max_examples=300, derandomize=True)
@given(st.text(max_size=200))
def test_any_text_parses_as_a_label_set_or_none(text: str) -> None:
    labels = parse_label_set(text)
    assert labels is None or all(isinstance(value, str) and value for value in labels.values())


@settings(max_examples=200, derandomize=True)
@given(
    st.dictionaries(
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), st.text(max_size=20)
    )
)
def test_label_strings_as_go_writes_them_read_back(labels: dict[str, str]) -> None:
    expected = {name: value for name, value in labels.items() if value}
    assert parse_label_set(_label_string(labels)) == expected


@settings(max_examples=300, derandomize=True)
@given(
    st.binary(max_size=40),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-(2**31), 2**31 - 1),
    st.binary(max_size=40),
)
def test_any_push_request_parses_without_raising(
    labels: bytes, seconds: int, nanos: int, line: bytes
) -> None:
    parsed = parse_loki_protobuf(_stream(labels, (seconds, nanos, line)), max_bytes=MAX)
    assert len(parsed.entries) + sum(parsed.rejected.values()) == 1
