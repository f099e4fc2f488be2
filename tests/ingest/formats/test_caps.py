"""The line cap while a JSON or logplex body is read: reading stops, the rest is only counted."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from typing import Any

import cramjam
import pytest
from google.protobuf import json_format  # type: ignore[import-untyped]
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from service.ingest.entries import Parsed
from service.ingest.formats import loki
from service.ingest.formats.caps import nonempty_byte_lines, nonempty_lines
from service.ingest.formats.jsonbody import parse_json_body
from service.ingest.formats.logplex import parse_logplex
from service.ingest.formats.loki import parse_loki_json, parse_loki_protobuf
from service.ingest.formats.otlp import parse_otlp_json, parse_otlp_protobuf

MIB = 1 << 20


def _peak(call: Callable[[], Parsed]) -> tuple[Parsed, int]:
    tracemalloc.start()
    try:
        parsed = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return parsed, peak


def _ndjson(count: int) -> bytes:
    return "".join(json.dumps({"message": f"line {n}"}) + "\n" for n in range(count)).encode()


def test_a_json_array_of_a_million_lines_is_read_only_up_to_the_cap() -> None:
    body = b"[" + b'"ab",' * 999_999 + b'"ab"]'  # two letters: no cached one-letter strings
    parsed, peak = _peak(lambda: parse_json_body(body, max_entries=1000))
    assert len(parsed.entries) == 1000
    assert parsed.rejected["too_many_lines"] == 1  # the rest of the array's one line
    assert peak < len(body) * 2 + 4 * MIB


def test_ndjson_past_the_cap_is_counted_by_its_lines() -> None:
    parsed = parse_json_body(_ndjson(10), max_entries=4)
    assert [entry.message for entry in parsed.entries] == [f"line {n}" for n in range(4)]
    assert dict(parsed.rejected) == {"too_many_lines": 6}


@pytest.mark.parametrize(
    "body",
    [b'["a", "b" ,"c" ]', b'{"message":"a"}\n["b","c"]\n', b'[]\n["a","b","c"]'],
    ids=["array", "object-then-array", "empty-array-first"],
)
def test_a_body_of_exactly_the_cap_reads_whole(body: bytes) -> None:
    parsed = parse_json_body(body, max_entries=3)
    assert [entry.message for entry in parsed.entries] == ["a", "b", "c"]
    assert not parsed.rejected


def test_an_array_is_read_as_json_reads_it_without_a_cap() -> None:
    for body in (b'["a","b",]', b'["a" "b"]', b'["a",'):
        capped = parse_json_body(body + b'\n{"message":"z"}', max_entries=100)
        whole = parse_json_body(body + b'\n{"message":"z"}')
        assert capped == whole
        assert dict(capped.rejected) == {"bad_json": 1}


def test_logplex_past_the_cap_is_not_framed_but_counted() -> None:
    body = b"a\n" * 1_000_000
    parsed, peak = _peak(lambda: parse_logplex(body, max_entries=1000))
    assert len(parsed.entries) == 1000
    assert dict(parsed.rejected) == {"too_many_lines": 999_000}
    assert peak < 8 * MIB


def test_logplex_within_the_cap_is_framed_whole() -> None:
    frame = b"<190>1 2025-09-19T12:43:14+00:00 host app web.1 - line\n"
    body = b"%d %s" % (len(frame), frame) * 5
    assert parse_logplex(body, max_entries=5) == parse_logplex(body)
    assert len(parse_logplex(body, max_entries=5).entries) == 5


@pytest.mark.parametrize(
    ("text", "count"),
    [("", 0), ("\n\r\n", 0), ("a", 1), ("\na\n\n\nb\n", 2), ("a\r\nb\rc", 3)],
)
def test_bytes_and_text_lines_are_counted_alike(text: str, count: int) -> None:
    assert nonempty_lines(text) == count
    assert nonempty_byte_lines(text.encode()) == count


NS = "1760000000000000000"


def _loki_body() -> dict[str, Any]:
    return {
        "streams": [
            {"stream": {"app": "api"}, "values": [[NS, f"api {n}"] for n in range(3)]},
            {"stream": {"app": "web"}, "values": [[NS, f"web {n}"] for n in range(4)]},
            {"stream": {"app": "job"}, "values": [[NS, "job 0"]]},
        ]
    }


def _loki_protobuf(body: dict[str, Any]) -> bytes:
    request = loki.PushRequest()
    for stream in body["streams"]:
        labels = ", ".join(f'{k}="{v}"' for k, v in stream["stream"].items())
        adapter = request.streams.add(labels=("{" + labels + "}").encode())
        for stamp, line in stream["values"]:
            entry = adapter.entries.add(line=line.encode())
            entry.timestamp.seconds, entry.timestamp.nanos = divmod(int(stamp), 10**9)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def _otlp_request() -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    for name, count in (("api", 3), ("web", 4), ("job", 1)):
        scope = request.resource_logs.add().scope_logs.add()
        for n in range(count):
            scope.log_records.add().body.string_value = f"{name} {n}"
    return request


def _messages(parsed: Parsed) -> list[str]:
    return [entry.message for entry in parsed.entries]


CAPPED = ["api 0", "api 1", "api 2", "web 0", "web 1"]


@pytest.mark.parametrize(
    "parse",
    [
        lambda cap: parse_loki_json(json.dumps(_loki_body()).encode(), max_entries=cap),
        lambda cap: parse_loki_protobuf(
            _loki_protobuf(_loki_body()), max_bytes=MIB, max_entries=cap
        ),
        lambda cap: parse_otlp_protobuf(_otlp_request().SerializeToString(), max_entries=cap),
        lambda cap: parse_otlp_json(
            json_format.MessageToJson(_otlp_request()).encode(), max_entries=cap
        ),
    ],
    ids=["loki-json", "loki-protobuf", "otlp-protobuf", "otlp-json"],
)
def test_labelled_formats_read_up_to_the_cap_and_count_the_rest(
    parse: Callable[[int | None], Parsed],
) -> None:
    assert len(parse(None).entries) == 8
    assert not parse(8).rejected
    capped = parse(5)
    assert _messages(capped) == CAPPED
    assert dict(capped.rejected) == {"too_many_lines": 3}
