"""Line headers: every supported format, and lines that only look like one."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.ingest.assemble import assemble
from service.ingest.headers import parse_line, parse_text, parse_timestamp
from service.ingest.records import LogRecord

RECEIVED = datetime(2025, 10, 1, 8, 0, tzinfo=UTC)
T = datetime(2025, 9, 19, 12, 43, 14, tzinfo=UTC)
T_MS = T.replace(microsecond=123000)


def _fields(record: LogRecord) -> tuple[str, datetime | None, str, str, str]:
    return record.message, record.time, record.instance, record.stream, record.level


HEADED = [
    # gunicorn
    (
        "[2025-09-19 12:43:14 +0000] [27] [ERROR] Exception in ASGI application",
        ("Exception in ASGI application", T, "27", "app", "ERROR"),
    ),
    (
        "[2025-09-19 14:43:14 +0200] [8] [INFO] Booting worker with pid: 8",
        ("Booting worker with pid: 8", T, "8", "app", "INFO"),
    ),
    # uvicorn
    (
        "INFO:     Application startup complete.",
        ("Application startup complete.", None, "", "app", "INFO"),
    ),
    (
        "ERROR:    Exception in ASGI application",
        ("Exception in ASGI application", None, "", "app", "ERROR"),
    ),
    (
        "WARNING:  StatReload detected changes in 'app/main.py'. Reloading...",
        ("StatReload detected changes in 'app/main.py'. Reloading...", None, "", "app", "WARNING"),
    ),
    (
        'INFO:     10.0.0.1:5234 - "GET /api/x HTTP/1.1" 500 Internal Server Error',
        (
            '10.0.0.1:5234 - "GET /api/x HTTP/1.1" 500 Internal Server Error',
            None,
            "",
            "app",
            "INFO",
        ),
    ),
    (
        "ERROR: Pool class QueuePool cannot be used with asyncio engine",
        ("Pool class QueuePool cannot be used with asyncio engine", None, "", "app", "ERROR"),
    ),
    # Python logging
    (
        "2025-09-19 12:43:14,123 - app.main - ERROR - msg",
        ("msg", T_MS, "", "app", "ERROR"),
    ),
    ("2025-09-19 12:43:14,123 - WARNING - low disk", ("low disk", T_MS, "", "app", "WARNING")),
    ("2025-09-19 12:43:14,123 ERROR [app.main] msg", ("msg", T_MS, "", "app", "ERROR")),
    ("2025-09-19 12:43:14,123 INFO     app started", ("app started", T_MS, "", "app", "INFO")),
    ("ERROR:app.main:msg", ("msg", None, "", "app", "ERROR")),
    ("CRITICAL:root:out of memory", ("out of memory", None, "", "app", "CRITICAL")),
    ("TRACE:    ASGI [1] Started", ("ASGI [1] Started", None, "", "app", "DEBUG")),
    ("2025-09-19T12:43:14.123Z ERROR msg", ("msg", T_MS, "", "app", "ERROR")),
    ("2025-09-19T12:43:14.123Z WARN slow query", ("slow query", T_MS, "", "app", "WARNING")),
    ("2025-09-19T12:43:14.123Z FATAL boom", ("boom", T_MS, "", "app", "CRITICAL")),
    (
        "[2025-09-19 12:43:14,123] ERROR in app: Exception on /api/x [GET]",
        ("Exception on /api/x [GET]", T_MS, "", "app", "ERROR"),
    ),
    (
        "2025-09-19 12:43:14.123 | ERROR    | app.main:handler:42 - boom",
        ("boom", T_MS, "", "app", "ERROR"),
    ),
    (
        "2025-09-19 12:43:14 [error    ] request failed   path=/x",
        ("request failed   path=/x", T, "", "app", "ERROR"),
    ),
    ("[ERROR] something broke", ("something broke", None, "", "app", "ERROR")),
    # ISO 8601 / Render
    (
        "2025-10-27T14:02:11.123456Z ==> Deploying...",
        ("==> Deploying...", datetime(2025, 10, 27, 14, 2, 11, 123456, tzinfo=UTC), "", "app", ""),
    ),
    (
        "2025-10-27T14:02:11.123456789Z ==> Your service is live",
        (
            "==> Your service is live",
            datetime(2025, 10, 27, 14, 2, 11, 123456, tzinfo=UTC),
            "",
            "app",
            "",
        ),
    ),
    (
        "2025-09-19T12:43:14Z srv-d3qq6o8gjchc73bi0rc0-7d9f8 INFO:     Started server process [1]",
        ("Started server process [1]", T, "srv-d3qq6o8gjchc73bi0rc0-7d9f8", "app", "INFO"),
    ),
    ("2025-09-19 12:43:14 plain message", ("plain message", T, "", "app", "")),
    ("2025-09-19T14:43:14+02:00 offset", ("offset", T, "", "app", "")),
    ("2025-09-19T07:43:14-0500 offset", ("offset", T, "", "app", "")),
    ("2025-09-19 12:43:14 UTC utc word", ("utc word", T, "", "app", "")),
    # Heroku text output
    (
        "2025-09-19T12:43:14.000000+00:00 app[web.1]: message",
        ("message", T, "web.1", "app", ""),
    ),
    (
        '2025-09-19T12:43:14+00:00 heroku[router]: at=error code=H12 desc="Request timeout"',
        ('at=error code=H12 desc="Request timeout"', T, "router", "router", ""),
    ),
    (
        "2025-09-19T12:43:14+00:00 heroku[web.1]: State changed from starting to up",
        ("State changed from starting to up", T, "web.1", "platform", ""),
    ),
    (
        "2025-09-19T12:43:14+00:00 app[api]: Release v42 created by user",
        ("Release v42 created by user", T, "api", "platform", ""),
    ),
    ("app[web.2]: no timestamp", ("no timestamp", None, "web.2", "app", "")),
    (
        "2025-09-19T12:43:14+00:00 app[web.1]: [2025-09-19 12:43:20 +0000] [27] [ERROR] boom",
        ("boom", T, "web.1", "app", "ERROR"),
    ),
    (
        "2025-09-19T12:43:14+00:00 app[web.1]:     raise ValueError(x)",
        ("    raise ValueError(x)", T, "web.1", "app", ""),
    ),
    # syslog RFC 5424
    (
        "<190>1 2025-09-19T12:43:14.000000+00:00 host app web.1 - - message",
        ("message", T, "web.1", "app", ""),
    ),
    (
        "<190>1 2025-09-19T12:43:14.000000+00:00 host app web.1 - message",
        ("message", T, "web.1", "app", ""),
    ),
    (
        "<158>1 2025-09-19T12:43:14+00:00 host heroku router - at=error code=H10",
        ("at=error code=H10", T, "router", "router", ""),
    ),
    (
        "<190>1 2025-09-19T12:43:14+00:00 host app web.1 - [2025-09-19 12:43:14 +0000] [27] "
        "[ERROR] Exception in ASGI application",
        ("Exception in ASGI application", T, "web.1", "app", "ERROR"),
    ),
    (
        '<165>1 2025-09-19T12:43:14Z mymachine evntslog 99 ID47 [ex@32473 iut="3" '
        'src="App\\]x"][second a="b"] \ufeffAn application event',
        ("An application event", T, "99", "app", ""),
    ),
    ("<13>1 - mymachine myapp - - - no time", ("no time", None, "myapp", "app", "")),
    (
        "<134>1 2025-09-19T12:43:14Z srv-abc web-7f9c - - INFO:     Started",
        ("Started", T, "web-7f9c", "app", "INFO"),
    ),
    # syslog RFC 3164 and journald short format (year from received_at)
    (
        "<34>Sep 19 12:43:14 mymachine su[230]: 'su root' failed",
        ("'su root' failed", T, "230", "app", ""),
    ),
    (
        "Sep 19 12:43:14 host app[123]: msg",
        ("msg", T, "123", "app", ""),
    ),
    ("Sep  9 12:43:14 host cron: job ran", ("job ran", T.replace(day=9), "cron", "app", "")),
    # docker compose
    ("web_1  | INFO:     Started", ("Started", None, "web_1", "app", "INFO")),
    (
        "web-1  | [2025-09-19 12:43:14 +0000] [27] [ERROR] Exception in ASGI application",
        ("Exception in ASGI application", T, "web-1", "app", "ERROR"),
    ),
    ('api-1  |   File "x.py", line 3', ('  File "x.py", line 3', None, "api-1", "app", "")),
    # celery
    (
        "[2025-09-19 12:43:14,123: ERROR/ForkPoolWorker-2] Task app.sync[3f1c] raised unexpected",
        ("Task app.sync[3f1c] raised unexpected", T_MS, "ForkPoolWorker-2", "app", "ERROR"),
    ),
    # alembic's "%(levelname)-5.5s [%(name)s] %(message)s"
    (
        "INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.",
        ("Context impl PostgresqlImpl.", None, "", "app", "INFO"),
    ),
    # journalctl -o short-iso
    (
        "2025-09-19T12:43:14+0000 worker-1 python[2210]: Traceback (most recent call last):",
        ("Traceback (most recent call last):", T, "2210", "app", ""),
    ),
    (
        '2025-09-19T12:43:14+0000 ip-10-0-0-1 gunicorn[2210]:   File "x.py", line 3',
        ('  File "x.py", line 3', T, "2210", "app", ""),
    ),
    # Fly.io: no space between "[info]" and the message
    (
        "2025-09-19T12:43:14Z app[683d920f1e5e98] ams [info]ERROR:    Exception in ASGI application",
        ("Exception in ASGI application", T, "683d920f1e5e98", "app", "ERROR"),
    ),
    (
        '2025-09-19T12:43:14Z app[683d920f1e5e98] ams [info]  File "x.py", line 3',
        ('  File "x.py", line 3', T, "683d920f1e5e98", "app", ""),
    ),
    (
        "2025-09-19T12:43:14Z proxy[683d920f1e5e98] ams [error]could not proxy HTTP request",
        ("could not proxy HTTP request", T, "683d920f1e5e98", "platform", ""),
    ),
    # containerd / CRI-O pod log files, GitHub Actions (7 fractional digits)
    (
        "2025-09-19T12:43:14.020140981Z stderr F ERROR:    Exception in ASGI application",
        (
            "Exception in ASGI application",
            T.replace(microsecond=20140),
            "",
            "app",
            "ERROR",
        ),
    ),
    (
        '2025-09-19T12:43:14.1234567Z   File "/home/runner/work/x.py", line 3',
        ('  File "/home/runner/work/x.py", line 3', T.replace(microsecond=123456), "", "app", ""),
    ),
    # a platform's prefix over gunicorn: the pid is not the instance (the traceback lines under the
    # header carry no pid, so it would only part the header from its traceback)
    (
        "2025-09-19T12:43:14Z [2025-09-19 12:43:20 +0000] [27] [ERROR] Exception in ASGI application",
        ("Exception in ASGI application", T, "", "app", "ERROR"),
    ),
    # JSON log lines: Docker's json-file driver, structlog, python-json-logger, pino-style epochs
    (
        '{"log":"[2025-09-19 12:43:20 +0000] [9] [ERROR] boom\\n","stream":"stderr",'
        '"time":"2025-09-19T12:43:14.000000001Z"}',
        ("boom", T, "", "app", "ERROR"),
    ),
    (
        '{"log":"  File \\"/app/x.py\\", line 3, in f\\n","time":"2025-09-19T12:43:14Z"}',
        ('  File "/app/x.py", line 3, in f', T, "", "app", ""),
    ),
    (
        '{"event": "payment_failed", "level": "error", "timestamp": "2025-09-19T12:43:14.123Z"}',
        ("payment_failed", T_MS, "", "app", "ERROR"),
    ),
    (
        '{"asctime": "2025-09-19 12:43:14,123", "levelname": "WARNING", "message": "slow"}',
        ("slow", T_MS, "", "app", "WARNING"),
    ),
    (
        'web-1  | {"msg": "boom", "lvl": "warn", "ts": 1758285794123}',
        ("boom", T_MS, "web-1", "app", "WARNING"),
    ),
    (
        '{"severity": "ERROR", "message": "\\u001b[31mboom\\u001b[0m", "time": "bad"}',
        ("boom", None, "", "app", "ERROR"),
    ),
]


@pytest.mark.parametrize(("line", "expected"), HEADED, ids=[case[0][:60] for case in HEADED])
def test_parse_line_recognises_and_strips_headers(
    line: str, expected: tuple[str, datetime | None, str, str, str]
) -> None:
    record = parse_line(line, source="api", received_at=RECEIVED, seq=7)
    assert _fields(record) == expected
    assert record.headed
    assert record.source == "api"
    assert record.seq == 7
    assert record.received_at == RECEIVED


UNHEADED = [
    "Traceback (most recent call last):",
    '  File "/app/main.py", line 12, in handler',
    "    await session.execute(stmt)",
    "    ^^^^^^^^^^^^^^^^^^^^^^^^^^^",
    "sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called",
    "KeyError: 'user_id'",
    "Was IO attempted in an unexpected place?",
    "[SQL: SELECT users.id FROM users WHERE users.id = $1::INTEGER]",
    "[parameters: (1,)]",
    "(Background on this error at: https://sqlalche.me/e/20/xd2s)",
    "==> Build failed",
    "Exception in ASGI application",
    "<Task finished name='Task-1'>",
    "2025 was a good year",
    "2025-13-45 12:43:14 impossible date",
    "Error: something",
    "FATAL:  remaining connection slots are reserved for non-replication superuser connections",
    "DETAIL:  Key (id)=(1) already exists.",
    "ERROR | not compose",
    "[Previous line repeated 996 more times]",
    '{"detail":"sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called"}',
    '{"message": "a JSON line cut short',
    "{'message': 'a Python dict repr'}",
    '{"message": 42}',
    "[1, 2, 3]",
    "[2025-09-19 12:43:14,123: NOTALEVEL/worker] x",
    "INFO  no bracket after the level",
    "user alice[42] said hi",
]


@pytest.mark.parametrize("line", UNHEADED)
def test_parse_line_keeps_lines_without_a_header_whole(line: str) -> None:
    record = parse_line(line, source="api", received_at=RECEIVED)
    assert record.message == line
    assert not record.headed
    assert record.time is None
    assert record.level == ""
    assert record.instance == ""


def test_bsd_syslog_time_is_unknown_without_received_at() -> None:
    record = parse_line("Sep 19 12:43:14 host app[123]: msg", source="api")
    assert (record.message, record.time, record.instance) == ("msg", None, "123")


def test_bsd_syslog_time_from_december_read_in_january_is_last_year() -> None:
    received = datetime(2026, 1, 2, tzinfo=UTC)
    record = parse_line("Dec 31 23:59:59 host app: bye", source="api", received_at=received)
    assert record.time == datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-09-19T12:43:14Z", T),
        ("2025-09-19T12:43:14.123+00:00", T_MS),
        ("2025-09-19 12:43:14,123", T_MS),
        ("2025-09-19T13:43:14+0100", T),
        ("2025-09-19T12:43:14", T),
        ("2025-09-19", None),
        ("2025-02-30T12:43:14Z", None),
        ("not a time", None),
        ("2025-09-19T12:43:14Zjunk", None),
    ],
)
def test_parse_timestamp_returns_utc_or_none(text: str, expected: datetime | None) -> None:
    result = parse_timestamp(text)
    assert result == expected
    assert result is None or result.tzinfo is UTC


def test_parse_text_splits_normalises_redacts_and_numbers_lines() -> None:
    text = (
        "\ufeffINFO:     one\r\n\r\n   \n\x1b[31mERROR:    two password=hunter2\x1b[0m\rthree\x00\n"
    )
    records = parse_text(text, source="api", received_at=RECEIVED, start_seq=10)
    assert [(r.message, r.level, r.seq) for r in records] == [
        ("one", "INFO", 10),
        ("two password=[REDACTED]", "ERROR", 11),
        ("three", "", 12),
    ]
    assert all(r.received_at == RECEIVED and r.source == "api" for r in records)


def test_parse_text_truncates_long_lines() -> None:
    (record,) = parse_text("x" * 5000, source="api", max_line_bytes=1000)
    assert "…[truncated" in record.message
    assert len(record.message.encode("utf-8")) <= 1000


def test_parse_text_does_not_carry_time_to_unheaded_lines() -> None:
    records = parse_text(
        "2025-09-19T12:43:14Z app[web.1]: Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n',
        source="api",
    )
    assert records[0].time == T
    assert records[1].time is None


@given(st.text())
def test_parse_line_never_raises_and_keeps_text(line: str) -> None:
    record = parse_line(line, source="api", received_at=RECEIVED)
    assert record.message in line or "{" in line  # a JSON line's message is decoded
    assert record.time is None or record.time.tzinfo is UTC
    assert record.headed or record.message == line


@given(st.text())
def test_parse_text_never_raises(text: str) -> None:
    records = parse_text(text, source="api")
    assert [r.seq for r in records] == list(range(len(records)))


def test_json_line_gets_its_traceback_appended_to_its_message() -> None:
    line = json.dumps(
        {
            "event": "create_user_failed",
            "level": "error",
            "timestamp": "2025-09-19T12:43:14Z",
            "exception": "Traceback (most recent call last):\n"
            '  File "/app/users.py", line 4, in create\n'
            "TypeError: 'full_name' is an invalid keyword argument for User\n",
        }
    )
    record = parse_line(line, source="api")
    assert record.message.split("\n") == [
        "create_user_failed",
        "Traceback (most recent call last):",
        '  File "/app/users.py", line 4, in create',
        "TypeError: 'full_name' is an invalid keyword argument for User",
    ]
    assert (record.level, record.time, record.headed) == ("ERROR", T, True)


def test_json_line_message_that_holds_its_traceback_is_not_doubled() -> None:
    text = "upload failed\nTraceback (most recent call last):\nImportError: x"
    record = parse_line(json.dumps({"message": text, "exc_info": text[14:]}), source="api")
    assert record.message == text


def test_loguru_serialized_line_is_peeled_down_to_its_message() -> None:
    text = (
        "2025-09-19 12:43:14.123 | ERROR    | app.jobs:run:77 - export failed\n"
        "Traceback (most recent call last):\n\n"
        "ValueError: boom\n"
    )
    line = json.dumps({"text": text, "record": {"level": {"name": "ERROR"}, "message": "x"}})
    record = parse_line(line, source="api")
    assert record.message == "export failed\nTraceback (most recent call last):\n\nValueError: boom"
    assert (record.level, record.time) == ("ERROR", T_MS)


def test_json_line_text_is_normalised_and_redacted_once_decoded() -> None:
    line = json.dumps({"message": "bell\u0007 \u001b[1mbold\u001b[0m password=hunter2"})
    assert parse_line(line, source="api").message == "bell\ufffd bold password=[REDACTED]"


def test_parse_text_joins_a_line_hard_wrapped_at_80_columns() -> None:
    line = (
        "2025-09-19T12:43:14.120883+00:00 app[worker.1]: psycopg2.OperationalError: "
        "server closed the connection unexpectedly"
    )
    wrapped = "\n".join(line[i : i + 80] for i in range(0, len(line), 80))
    (record,) = parse_text(wrapped + "\n", source="api")
    assert record.message == "psycopg2.OperationalError: server closed the connection unexpectedly"
    assert (record.instance, record.time) == ("worker.1", T.replace(microsecond=120883))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "2025-10-02 10:02:14,551 WARNING [DB_DOWN] op=sync try=1/5 sleep=2s reason=X",
            "[DB_DOWN] op=sync try=1/5 sleep=2s reason=X",
        ),
        (
            "2025-10-02 10:04:14,551 INFO [DB_RECOVERED] op=sync after 3 attempts",
            "[DB_RECOVERED] op=sync after 3 attempts",
        ),
        ("2025-10-02 10:02:14 ERROR [AUTH] token refresh failed", "[AUTH] token refresh failed"),
        ("2025-10-02 10:02:14 INFO [app.main] started", "started"),
    ],
)
def test_parse_line_keeps_a_bracketed_tag_and_strips_a_logger_name(line: str, message: str) -> None:
    assert parse_line(line, source="api").message == message


PLATFORM_WRAPPED = [
    # Papertrail's event viewer, with and without the sender's name
    ("Aug 13 18:08:48 pb2-production app/web.1: KeyError: 'x'", "KeyError: 'x'", "web.1", "app"),
    ("Feb 14 07:33:02 heroku/router:  at=error code=H12", "at=error code=H12", "router", "router"),
    # Render's dashboard copied, with a date, a bare clock, an instance's short id
    ("Jan 14 10:30:15 PM  ==> Starting service", "==> Starting service", "", "app"),
    ("10:17:39 PM  [hh4tw] Exception: boom", "Exception: boom", "hh4tw", "app"),
    ("06:21:53 PM ==> Build failed", "==> Build failed", "", "app"),
    ('Jul 15 10:02:14 AM    File "x.py", line 3', '  File "x.py", line 3', "", "app"),
    # a syslog tag with nothing before it, a markdown quote
    ("gunicorn[812]: Exception: boom", "Exception: boom", "812", "app"),
    ('>   File "x.py", line 3', '  File "x.py", line 3', "", "app"),
    # RFC 5424 with STRUCTURED-DATA "-": a leading [TAG] is message
    ("<134>1 2024-07-15T10:02:14Z h app 812 - - [DB_DOWN] op=x", "[DB_DOWN] op=x", "812", "app"),
]


@pytest.mark.parametrize(("line", "message", "instance", "stream"), PLATFORM_WRAPPED)
def test_parse_line_peels_a_platform_wrapping(
    line: str, message: str, instance: str, stream: str
) -> None:
    record = parse_line(line, source="s", received_at=RECEIVED)
    assert (record.message, record.instance, record.stream) == (message, instance, stream)
    assert record.written == ""  # nothing but the wrapping was taken off


def test_render_dashboard_time_is_read_on_the_twelve_hour_clock() -> None:
    record = parse_line("Sep 19 12:43:14 PM  boom", source="s", received_at=RECEIVED)
    assert record.time == T
    assert parse_line("Sep 19 12:43:14 AM  boom", source="s", received_at=RECEIVED).time == (
        T.replace(hour=0)
    )


def test_loguru_frame_marker_is_no_quote() -> None:
    assert parse_line('> File "/app/x.py", line 3', source="s").message.startswith("> File")


@pytest.mark.parametrize(
    ("line", "message", "written"),
    [
        # a level that is also message text (pip, PostgreSQL) stays in the line as written
        ("ERROR: ResolutionImpossible: for help", "ResolutionImpossible: for help", None),
        (
            "Jul 15 10:02:14 h postgres[9]: ERROR:  deadlock detected",
            "deadlock detected",
            "ERROR:  deadlock detected",
        ),
        ("web-1  | INFO:     Started", "Started", "INFO:     Started"),
    ],
)
def test_parse_line_keeps_the_line_as_written_under_its_wrapping(
    line: str, message: str, written: str | None
) -> None:
    record = parse_line(line, source="s")
    assert record.message == message
    assert record.written == (line if written is None else written)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("2025-09-19 12:43:14,000 ERROR    msg", "msg"),  # %(levelname)-8s padding
        (
            '2025-09-19 12:43:14,000 ERROR      File "x.py"',
            '  File "x.py"',
        ),  # padding, then the frame's indent
        (
            '2025-09-19 12:43:14,000 ERROR   File "x.py"',
            '  File "x.py"',
        ),  # unpadded level, a frame's indent
        ("2025-09-19 12:43:14,000 ERROR     raise X", "    raise X"),
        ("INFO:     Started", "Started"),  # uvicorn's column
        ('ERROR:      File "x.py"', '  File "x.py"'),
    ],
)
def test_level_padding_is_dropped_and_indentation_kept(line: str, message: str) -> None:
    assert parse_line(line, source="s").message == message


def test_a_markdown_quoted_traceback_reads_as_the_traceback() -> None:
    quoted = (
        "> Traceback (most recent call last):\n"
        '>   File "/app/x.py", line 3, in f\n'
        ">     raise KeyError(key)\n"
        "> KeyError: 'a'\n"
        ">\n"
        "> During handling of the above exception, another exception occurred:\n"
        ">\n"
        "> Traceback (most recent call last):\n"
        '>   File "/app/x.py", line 9, in g\n'
        "> RuntimeError: b"
    )
    events = assemble(parse_text(quoted, source="s"))
    assert [len(event.records) for event in events] == [10]
    assert events[0].exception_type == "RuntimeError"
    assert events[0].records[4].message == ""


@pytest.mark.parametrize(
    ("line", "message", "instance"),
    [
        (
            '```2021-03-16T22:51:00.067813+00:00 app[worker.2]: File "/app/db.py"',
            'File "/app/db.py"',
            "worker.2",
        ),
        ("```Traceback (most recent call last):", "Traceback (most recent call last):", ""),
    ],
)
def test_a_code_fence_glued_onto_a_line_is_no_part_of_it(
    line: str, message: str, instance: str
) -> None:
    record = parse_line(line, source="api")
    assert (record.message, record.instance) == (message, instance)


@pytest.mark.parametrize("line", ["```python", "```", "``` text", "````"])
def test_a_fence_with_its_language_or_alone_is_kept(line: str) -> None:
    assert parse_line(line, source="api").message == line
