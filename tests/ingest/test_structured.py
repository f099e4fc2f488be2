"""JSON log lines: which fields hold the message, time, level and traceback, in every common shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from service.ingest.records import LogRecord
from service.ingest.structured import read_json_record, render_stacks
from service.ingest.tracebacks import traceback_event

T = datetime(2025, 9, 19, 12, 43, 14, tzinfo=UTC)
TRACEBACK = 'Traceback (most recent call last):\n  File "/app/x.py", line 3, in f\nValueError: boom'


def _text(data: dict[str, Any]) -> str | None:
    record = read_json_record(json.dumps(data))
    return None if record is None else record.text


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"message": "m", "exc_info": TRACEBACK}, f"m\n{TRACEBACK}"),  # python-json-logger
        ({"event": "m", "exception": TRACEBACK + "\n"}, f"m\n{TRACEBACK}"),  # structlog
        ({"msg": "m", "stack_trace": TRACEBACK}, f"m\n{TRACEBACK}"),  # logstash
        (
            {"message": "m", "error": {"type": "ValueError", "stack_trace": TRACEBACK}},
            f"m\n{TRACEBACK}",
        ),
        ({"message": "m", "error.stack": TRACEBACK}, f"m\n{TRACEBACK}"),  # Datadog, flattened
        (
            {"message": "m", "exception": {"type": "ValueError", "traceback": TRACEBACK}},
            f"m\n{TRACEBACK}",
        ),
        ({"message": f"m\n{TRACEBACK}", "exc_info": TRACEBACK}, f"m\n{TRACEBACK}"),  # not twice
        ({"exc_info": TRACEBACK}, TRACEBACK),
        ({"log": '  File "/app/x.py", line 3\n', "stream": "stderr"}, '  File "/app/x.py", line 3'),
        ({"message": ""}, ""),
        (
            {"message": "m", "exc_info": True, "error": "not a traceback"},
            'm exc_info=true error="not a traceback"',
        ),
    ],
)
def test_message_and_traceback_are_read_from_the_usual_fields(
    data: dict[str, Any], expected: str
) -> None:
    assert _text(data) == expected


@pytest.mark.parametrize(
    "line",
    [
        '{"detail": "sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called"}',
        '{"message": 42, "level": "error"}',
        '["message", "a list"]',
        '{"message": "cut short',
        '{"message": "trailing"} garbage',
        "{" * 100000 + "}" * 100000,
    ],
)
def test_what_is_not_a_json_log_record_gives_none(line: str) -> None:
    assert read_json_record(line) is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"timestamp": "2025-09-19T12:43:14Z"}, T),
        ({"@timestamp": "2025-09-19T12:43:14.000Z"}, T),
        ({"time": "not a time", "ts": 1758285794}, T),
        ({"asctime": "2025-09-19 12:43:14,000"}, T),
        ({"ts": True}, None),
        ({}, None),
    ],
)
def test_time_is_the_first_time_field_that_reads_as_one(
    data: dict[str, Any], expected: datetime | None
) -> None:
    record = read_json_record(json.dumps({"message": "m", **data}))
    assert record is not None
    assert record.time == expected


def test_level_comes_from_the_usual_fields_upper_cased() -> None:
    for key in ("level", "levelname", "severity", "log.level", "lvl"):
        record = read_json_record(json.dumps({"message": "m", key: " Warning "}))
        assert record is not None
        assert record.level == "WARNING"


STACKS = [
    {
        "exc_type": "ProgrammingError",
        "exc_value": 'relation "lines" does not exist',
        "is_cause": False,
        "frames": [{"filename": "/app/billing.py", "lineno": 27, "name": "load"}],
    },
    {
        "exc_type": "UndefinedTableError",
        "exc_value": 'relation "lines" does not exist',
        "is_cause": True,
        "frames": [
            {"filename": "/site-packages/asyncpg/connection.py", "lineno": 636, "name": "prepare"}
        ],
    },
    {"exc_type": "OSError", "exc_value": "", "is_cause": False, "frames": []},
]


def test_structlog_dict_tracebacks_print_as_python_prints_the_chain() -> None:
    assert render_stacks(STACKS).split("\n") == [
        "Traceback (most recent call last):",
        "OSError",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "/site-packages/asyncpg/connection.py", line 636, in prepare',
        'UndefinedTableError: relation "lines" does not exist',
        "",
        "The above exception was the direct cause of the following exception:",
        "",
        "Traceback (most recent call last):",
        '  File "/app/billing.py", line 27, in load',
        'ProgrammingError: relation "lines" does not exist',
    ]


def test_rendered_chain_reads_back_as_a_traceback() -> None:
    record = LogRecord(message=render_stacks(STACKS), source="api")
    event = traceback_event([record])
    assert event.exception_type == "ProgrammingError"
    assert [frame.function for frame in event.frames] == ["prepare", "load"]


def test_stacks_that_are_not_structlog_dicts_render_nothing() -> None:
    assert render_stacks(["not a dict"]) == ""
    assert _text({"message": "m", "exception": ["not a dict"]}) == "m"


def test_other_fields_follow_the_message_so_their_text_can_still_match() -> None:
    data = {
        "event": "db_query_failed",
        "level": "error",
        "timestamp": "2025-09-19T12:43:14Z",
        "logger": "app.db",
        "query": "orders",
        "attempt": 2,
        "error": "server closed the connection unexpectedly",
        "context": {"tenant": "Zürich"},
        "trace_id": None,
    }
    assert _text(data) == (
        'db_query_failed query=orders attempt=2 error="server closed the connection unexpectedly"'
        ' context={"tenant":"Zürich"}'
    )


def test_a_wrapped_line_gets_none_of_its_wrapper_fields() -> None:
    assert _text({"log": "boom\n", "stream": "stderr", "attrs": {"tag": "web"}}) == "boom"


def test_a_time_of_hundreds_of_digits_is_no_time() -> None:
    record = read_json_record('{"message": "x", "ts": 1' + "0" * 400 + "}")
    assert record is not None and record.time is None
