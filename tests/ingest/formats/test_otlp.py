"""OTLP/HTTP logs: both encodings give the same entries, every mapping rule, the export response,
and hostile bodies that give BodyError and nothing else."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from service.ingest.assemble import assemble
from service.ingest.entries import BodyError, Entry, Parsed, to_records
from service.ingest.formats.otlp import export_response, parse_otlp_json, parse_otlp_protobuf
from service.ingest.structured import read_json_record
from tests.strategies import json_values

PAYLOADS = Path(__file__).parent / "payloads"
EXPORT = (PAYLOADS / "otlp_collector_export.json").read_bytes()
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/app/payments/capture.py", line 58, in capture\n'
    "    cursor.execute(INSERT_CAPTURE, params)\n"
    '  File "/usr/local/lib/python3.12/site-packages/psycopg/cursor.py", line 732, in execute\n'
    "    raise ex.with_traceback(None)\n"
    "psycopg.OperationalError: server closed the connection unexpectedly"
)
API = {"instance": "checkout-api-7d9f8c6b5-x2kqp", "source": "checkout-api"}


def otlp_json_to_protobuf(data: bytes) -> bytes:
    """Encode an OTLP/JSON export request as the protobuf a client would send instead.

    OTLP/JSON writes trace and span ids in hex where protobuf's JSON mapping reads base64, so they
    are converted first; everything else is protobuf's own JSON reader (`json_format`).
    """
    document = json.loads(data)
    for resource_logs in document.get("resourceLogs", []):
        for scope_logs in resource_logs.get("scopeLogs", []) + resource_logs.get("scope_logs", []):
            records = scope_logs.get("logRecords", []) + scope_logs.get("log_records", [])
            for record in records:
                for key in ("traceId", "trace_id", "spanId", "span_id"):
                    if key in record:
                        record[key] = base64.b64encode(bytes.fromhex(record[key])).decode()
    request = json_format.ParseDict(
        document, ExportLogsServiceRequest(), ignore_unknown_fields=True
    )
    return bytes(request.SerializeToString())


def json_request(record: dict[str, Any]) -> bytes:
    """An OTLP/JSON request of one log record with body "m" and the given fields."""
    record = {"body": {"stringValue": "m"}, **record}
    document = {"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]}
    return json.dumps(document).encode()


def both(request: ExportLogsServiceRequest) -> Parsed:
    """Parse a request in both encodings, check they agree, and return what they gave."""
    from_protobuf = parse_otlp_protobuf(request.SerializeToString())
    from_json = parse_otlp_json(json_format.MessageToJson(request).encode())
    assert from_json == from_protobuf
    return from_protobuf


def attributes(**values: Any) -> list[KeyValue]:
    """KeyValues from keyword arguments, with "__" standing for "." in the key."""
    return [KeyValue(key=key.replace("__", "."), value=any_value(v)) for key, v in values.items()]


def any_value(value: Any) -> AnyValue:
    if isinstance(value, AnyValue):
        return value
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    return AnyValue(string_value=value)


def request_of(
    *records: LogRecord, resource: dict[str, Any] | None = None, scope: str = "app"
) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.extend(attributes(**(resource or {})))
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = scope
    scope_logs.log_records.extend(records)
    return request


def one(record: LogRecord, **kwargs: Any) -> Entry:
    parsed = both(request_of(record, **kwargs))
    assert not parsed.rejected
    [entry] = parsed.entries
    return entry


def record_of(body: Any = "m", **attrs: Any) -> LogRecord:
    return LogRecord(body=any_value(body), attributes=attributes(**attrs))


# The sample export: two resources, an SDK's and a Heroku dyno's.


def test_the_collector_export_maps_every_record() -> None:
    parsed = parse_otlp_json(EXPORT)
    assert parsed.rejected == {"empty_message": 1}
    assert parsed.entries == [
        Entry(
            message="capturing payment for order 8812",
            time=datetime(2025, 9, 19, 12, 43, 14, 123456, tzinfo=UTC),
            stream="app",
            level="INFO",
            **API,
        ),
        Entry(
            message=f"payment capture failed\n{TRACEBACK}",
            time=datetime(2025, 9, 19, 12, 43, 15, tzinfo=UTC),
            stream="app",
            level="ERROR",
            **API,
        ),
        Entry(
            message='{"message":"retrying capture","order_id":8812,"attempt":2,'
            '"backoff_seconds":1.5,"idempotent":true,"gateways":["stripe","adyen"]}',
            time=datetime(2025, 9, 19, 12, 43, 16, 500000, tzinfo=UTC),
            stream="app",
            level="WARN",
            **API,
        ),
        Entry(
            message='10.0.1.5:48122 - "POST /v1/checkout HTTP/1.1" 500',
            time=datetime(2025, 9, 19, 12, 43, 18, tzinfo=UTC),
            stream="request",
            level="INFO",
            **API,
        ),
        Entry(
            message='worker exiting: job queue unreachable error="connection refused"',
            time=datetime(2025, 9, 19, 12, 43, 19, 250000, tzinfo=UTC),
            instance="worker.1",
            stream="app",
            level="FATAL",
            source="shop-worker",
        ),
    ]


def test_protobuf_gives_the_same_entries_as_json() -> None:
    protobuf = otlp_json_to_protobuf(EXPORT)
    request = ExportLogsServiceRequest.FromString(protobuf)
    first = request.resource_logs[0].scope_logs[0].log_records[0]
    assert first.trace_id == bytes.fromhex("5b8efff798038103d269b633813fc60c")
    assert parse_otlp_protobuf(protobuf) == parse_otlp_json(EXPORT)


def test_the_traceback_in_exception_stacktrace_is_recognised() -> None:
    entries = parse_otlp_json(EXPORT).entries
    assert entries[1].source == "checkout-api"
    records = to_records(entries[1:2], source="checkout-api", received_at=None)
    assert {record.instance for record in records} == {API["instance"]}
    [event] = [event for event in assemble(records) if event.exception_type]
    assert event.exception_type == "psycopg.OperationalError"
    assert event.exception_message == "server closed the connection unexpectedly"
    assert [frame.function for frame in event.frames] == ["capture", "execute"]


def test_a_kvlist_body_reads_as_a_json_log_line() -> None:
    message = parse_otlp_json(EXPORT).entries[2].message
    record = read_json_record(message)
    assert record is not None
    assert record.text.startswith("retrying capture order_id=8812 attempt=2")


# Message: the body, rendered; exception attributes; a few fields worth matching.


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("plain text", "plain text"),
        ("two\nlines\n", "two\nlines"),
        (42, "42"),
        (-7, "-7"),
        (2.5, "2.5"),
        (True, "true"),
        (False, "false"),
        ("é".encode(), "é"),
        (b"\xff\x00", "/wA="),
        (
            AnyValue(
                array_value={"values": [any_value("a"), any_value(1), AnyValue()]},
            ),
            '["a",1,null]',
        ),
        (
            AnyValue(
                kvlist_value={
                    "values": attributes(msg="m", n=1, f=float("inf"), raw=b"x", nested="é")
                }
            ),
            '{"msg":"m","n":1,"f":"inf","raw":"x","nested":"é"}',
        ),
    ],
)
def test_every_kind_of_body_renders_readably(body: Any, expected: str) -> None:
    assert one(record_of(body)).message == expected


def test_exception_attributes_follow_the_body() -> None:
    record = record_of(
        "payment failed",
        exception__type="ValueError",
        exception__message="boom",
        exception__stacktrace='Traceback (most recent call last):\n  File "/app/x.py", line 3, in f\nValueError: boom\n',
    )
    assert one(record).message == (
        'payment failed\nTraceback (most recent call last):\n  File "/app/x.py", line 3, in f\n'
        "ValueError: boom"
    )


@pytest.mark.parametrize(
    ("body", "attrs", "expected"),
    [
        # No stack trace: the exception's type and message.
        (
            "failed",
            {"exception__type": "KeyError", "exception__message": "'id'"},
            "failed\nKeyError: 'id'",
        ),
        ("failed", {"exception__message": "timed out"}, "failed\ntimed out"),
        # A trace that does not name the exception (Go) is headed by it.
        (
            "failed",
            {"exception__type": "*net.OpError", "exception__stacktrace": "goroutine 1 [running]:"},
            "failed\n*net.OpError\ngoroutine 1 [running]:",
        ),
        # Already in the body: not twice.
        (
            "boom\nValueError: boom",
            {"exception__type": "ValueError", "exception__message": "boom"},
            "boom\nValueError: boom",
        ),
        # An empty body with an exception: the exception alone.
        ("", {"exception__type": "ValueError", "exception__message": "boom"}, "ValueError: boom"),
    ],
)
def test_exception_text_is_added_once(body: str, attrs: dict[str, Any], expected: str) -> None:
    assert one(record_of(body, **attrs)).message == expected


def test_a_kvlist_body_already_holding_the_traceback_does_not_repeat_it() -> None:
    stack = 'Traceback (most recent call last):\n  File "/app/x.py", line 3, in f\nValueError: boom'
    body = AnyValue(kvlist_value={"values": attributes(message="m", exception=stack)})
    entry = one(LogRecord(body=body, attributes=attributes(exception__stacktrace=stack)))
    assert entry.message == json.dumps({"message": "m", "exception": stack}, separators=(",", ":"))


@pytest.mark.parametrize(
    ("body", "attrs", "expected"),
    [
        (
            "query failed",
            {"error": "server closed the connection"},
            'query failed error="server closed the connection"',
        ),
        ("query failed", {"error__type": "timeout"}, "query failed error.type=timeout"),
        ("query failed: timeout", {"error__type": "timeout"}, "query failed: timeout"),
        ("a\nb", {"error": "x"}, "a error=x\nb"),
        ("m", {"user": "u1", "code__lineno": 3}, "m"),
    ],
)
def test_error_attributes_follow_the_first_line(
    body: str, attrs: dict[str, Any], expected: str
) -> None:
    assert one(record_of(body, **attrs)).message == expected


def test_error_attributes_join_a_kvlist_body_as_keys() -> None:
    body = AnyValue(kvlist_value={"values": attributes(message="m", error="kept")})
    entry = one(LogRecord(body=body, attributes=attributes(error="ignored", error__type="io")))
    assert json.loads(entry.message) == {"message": "m", "error": "kept", "error.type": "io"}


@pytest.mark.parametrize(
    "body", ["", "  \n", AnyValue(), AnyValue(kvlist_value={}), AnyValue(array_value={})]
)
def test_a_record_with_nothing_to_say_is_rejected_as_empty(body: Any) -> None:
    parsed = both(request_of(record_of(body), LogRecord(body=any_value("kept"))))
    assert parsed.rejected == {"empty_message": 1}
    assert [entry.message for entry in parsed.entries] == ["kept"]


def test_deep_kvlist_bodies_are_rendered_to_a_capped_depth() -> None:
    value = any_value("bottom")
    for _ in range(25):
        value = AnyValue(kvlist_value={"values": [KeyValue(key="k", value=value)]})
    message = one(LogRecord(body=value)).message
    rendered = json.loads(message)
    depth = 0
    while isinstance(rendered, dict):
        rendered = rendered["k"]
        depth += 1
    assert (depth, rendered) == (8, "…")


# Time, level, source, instance, stream.

NANOS = 1758285794_123456789
WHEN = datetime(2025, 9, 19, 12, 43, 14, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("time", "observed", "expected"),
    [
        (NANOS, 0, WHEN),
        (NANOS, NANOS + 10**9, WHEN),
        (0, NANOS, WHEN),
        (0, 0, None),
        (1, 0, datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_time_is_the_event_time_else_the_observed_time(
    time: int, observed: int, expected: datetime | None
) -> None:
    record = LogRecord(body=any_value("m"), time_unix_nano=time, observed_time_unix_nano=observed)
    assert one(record).time == expected


@pytest.mark.parametrize("stamp", ["1758285794123456789", 1758285794123456789])
def test_json_times_may_be_strings_or_numbers(stamp: str | int) -> None:
    [entry] = parse_otlp_json(json_request({"timeUnixNano": stamp})).entries
    assert entry.time == WHEN


@pytest.mark.parametrize(
    ("number", "text", "expected"),
    [
        (0, "", ""),
        (1, "", "TRACE"),
        (4, "", "TRACE"),
        (5, "", "DEBUG"),
        (9, "", "INFO"),
        (12, "", "INFO"),
        (13, "", "WARN"),
        (17, "", "ERROR"),
        (20, "", "ERROR"),
        (21, "", "FATAL"),
        (24, "", "FATAL"),
        (25, "", ""),
        (17, "Error", "Error"),
        (9, " warning ", "warning"),
    ],
)
def test_level_is_the_severity_text_else_the_severity_number_band(
    number: int, text: str, expected: str
) -> None:
    record = LogRecord(body=any_value("m"), severity_number=number, severity_text=text)
    assert one(record).level == expected


def test_json_severity_may_be_a_number_or_its_enum_name() -> None:
    for number in (17, "SEVERITY_NUMBER_ERROR"):
        [entry] = parse_otlp_json(json_request({"severityNumber": number})).entries
        assert entry.level == "ERROR"


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"service__name": "api"}, "api"),
        ({"service__name": " api "}, "api"),
        ({"service__name": "unknown_service"}, ""),
        ({"service__name": "unknown_service:python3"}, ""),
        ({"service__name": "unknown_service:python3", "heroku__app__name": "shop"}, "shop"),
        ({"heroku__app__name": "shop"}, "shop"),
        ({"service__name": "api", "heroku__app__name": "shop"}, "api"),
        ({"service__name": 7}, ""),
        ({}, ""),
    ],
)
def test_source_is_the_service_name_else_the_heroku_app(
    resource: dict[str, Any], expected: str
) -> None:
    assert one(record_of(), resource=resource).source == expected


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"service__instance__id": "i-1", "host__name": "h", "k8s__pod__name": "p"}, "i-1"),
        ({"host__name": "h", "k8s__pod__name": "p", "heroku__dyno__name": "web.1"}, "h"),
        ({"k8s__pod__name": "p", "heroku__dyno__name": "web.1"}, "p"),
        ({"heroku__dyno__name": "web.1", "heroku__dyno__id": "4c3a"}, "web.1"),
        ({"heroku__dyno__id": "4c3a"}, "4c3a"),
        ({"service__instance__id": "", "host__name": "h"}, "h"),
        ({}, ""),
    ],
)
def test_instance_is_the_first_of_instance_host_pod_dyno(
    resource: dict[str, Any], expected: str
) -> None:
    assert one(record_of(), resource=resource).instance == expected


@pytest.mark.parametrize(
    ("scope", "attrs", "expected"),
    [
        ("app.payments", {}, "app"),
        ("", {}, "app"),
        ("uvicorn.access", {}, "request"),
        ("gunicorn.access", {}, "request"),
        ("access", {}, "request"),
        (
            "app.http",
            {"http__request__method": "GET", "http__response__status_code": 502},
            "request",
        ),
        ("app.http", {"http__method": "GET", "http__status_code": 502}, "request"),
        ("app.http", {"http__request__method": "GET"}, "app"),
        ("app.accesses", {}, "app"),
    ],
)
def test_stream_is_request_for_access_logs_else_app(
    scope: str, attrs: dict[str, Any], expected: str
) -> None:
    assert one(record_of("m", **attrs), scope=scope).stream == expected


def test_each_resource_names_its_own_records() -> None:
    request = request_of(record_of("a"), resource={"service__name": "api", "host__name": "h1"})
    other = request.resource_logs.add()
    other.resource.attributes.extend(attributes(service__name="web"))
    other.scope_logs.add().log_records.append(record_of("b"))
    entries = both(request).entries
    assert [(e.message, e.source, e.instance) for e in entries] == [
        ("a", "api", "h1"),
        ("b", "web", ""),
    ]


# Requests without records, and snake_case JSON.


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b'{"resourceLogs":[]}',
        b'{"resourceLogs":[{"resource":{},"scopeLogs":[]}]}',
        b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[]}]}]}',
        b'{"somethingNew":{"x":1}}',
    ],
)
def test_a_request_without_records_is_empty(body: bytes) -> None:
    assert parse_otlp_json(body) == Parsed()
    assert parse_otlp_protobuf(otlp_json_to_protobuf(body)) == Parsed()


def test_an_empty_protobuf_body_is_an_empty_request() -> None:
    assert parse_otlp_protobuf(b"") == Parsed()


def test_snake_case_json_reads_like_camel_case() -> None:
    camel = json.loads(EXPORT)
    snake = copy.deepcopy(camel)
    snake["resource_logs"] = snake.pop("resourceLogs")
    for resource_logs in snake["resource_logs"]:
        if "scopeLogs" in resource_logs:
            resource_logs["scope_logs"] = resource_logs.pop("scopeLogs")
        for scope_logs in resource_logs["scope_logs"]:
            if "logRecords" in scope_logs:
                scope_logs["log_records"] = scope_logs.pop("logRecords")
            for record in scope_logs["log_records"]:
                for camel_key, snake_key in (
                    ("timeUnixNano", "time_unix_nano"),
                    ("severityNumber", "severity_number"),
                    ("severityText", "severity_text"),
                ):
                    if camel_key in record:
                        record[snake_key] = record.pop(camel_key)
    assert parse_otlp_json(json.dumps(snake).encode()) == parse_otlp_json(EXPORT)


@pytest.mark.parametrize("trace_id", ["not hex", "5b8e", 12, "5B8EFFF798038103D269B633813FC60C"])
def test_trace_ids_are_not_read_so_a_bad_one_costs_nothing(trace_id: str | int) -> None:
    body = json_request({"traceId": trace_id, "spanId": trace_id})
    assert [entry.message for entry in parse_otlp_json(body).entries] == ["m"]


# The response.


def test_a_full_success_response_is_empty() -> None:
    assert export_response(0, "", protobuf=True) == b""
    assert export_response(0, "ignored", protobuf=False) == b"{}"
    assert ExportLogsServiceResponse.FromString(export_response(0, "x", protobuf=True)) == (
        ExportLogsServiceResponse()
    )


@pytest.mark.parametrize("protobuf", [True, False])
def test_a_partial_success_response_round_trips(protobuf: bool) -> None:
    data = export_response(3, "3 log records had an empty body", protobuf=protobuf)
    if protobuf:
        response = ExportLogsServiceResponse.FromString(data)
    else:
        document = json.loads(data)
        assert document == {
            "partialSuccess": {
                "rejectedLogRecords": "3",
                "errorMessage": "3 log records had an empty body",
            }
        }
        response = json_format.Parse(data, ExportLogsServiceResponse())
    assert response.partial_success.rejected_log_records == 3
    assert response.partial_success.error_message == "3 log records had an empty body"


# Hostile bodies: BodyError("bad_otlp"), and never anything else.


def deep_kvlist_protobuf(depth: int) -> bytes:
    """A request whose one body nests kvlists `depth` deep (built in place: copying one so deep
    through the constructors would itself hit protobuf's depth limit)."""
    request = request_of(LogRecord())
    value = request.resource_logs[0].scope_logs[0].log_records[0].body
    for _ in range(depth):
        value = value.kvlist_value.values.add(key="k").value
    value.string_value = "x"
    return bytes(request.SerializeToString())


def deep_kvlist_json(depth: int) -> bytes:
    value: dict[str, Any] = {"stringValue": "x"}
    for _ in range(depth):
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    document = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": value}]}]}]}
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'[{"resourceLogs": []}]',
        b'"a string"',
        b"42",
        b"null",
        b'{"resourceLogs": ',
        b'{"resourceLogs": {"scopeLogs": []}}',
        b'{"resourceLogs": [1, 2]}',
        b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": 5}}]}]}]}',
        b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "-5"}]}]}]}',
        b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "soon"}]}]}]}',
        b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": 1.5}]}]}]}',
        b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": '
        + b"9" * 5000
        + b"}]}]}]}",
        b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "\\ud800"}}]}]}]}',
        b'{"resourceLogs": [{"resource": {"attributes": "nope"}}]}',
        b"\xff\xfe\x00garbage",
        b'{"a": "\xff"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        deep_kvlist_json(60),
    ],
)
def test_hostile_json_is_a_body_error(body: bytes) -> None:
    with pytest.raises(BodyError) as raised:
        parse_otlp_json(body)
    assert raised.value.code == "bad_otlp"
    assert raised.value.detail
    assert len(raised.value.detail) < 300


