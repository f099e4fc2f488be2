"""JSON and NDJSON bodies: every container form, each shipper's shape, resync after bad stretches,
hostile input, and the entries turned into records."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.ingest.entries import BodyError, Entry, Parsed, to_records
from service.ingest.formats.jsonbody import parse_json_body, read_values
from tests.strategies import json_values

PAYLOADS = Path(__file__).parent / "payloads"
RENDER = (PAYLOADS / "json_render_logs.json").read_bytes()
VECTOR = (PAYLOADS / "json_vector_array.json").read_bytes()
FLUENT_JSON = (PAYLOADS / "json_fluentbit_json.json").read_bytes()
FLUENT_LINES = (PAYLOADS / "json_fluentbit_json_lines.ndjson").read_bytes()
LOGSTASH = (PAYLOADS / "json_logstash_batch.json").read_bytes()
DATADOG = (PAYLOADS / "json_datadog.json").read_bytes()
BAD_LINE = (PAYLOADS / "json_ndjson_bad_line.ndjson").read_bytes()

INSTANCE = "srv-d2k4h7ur433s73b5q9g0-7xk2p"
GREENLET = (
    "sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call await_only()"
    " here. Was IO attempted in an unexpected place? (Background on this error at:"
    " https://sqlalche.me/e/20/xd2s)"
)
TRACEBACK = 'Traceback (most recent call last):\n  File "/app/x.py", line 3, in f\nValueError: boom'


def at(
    year: int, month: int, day: int, hour: int, minute: int, second: int, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def envelope(entry: Entry) -> tuple[datetime | None, str, str, str]:
    return entry.time, entry.instance, entry.stream, entry.level


def lines(*objects: Any) -> bytes:
    return "".join(json.dumps(item) + "\n" for item in objects).encode()


# --- Each shipper's shape ----------------------------------------------------------------------


def test_render_cli_json_output() -> None:
    parsed = parse_json_body(RENDER)
    assert not parsed.rejected
    build, startup, live, error, access = parsed.entries
    assert build == Entry(
        message="==> Running build command 'pip install -r requirements.txt'...",
        time=at(2025, 9, 19, 12, 40, 2, 118274),
        stream="build",
        level="info",
    )
    assert startup == Entry(
        message="INFO:     Application startup complete.",
        time=at(2025, 9, 19, 12, 41, 35, 440981),
        instance=INSTANCE,
        stream="app",
        level="info",
    )
    assert live == Entry(
        message="==> Your service is live \U0001f389",
        time=at(2025, 9, 19, 12, 41, 37, 902114),
        stream="deploy",
    )
    assert envelope(error) == (at(2025, 9, 19, 12, 43, 14, 207339), INSTANCE, "app", "error")
    traceback = error.message.split("\n")
    assert traceback[:2] == [
        "ERROR:    Exception in ASGI application",
        "Traceback (most recent call last):",
    ]
    assert (len(traceback), traceback[-1]) == (15, GREENLET)
    assert access == Entry(
        message='INFO:     10.214.3.7:0 - "GET /orders HTTP/1.1" 500 Internal Server Error',
        time=at(2025, 9, 19, 12, 43, 14, 209120),
        instance=INSTANCE,
        stream="app",
        level="info",
    )


def test_render_traceback_becomes_records_of_one_instance_with_render_time() -> None:
    records = to_records(parse_json_body(RENDER).entries, source="shop", received_at=None)
    start = next(i for i, r in enumerate(records) if r.message == "Exception in ASGI application")
    traceback = records[start : start + 15]
    assert traceback[-1].message == GREENLET
    assert {(r.instance, r.stream) for r in traceback} == {(INSTANCE, "app")}
    assert traceback[0].time == at(2025, 9, 19, 12, 43, 14, 207339)
    assert traceback[0].level == "ERROR"
    build = next(r for r in records if r.message.startswith("==> Running build"))
    assert (build.stream, build.instance, build.time) == (
        "build",
        "",
        at(2025, 9, 19, 12, 40, 2, 118274),
    )


@pytest.mark.parametrize(
    ("kind", "stream"),
    [
        ("app", "app"),
        ("request", "request"),
        ("build", "build"),
        ("deploy", "deploy"),
        ("Cron", "cron"),
    ],
)
def test_render_type_label_is_the_stream(kind: str, stream: str) -> None:
    log = {"labels": [{"name": "type", "value": kind}, {"name": "level", "value": "warn"}]}
    body = json.dumps({**log, "message": "m", "timestamp": "2025-09-19T12:43:14Z"}).encode()
    (entry,) = parse_json_body(body).entries
    assert (entry.stream, entry.level) == (stream, "warn")


def test_vector_http_sink_json_array() -> None:
    events = json.loads(VECTOR)
    parsed = parse_json_body(VECTOR)
    assert not parsed.rejected
    pod, docker, file = parsed.entries
    assert pod == Entry(
        message="psycopg.OperationalError: connection failed: server closed the connection unexpectedly",
        time=at(2025, 9, 19, 12, 43, 14, 123456),
        instance="api-7c9d8b6f4-x2l9q",  # kubernetes.pod_name; stream "stderr" is not a stream word
    )
    # A message parsed into an object by a remap is handed on as compact JSON.
    compact = json.dumps(events[1]["message"], separators=(",", ":"), ensure_ascii=False)
    assert docker == Entry(
        message=compact, time=at(2025, 9, 19, 12, 43, 14, 530112), instance="ip-10-0-3-17"
    )
    assert file == Entry(
        message="2025-09-19 12:43:15,002 ERROR [shop.orders] upstream request failed: ReadTimeout",
        time=at(2025, 9, 19, 12, 43, 15, 2871),
        instance="web-1",
    )


def test_vector_parsed_message_keeps_its_traceback_in_records() -> None:
    records = to_records(parse_json_body(VECTOR).entries, source="shop", received_at=None)
    worker = [r for r in records if r.instance == "ip-10-0-3-17"]
    assert worker[0].message.startswith("payment capture failed")
    assert worker[0].level == "ERROR"
    assert worker[-1].message.split("\n")[-1].startswith("stripe._error.APIConnectionError:")
    assert worker[0].time == at(2025, 9, 19, 12, 43, 14, 530112)


def test_vector_newline_delimited_framing_gives_the_same_entries() -> None:
    ndjson = "\n".join(json.dumps(event) for event in json.loads(VECTOR)).encode()  # no final LF
    assert parse_json_body(ndjson) == parse_json_body(VECTOR)


def test_fluent_bit_json_format() -> None:
    parsed = parse_json_body(FLUENT_JSON)
    assert parsed.entries == [
        Entry(
            message="[2025-09-19 12:43:14 +0000] [7] [ERROR] Worker (pid:12) was sent SIGKILL! "
            "Perhaps out of memory?",  # the line's own newline is dropped
            time=at(2025, 9, 19, 12, 43, 14, 123456),  # `date`: epoch seconds as a float
            instance="worker-5d8f7c6b9-qz4lm",
        ),
        Entry(
            message="redis.exceptions.ConnectionError: Error 111 connecting to redis:6379. "
            "Connection refused.",
            time=at(2025, 9, 19, 12, 43, 15, 500000),
            instance="worker-5d8f7c6b9-qz4lm",
        ),
    ]


def test_fluent_bit_json_lines_with_iso_dates() -> None:
    parsed = parse_json_body(FLUENT_LINES)
    assert parsed.entries == [
        Entry(
            message='django.db.utils.OperationalError: could not translate host name "db" to '
            "address: Name or service not known",
            time=at(2025, 9, 19, 12, 43, 14, 250000),
            instance="/shop-web-1",
        ),
        Entry(
            message="[2025-09-19 12:43:16 +0000] [1] [INFO] Shutting down: Master",
            time=at(2025, 9, 19, 12, 43, 16, 681),
            instance="/shop-web-1",
        ),
    ]


def test_fluent_bit_json_stream_is_objects_back_to_back() -> None:
    stream = b"".join(json.dumps(record).encode() for record in json.loads(FLUENT_JSON))
    assert parse_json_body(stream) == parse_json_body(FLUENT_JSON)


def test_logstash_json_batch() -> None:
    parsed = parse_json_body(LOGSTASH)
    assert parsed.entries == [
        Entry(
            message="Task shop.tasks.sync_inventory[0b3c] raised unexpected: TimeLimitExceeded(300)",
            time=at(2025, 9, 19, 12, 43, 14, 512000),
            instance="worker-2",  # ECS `host.name`
            level="ERROR",  # `[log][level]`
        ),
        Entry(
            message="[2025-09-19 12:43:15,000: WARNING/MainProcess] consumer: Connection to broker "
            "lost. Trying to re-establish the connection...",
            time=at(2025, 9, 19, 12, 43, 15),
            instance="worker-1",  # legacy string `host`; `type: celery` is no stream
        ),
    ]


def test_logstash_json_format_is_one_object() -> None:
    event = json.loads(LOGSTASH)[0]
    assert (
        parse_json_body(json.dumps(event).encode()).entries == parse_json_body(LOGSTASH).entries[:1]
    )


def test_datadog_shape() -> None:
    parsed = parse_json_body(DATADOG)
    payment, nginx = parsed.entries
    assert envelope(payment) == (
        at(2025, 9, 19, 12, 43, 14, 512000),
        "i-0a1b2c3d4e5f67890",
        "",
        "error",
    )
    head, *rest = payment.message.split("\n")
    assert head == "Payment capture failed for order 8812"  # then `error.stack`, the traceback
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1].startswith("stripe._error.APIConnectionError: Unexpected error")
    assert envelope(nginx) == (
        at(2025, 9, 19, 12, 43, 15, 4000),
        "i-0f9e8d7c6b5a43210",
        "",
        "error",
    )
    assert nginx.message.startswith("2025/09/19 12:43:15 [error] 31#31: *1041 upstream timed out")


def test_heroku_style_object_carrying_a_syslog_line() -> None:
    line = "<190>1 2025-09-19T12:43:14.000000+00:00 host app web.1 - NameError: name 'x' is not defined"
    records = to_records(
        parse_json_body(json.dumps({"message": line}).encode()).entries,
        source="s",
        received_at=None,
    )
    assert [(r.message, r.instance, r.time) for r in records] == [
        ("NameError: name 'x' is not defined", "web.1", at(2025, 9, 19, 12, 43, 14))
    ]


# --- Fields ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "instance"),
    [
        ({"dyno": "web.1", "host": "h", "hostname": "n"}, "web.1"),
        ({"instance": "i-1", "host": "h"}, "i-1"),
        ({"hostname": "n", "host": "h"}, "n"),
        ({"host": "h", "kubernetes": {"pod_name": "p"}}, "h"),
        ({"host": {"name": "ecs-name", "hostname": "ecs-hostname"}}, "ecs-name"),
        ({"host": {"hostname": "ecs-hostname", "ip": ["10.0.0.1"]}}, "ecs-hostname"),
        ({"host.name": "flat"}, "flat"),
        ({"kubernetes": {"pod_name": "api-1"}, "container_name": "api"}, "api-1"),
        ({"kubernetes.pod_name": "api-2"}, "api-2"),
        ({"container_name": "shop-web-1", "pod": "p"}, "shop-web-1"),
        ({"pod": "p-1"}, "p-1"),
        ({"host": 42, "hostname": "  "}, ""),
        (
            {"labels": [{"name": "instance", "value": "srv-1-abcde"}], "dyno": "web.1"},
            "srv-1-abcde",
        ),
        ({"host": "h\x00ost\n" + "x" * 300}, "hostx" + "x" * 195),
    ],
)
def test_instance_fields(extra: dict[str, Any], instance: str) -> None:
    (entry,) = parse_json_body(json.dumps({"message": "m", **extra}).encode()).entries
    assert entry.instance == instance


@pytest.mark.parametrize(
    ("extra", "stream"),
    [
        ({"stream": "stderr"}, ""),
        ({"stream": "stdout", "type": "router"}, "router"),
        ({"type": "Request"}, "request"),
        ({"type": "nginx"}, ""),
        ({"stream": "build"}, "build"),
        ({"labels": [{"name": "type", "value": "app"}], "stream": "stderr"}, "app"),
    ],
)
def test_stream_fields(extra: dict[str, Any], stream: str) -> None:
    (entry,) = parse_json_body(json.dumps({"message": "m", **extra}).encode()).entries
    assert entry.stream == stream


@pytest.mark.parametrize(
    ("extra", "level"),
    [
        ({"level": "warning", "status": "error"}, "warning"),
        ({"levelname": "ERROR"}, "ERROR"),
        ({"severity": "CRITICAL"}, "CRITICAL"),
        ({"status": "error"}, "error"),
        ({"status": "500"}, ""),
        ({"status": 500}, ""),
        ({"log": {"level": "warn"}}, "warn"),
        ({"log.level": "debug"}, "debug"),
        ({"labels": [{"name": "level", "value": "error"}]}, "error"),
        ({"labels": [{"name": "level", "value": "error"}], "level": "info"}, "info"),
    ],
)
def test_level_fields(extra: dict[str, Any], level: str) -> None:
    (entry,) = parse_json_body(json.dumps({"message": "m", **extra}).encode()).entries
    assert entry.level == level


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"timestamp": "2025-09-19T12:43:14.5Z"}, at(2025, 9, 19, 12, 43, 14, 500000)),
        ({"@timestamp": "2025-09-19T14:43:14+02:00"}, at(2025, 9, 19, 12, 43, 14)),
        ({"date": 1758285794.25}, at(2025, 9, 19, 12, 43, 14, 250000)),
        ({"date": "2025-09-19 12:43:14.000681"}, at(2025, 9, 19, 12, 43, 14, 681)),
        ({"timestamp": 1758285794512}, at(2025, 9, 19, 12, 43, 14, 512000)),
        ({"time": 1758285794}, at(2025, 9, 19, 12, 43, 14)),
        ({"ts": 1758285794000000000}, at(2025, 9, 19, 12, 43, 14)),
        ({"timestamp": "yesterday", "time": "2025-09-19T12:43:14Z"}, at(2025, 9, 19, 12, 43, 14)),
        ({"timestamp": True}, None),
        ({}, None),
    ],
)
def test_time_fields(extra: dict[str, Any], expected: datetime | None) -> None:
    (entry,) = parse_json_body(json.dumps({"message": "m", **extra}).encode()).entries
    assert entry.time == expected


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"log": "a line\n", "stream": "stdout"}, "a line"),
        ({"msg": "from msg", "line": "no"}, "from msg"),
        ({"line": "from line"}, "from line"),
        ({"text": "from text"}, "from text"),
        ({"message": 42, "log": "the log"}, "the log"),
        ({"message": {"event": "e", "level": "error"}}, '{"event":"e","level":"error"}'),
        (
            {"log": {"level": "error"}, "msg": "msg, not ECS log metadata"},
            "msg, not ECS log metadata",
        ),
        ({"message": "m", "exc_info": TRACEBACK}, f"m\n{TRACEBACK}"),
        ({"message": f"m\n{TRACEBACK}", "exception": TRACEBACK}, f"m\n{TRACEBACK}"),
        ({"message": "", "stack_trace": TRACEBACK}, TRACEBACK),
        (
            {"exception": TRACEBACK, "level": "error"},
            json.dumps({"exception": TRACEBACK, "level": "error"}, separators=(",", ":")),
        ),
        ({"event": "user signed in", "user": 7}, '{"event":"user signed in","user":7}'),
        ({"message": "caf\u00e9 \u2603 \U0001f389"}, "caf\u00e9 \u2603 \U0001f389"),
    ],
)
def test_message_fields(record: dict[str, Any], message: str) -> None:
    (entry,) = parse_json_body(json.dumps(record).encode()).entries
    assert entry.message == message


def test_structured_app_log_without_message_is_read_downstream() -> None:
    record = {"exception": TRACEBACK, "level": "error", "timestamp": "2025-09-19T12:43:14Z"}
    records = to_records(
        parse_json_body(json.dumps(record).encode()).entries, source="s", received_at=None
    )
    assert [r.message for r in records] == [TRACEBACK]
    assert records[0].time == at(2025, 9, 19, 12, 43, 14)


# --- Containers --------------------------------------------------------------------------------

OBJECTS = [
    {"message": "one", "level": "info", "timestamp": "2025-09-19T12:43:14Z", "dyno": "web.1"},
    {"msg": "two", "status": "error", "ts": 1758285795, "host": {"name": "h"}},
    {"log": "three\n", "stream": "stderr", "date": 1758285796.5, "kubernetes": {"pod_name": "p"}},
]


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(OBJECTS),
        json.dumps(OBJECTS, indent=2),
        "\n".join(json.dumps(item) for item in OBJECTS),
        "\r\n".join(json.dumps(item) for item in OBJECTS) + "\r\n",
        "".join(json.dumps(item) for item in OBJECTS),
        "".join(json.dumps(item, indent=2) for item in OBJECTS),
        "\n".join(json.dumps(item, indent=4) for item in OBJECTS) + "\n\n",
        " \t\n".join(json.dumps(item, separators=(",", ":")) for item in OBJECTS),
        json.dumps(OBJECTS[:2]) + "\n" + json.dumps(OBJECTS[2:]),
        json.dumps(OBJECTS[0]) + "\n" + json.dumps(OBJECTS[1:]),
        "\ufeff" + json.dumps(OBJECTS),
        "[\n" + ",\n".join(json.dumps(item) for item in OBJECTS) + "\n]",
    ],
    ids=[
        *("array", "pretty-array", "ndjson", "crlf", "concatenated", "go-pretty", "pretty-lines"),
        *("odd-whitespace", "array-per-line", "object-then-array", "bom", "array-of-lines"),
    ],
)
def test_every_container_form_gives_the_same_entries(body: str) -> None:
    parsed = parse_json_body(body.encode())
    assert not parsed.rejected
    assert parsed.entries == [
        Entry(message="one", time=at(2025, 9, 19, 12, 43, 14), instance="web.1", level="info"),
        Entry(message="two", time=at(2025, 9, 19, 12, 43, 15), instance="h", level="error"),
        Entry(message="three", time=at(2025, 9, 19, 12, 43, 16, 500000), instance="p"),
    ]


def test_one_object_and_empty_array() -> None:
    assert parse_json_body(b'{"message": "only"}').entries == [Entry(message="only")]
    assert parse_json_body(b"[]") == Parsed()


def test_items_that_are_not_objects_are_counted() -> None:
    body = (
        b'[{"message": "a"}, 3, "a plain line\\n", null, true, [{"message": "nested"}], 1.5, "  "]'
    )
    parsed = parse_json_body(body)
    assert parsed.entries == [Entry(message="a"), Entry(message="a plain line")]
    assert parsed.rejected == {"not_an_object": 5, "no_message": 1}


def test_objects_without_message_or_traceback_are_counted() -> None:
    body = lines(
        {"message": "kept"},
        {"level": "info"},
        {"message": "   "},
        {"detail": "x"},
        {"log": {"level": "error"}},
    )
    parsed = parse_json_body(body)
    assert parsed.entries == [Entry(message="kept")]
    assert parsed.rejected == {"no_message": 4}


# --- Bad stretches -----------------------------------------------------------------------------


def test_bad_ndjson_line_costs_only_itself() -> None:
    parsed = parse_json_body(BAD_LINE)
    assert parsed.rejected == {"bad_json": 1}
    assert [(e.message[:24], e.instance, e.level, e.time) for e in parsed.entries] == [
        ("GET /healthz 200 2ms", "web.1", "info", at(2025, 9, 19, 12, 43, 13)),
        ("psycopg2.OperationalErro", "web.2", "error", at(2025, 9, 19, 12, 43, 14)),
        ("sqlalchemy.exc.TimeoutEr", "web.1", "error", at(2025, 9, 19, 12, 43, 15)),
        ("GET /orders 500 30004ms", "web.2", "info", at(2025, 9, 19, 12, 43, 16)),
    ]


@pytest.mark.parametrize(
    ("body", "messages", "bad"),
    [
        ('{"message": "a"}\nnot json\nstill not\n{"message": "b"}', ["a", "b"], 1),
        ('{"message": "a"}\n{"message": "x"\n{"message": "y",\n{"message": "b"}', ["a", "b"], 2),
        ('{"message": "a"} trailing words\n{"message": "b"}', ["a", "b"], 1),
        ('{"message": "a"}\n{"message": "cut', ["a"], 1),
        ('garbage first\n[{"message": "a"}, {"message": "b"}]', ["a", "b"], 1),
        ('{"message": "a"}\n{"message": "b", }\n[{"message": "c"}]\n', ["a", "c"], 1),
        ('{\n  "message": "a"\n}{\n  "message": "bad",\n}{\n  "message": "c"\n}', ["a", "c"], 1),
        (
            '{\n  "message": "a"\n}{\n  oops\n}{\n  "message": "c"\n}{\n  "message": "d"\n}',
            ["a", "c", "d"],
            1,
        ),
        ('[\n{"message": "a"},\n{"message": "b" oops},\n{"message": "c"}\n]', ["a", "c"], 4),
        ('{"message": "a"}\x00\n{"message": "b"}', ["a", "b"], 1),
        ('{"message": "a\x00b"}\n{"message": "c"}', ["c"], 1),
    ],
)
def test_reading_resumes_at_the_next_line_that_starts_a_value(
    body: str, messages: list[str], bad: int
) -> None:
    parsed = parse_json_body(body.encode())
    assert [entry.message for entry in parsed.entries] == messages
    assert parsed.rejected == {"bad_json": bad}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"", "the body is empty"),
        (b" \r\n\t ", "the body is empty"),
        (b"\xef\xbb\xbf", "the body is empty"),
        (b"not json at all", "Expecting value: line 1 column 1 (char 0)"),
        (b'{"message": "cut', "Unterminated string starting at: line 1 column 13 (char 12)"),
        (
            b'\n\n  {"a": 1,,}',
            "Expecting property name enclosed in double quotes: line 3 column 11",
        ),
        (
            b"[" * 50_000,
            "the value at line 1 column 1 (char 0) cannot be read: it is nested too deep",
        ),
        (b"\x00\x01\x02", "Expecting value: line 1 column 1"),
        (b"\xff\xfe{", "Expecting value: line 1 column 1"),
    ],
)
def test_a_body_with_nothing_readable_is_a_body_error(body: bytes, detail: str) -> None:
    with pytest.raises(BodyError) as raised:
        parse_json_body(body)
    assert raised.value.code == "bad_json"
    assert detail in raised.value.detail


# --- Hostile input -----------------------------------------------------------------------------


def test_deep_nesting_costs_only_its_line() -> None:
    deep = '{"message": ' + "[" * 100_000 + "]" * 100_000 + "}"
    parsed = parse_json_body(f'{{"message": "a"}}\n{deep}\n{{"message": "b"}}'.encode())
    assert [entry.message for entry in parsed.entries] == ["a", "b"]
    assert parsed.rejected == {"bad_json": 1}


def test_moderate_nesting_in_a_message_object_is_written_back() -> None:
    nested = '{"a":' * 300 + "1" + "}" * 300
    (entry,) = parse_json_body(f'{{"message": {nested}, "level": "info"}}'.encode()).entries
    assert (entry.message, entry.level) == (nested, "info")


@pytest.mark.parametrize(
    "number",
    [
        "1" + "0" * 400,
        "9" * 5000,
        "-" + "9" * 5000,
        "1e999",
        "-1e999",
        "1.5e-999",
        "NaN",
        "Infinity",
    ],
)
def test_huge_numbers_are_harmless(number: str) -> None:
    body = f'{{"message": "m", "timestamp": {number}, "date": {number}, "n": [{number}]}}'.encode()
    (entry,) = parse_json_body(body).entries
    assert (entry.message, entry.time) == ("m", None)
    records = to_records([entry], source="s", received_at=None)
    assert [r.message for r in records] == ["m"]


def test_lone_surrogates_become_replacement_characters() -> None:
    body = rb'{"message": "a\ud800b\udfff\ud83d\ude00", "host": "h\udc00", "level": "\udc00err"}'
    (entry,) = parse_json_body(body).entries
    assert (entry.message, entry.instance, entry.level) == (
        "a\ufffdb\ufffd\U0001f600",
        "h\ufffd",
        "\ufffderr",
    )
    entry.message.encode("utf-8")
    records = to_records([entry], source="s", received_at=None)
    assert records[0].message == "a\ufffdb\ufffd\U0001f600"


def test_escaped_nul_and_controls_are_left_to_normalising() -> None:
    body = rb'{"message": "a\u0000b\u001b[31mred\u001b[0m", "host": "h\u0000\u0007x"}'
    (entry,) = parse_json_body(body).entries
    assert (entry.message, entry.instance) == ("a\x00b\x1b[31mred\x1b[0m", "hx")
    records = to_records([entry], source="s", received_at=None)
    assert records[0].message == "abred"


def test_invalid_utf8_is_replaced() -> None:
    (entry,) = parse_json_body(b'{"message": "caf\xe9 \xff"}').entries
    assert entry.message == "caf\ufffd \ufffd"


def test_resync_after_adversarial_stretches_stays_linear() -> None:
    bodies = [
        b"[0,\n" * 60_000 + b'{"message": "after"}\n',
        b"[\n" + b'{"message": "x"},\n' * 30_000,
        b'{"a": [\n' * 60_000 + b'{"message": "after"}',
    ]
    started = time.perf_counter()
    for body in bodies:
        with contextlib.suppress(BodyError):
            parse_json_body(body)
    assert time.perf_counter() - started < 20
    parsed = parse_json_body(bodies[0])
    assert parsed.entries == [Entry(message="after")]


JSON_VALUES = json_values(
    [
        *("message", "log", "msg", "text", "labels", "name", "value", "host", "level"),
        *("timestamp", "date", "ts", "exception", "error", "stack", "kubernetes"),
        *("pod_name", "status", "type", "stream", "event", "dyno"),
    ],
    max_keys=5,
)


@settings(max_examples=300, derandomize=True)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_parse_or_fail_with_body_error(data: bytes) -> None:
    try:
        parsed = parse_json_body(data)
    except BodyError as error:
        assert error.code == "bad_json"
        return
    for entry in parsed.entries:
        entry.message.encode("utf-8")
        entry.instance.encode("utf-8")


@settings(max_examples=300, derandomize=True)
@given(st.lists(JSON_VALUES, max_size=4), st.sampled_from(["\n", "", " ", "\r\n"]))
def test_arbitrary_json_parses_or_fails_with_body_error(values: list[Any], separator: str) -> None:
    body = separator.join(json.dumps(value) for value in values).encode()
    with contextlib.suppress(BodyError):
        parsed = parse_json_body(body)
        for entry in parsed.entries:
            entry.message.encode("utf-8")
            to_records([entry], source="s", received_at=None)


LOG_OBJECTS = st.fixed_dictionaries(
    {"message": st.text(max_size=30)},
    optional={
        "level": st.sampled_from(["info", "error", "WARNING"]),
        "timestamp": st.integers(min_value=10**9, max_value=2 * 10**9),
        "host": st.text(max_size=10) | st.fixed_dictionaries({"name": st.text(max_size=10)}),
        "stream": st.sampled_from(["stdout", "app", "router"]),
        "exception": st.text(max_size=30),
        "extra": JSON_VALUES,
    },
)


@settings(max_examples=200, derandomize=True)
@given(st.lists(LOG_OBJECTS, min_size=1, max_size=6))
def test_ndjson_array_and_concatenated_pretty_objects_agree(objects: list[dict[str, Any]]) -> None:
    ndjson = parse_json_body("\n".join(json.dumps(item) for item in objects).encode())
    array = parse_json_body(json.dumps(objects).encode())
    pretty = parse_json_body("".join(json.dumps(item, indent=2) for item in objects).encode())
    assert ndjson == array == pretty
    assert len(ndjson.entries) + ndjson.rejected["no_message"] == len(objects)


def test_a_render_logs_api_page_is_read_like_the_cli_output() -> None:
    logs = list(read_values(RENDER.decode())[0])
    page = {
        "hasMore": True,
        "logs": logs,
        "nextStartTime": "2025-09-19T12:42:00Z",
        "nextEndTime": "2025-09-19T13:00:00Z",
    }
    parsed = parse_json_body(json.dumps(page).encode())
    assert not parsed.rejected
    assert parsed.entries == parse_json_body(RENDER).entries


def test_an_object_that_only_holds_a_logs_list_is_no_render_page() -> None:
    parsed = parse_json_body(b'{"logs": [{"message": "x"}]}')
    assert parsed.entries == [] and parsed.rejected == {"no_message": 1}