TRUNCATED = otlp_json_to_protobuf(EXPORT)


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xff\xff\xff",
        b"not a protobuf message at all",
        b"\x0a\x05\x12\x03\x0a\x01\xff",  # a string field holding invalid UTF-8
        b"\x0a\xff\xff\xff\xff\x0f",  # a length far past the end
        TRUNCATED[: len(TRUNCATED) // 2],
        TRUNCATED[:-1],
        deep_kvlist_protobuf(200),
        b'{"resourceLogs": []}',
    ],
)
def test_hostile_protobuf_is_a_body_error(body: bytes) -> None:
    with pytest.raises(BodyError) as raised:
        parse_otlp_protobuf(body)
    assert raised.value.code == "bad_otlp"


@settings(max_examples=300, derandomize=True)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_parse_or_fail_with_body_error(data: bytes) -> None:
    for parse in (parse_otlp_json, parse_otlp_protobuf):
        try:
            parsed = parse(data)
        except BodyError:
            continue
        assert all(isinstance(entry.message, str) for entry in parsed.entries)


JSON_VALUES = json_values(
    [
        *("resourceLogs", "scopeLogs", "logRecords", "body", "attributes", "key"),
        *("value", "stringValue", "kvlistValue", "values", "timeUnixNano", "traceId"),
        *("severityNumber", "resource", "arrayValue", "intValue", "bytesValue"),
    ],
    max_keys=4,
)


@settings(max_examples=300, derandomize=True)
@given(JSON_VALUES)
def test_arbitrary_json_parses_or_fails_with_body_error(document: Any) -> None:
    with contextlib.suppress(BodyError):
        parse_otlp_json(json.dumps(document).encode())
