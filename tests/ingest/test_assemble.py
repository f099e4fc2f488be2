"""Traceback assembly: headers joined, platforms' per-line prefixes, chains, cut-offs, gaps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.ingest.assemble import Assembler, assemble
from service.ingest.headers import parse_text
from service.ingest.records import Event, LogRecord
from service.ingest.tracebacks import exception_chain

MISSING_GREENLET = """\
[2025-09-19 12:43:14 +0000] [27] [ERROR] Exception in ASGI application
Traceback (most recent call last):
  File "/opt/render/project/src/.venv/lib/python3.11/site-packages/uvicorn/protocols/http/httptools_impl.py", line 409, in run_asgi
    result = await app(  # type: ignore[func-returns-value]
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/opt/render/project/src/app/api/api_v1/endpoints/auth.py", line 212, in refresh_token
    user = db.query(User).filter(User.auth0_id == auth0_user_id).first()
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/opt/render/project/src/.venv/lib/python3.11/site-packages/sqlalchemy/util/_concurrency_py3k.py", line 123, in await_only
    raise exc.MissingGreenlet(
sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call await_only() here.
Was IO attempted in an unexpected place?
(Background on this error at: https://sqlalche.me/e/20/xd2s )
[2025-09-19 12:43:15 +0000] [27] [INFO] Handling signal: term
"""

HEROKU = """\
2025-09-19T12:43:14.100000+00:00 app[web.1]: ERROR:    Exception in ASGI application
2025-09-19T12:43:14.100100+00:00 app[web.1]: Traceback (most recent call last):
2025-09-19T12:43:14.100200+00:00 app[web.1]:   File "/app/app/auth.py", line 212, in refresh_token
2025-09-19T12:43:14.100300+00:00 app[web.1]:     user = await get_user(db, user_id)
2025-09-19T12:43:14.100350+00:00 heroku[router]: at=info method=GET path="/health" status=200
2025-09-19T12:43:14.100400+00:00 app[web.1]:   File "/app/app/users.py", line 40, in get_user
2025-09-19T12:43:14.100500+00:00 app[web.1]:     return db.query(User).get(user_id)
2025-09-19T12:43:14.100600+00:00 app[web.1]: sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call await_only() here.
2025-09-19T12:43:14.100700+00:00 app[web.1]: Was IO attempted in an unexpected place?
2025-09-19T12:43:14.100800+00:00 app[web.1]: (Background on this error at: https://sqlalche.me/e/20/xd2s)
2025-09-19T12:43:14.100900+00:00 app[web.1]: INFO:     10.1.2.3:5234 - "POST /api/v1/auth/refresh HTTP/1.1" 500 Internal Server Error
"""

CHAINED = """\
Traceback (most recent call last):
  File "/app/db.py", line 10, in connect
    conn = await asyncpg.connect(dsn)
asyncpg.exceptions.TooManyConnectionsError: sorry, too many clients already

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/app/main.py", line 5, in startup
    await db.connect()
sqlalchemy.exc.OperationalError: (asyncpg.exceptions.TooManyConnectionsError) sorry, too many clients already
(Background on this error at: https://sqlalche.me/e/20/e3q8)
"""


def _events(text: str, *, gap_seconds: float = 5.0, max_records: int = 2000) -> list[Event]:
    records = parse_text(text, source="api")
    return assemble(records, gap_seconds=gap_seconds, max_records=max_records)


def _record(
    seq: int,
    message: str,
    *,
    level: str = "",
    instance: str = "",
    received_at: datetime | None = None,
) -> LogRecord:
    return LogRecord(
        message=message,
        source="api",
        seq=seq,
        level=level,
        instance=instance,
        received_at=received_at,
        headed=bool(level),
    )


def _messages(event: Event) -> list[str]:
    return [record.message for record in event.records]


def test_gunicorn_header_and_unheaded_traceback_make_one_event() -> None:
    events = _events(MISSING_GREENLET)
    assert len(events) == 2
    event = events[0]
    assert event.records[0].message == "Exception in ASGI application"
    assert event.records[0].level == "ERROR"
    assert len(event.records) == 13
    assert event.exception_type == "sqlalchemy.exc.MissingGreenlet"
    assert event.exception_message == (
        "greenlet_spawn has not been called; can't call await_only() here.\n"
        "Was IO attempted in an unexpected place?\n"
        "(Background on this error at: https://sqlalche.me/e/20/xd2s )"
    )
    assert event.time == datetime(2025, 9, 19, 12, 43, 14, tzinfo=UTC)
    assert event.instance == "27"
    assert _messages(events[1]) == ["Handling signal: term"]


def test_traceback_frames_are_parsed_with_their_code() -> None:
    (event, _) = _events(MISSING_GREENLET)
    assert [(f.file.rsplit("/", 1)[-1], f.line, f.function) for f in event.frames] == [
        ("httptools_impl.py", 409, "run_asgi"),
        ("auth.py", 212, "refresh_token"),
        ("_concurrency_py3k.py", 123, "await_only"),
    ]
    assert event.frames[1].code == (
        "user = db.query(User).filter(User.auth0_id == auth0_user_id).first()"
    )
    assert event.frames[2].code == "raise exc.MissingGreenlet("
    assert [f.is_application for f in event.frames] == [False, True, False]


def test_heroku_prefixed_traceback_is_one_event_and_ends_at_the_access_line() -> None:
    events = _events(HEROKU)
    assert [(len(e.records), e.instance) for e in events] == [
        (9, "web.1"),
        (1, "router"),
        (1, "web.1"),
    ]
    traceback = events[0]
    assert _messages(traceback)[:2] == [
        "Exception in ASGI application",
        "Traceback (most recent call last):",
    ]
    assert all(record.headed for record in traceback.records)
    assert traceback.exception_type == "sqlalchemy.exc.MissingGreenlet"
    assert traceback.exception_message.splitlines()[1] == "Was IO attempted in an unexpected place?"
    assert [f.function for f in traceback.frames] == ["refresh_token", "get_user"]
    assert events[2].records[0].level == "INFO"


def test_every_line_carrying_the_gunicorn_header_still_assembles() -> None:
    head = "[2025-09-19 12:43:14 +0000] [27] [ERROR] "
    text = "\n".join(
        head + line
        for line in [
            "Error handling request /api/x",
            "Traceback (most recent call last):",
            '  File "/app/views.py", line 3, in view',
            "    1 / 0",
            "ZeroDivisionError: division by zero",
        ]
    )
    text += "\n[2025-09-19 12:43:15 +0000] [27] [INFO] Worker exiting (pid: 27)"
    events = _events(text)
    assert [len(e.records) for e in events] == [5, 1]
    assert events[0].exception_type == "ZeroDivisionError"
    assert events[0].exception_message == "division by zero"


def test_interleaved_instances_keep_their_tracebacks_apart() -> None:
    lines = []
    for step in [
        "Traceback (most recent call last):",
        '  File "/app/a.py", line {n}, in handler',
        "    do_{n}()",
        "ValueError: bad {n}",
    ]:
        for n in (1, 2):
            lines.append(f"2025-09-19T12:43:14+00:00 app[web.{n}]: " + step.format(n=n))
    events = _events("\n".join(lines))
    assert [(e.instance, e.exception_type, e.exception_message) for e in events] == [
        ("web.1", "ValueError", "bad 1"),
        ("web.2", "ValueError", "bad 2"),
    ]
    assert [[r.seq for r in e.records] for e in events] == [[0, 2, 4, 6], [1, 3, 5, 7]]


def test_chained_exceptions_form_one_event_with_the_last_as_final() -> None:
    (event,) = _events(CHAINED)
    assert event.exception_type == "sqlalchemy.exc.OperationalError"
    assert event.exception_message.endswith(
        "(Background on this error at: https://sqlalche.me/e/20/e3q8)"
    )
    assert exception_chain(event) == [
        ("asyncpg.exceptions.TooManyConnectionsError", "sorry, too many clients already"),
        (
            "sqlalchemy.exc.OperationalError",
            "(asyncpg.exceptions.TooManyConnectionsError) sorry, too many clients already\n"
            "(Background on this error at: https://sqlalche.me/e/20/e3q8)",
        ),
    ]
    assert [f.function for f in event.frames] == ["connect", "startup"]


def test_during_handling_chain_continues_the_event() -> None:
    text = CHAINED.replace(
        "The above exception was the direct cause of the following exception:",
        "During handling of the above exception, another exception occurred:",
    )
    (event,) = _events(text)
    assert len(exception_chain(event)) == 2


def test_traceback_cut_off_at_end_of_stream_has_no_exception_type() -> None:
    (event,) = _events(
        "Traceback (most recent call last):\n"
        '  File "/app/main.py", line 1, in <module>\n'
        "    import app\n"
    )
    assert len(event.records) == 3
    assert event.exception_type == ""
    assert event.frames[0].code == "import app"


def test_traceback_cut_off_by_a_new_log_line_ends_there() -> None:
    events = _events(
        "Traceback (most recent call last):\n"
        '  File "/app/main.py", line 1, in <module>\n'
        "INFO:     Application startup complete.\n"
    )
    assert [len(e.records) for e in events] == [2, 1]
    assert events[0].exception_type == ""


def test_sql_and_parameters_lines_continue_the_exception_message() -> None:
    events = _events(
        "2025-09-19 12:43:14,123 ERROR [app.db] query failed\n"
        "Traceback (most recent call last):\n"
        '  File "/app/repo.py", line 8, in list_users\n'
        "    rows = conn.execute(stmt)\n"
        'sqlalchemy.exc.ProgrammingError: (psycopg2.errors.UndefinedTable) relation "users" does not exist\n'
        "LINE 1: SELECT users.id FROM users\n"
        "                             ^\n"
        "\n"
        "[SQL: SELECT users.id FROM users]\n"
        "[parameters: {}]\n"
        "(Background on this error at: https://sqlalche.me/e/20/f405)\n"
        "some unrelated unheaded output\n"
    )
    assert [len(e.records) for e in events] == [10, 1]
    message = events[0].exception_message.splitlines()
    assert message[0] == '(psycopg2.errors.UndefinedTable) relation "users" does not exist'
    assert message[3:] == [
        "[SQL: SELECT users.id FROM users]",
        "[parameters: {}]",
        "(Background on this error at: https://sqlalche.me/e/20/f405)",
    ]


def test_headed_line_ends_a_multi_line_message() -> None:
    events = _events(
        "Traceback (most recent call last):\n"
        '  File "/app/a.py", line 1, in f\n'
        "RuntimeError: first line\n"
        "second line\n"
        "2025-09-19 12:43:14,123 INFO [app] next request\n"
    )
    assert [len(e.records) for e in events] == [4, 1]
    assert events[0].exception_message == "first line\nsecond line"


def test_time_gap_cuts_a_traceback() -> None:
    text = (
        "2025-09-19T12:43:14+00:00 app[web.1]: Traceback (most recent call last):\n"
        '2025-09-19T12:43:14+00:00 app[web.1]:   File "/app/a.py", line 1, in f\n'
        '2025-09-19T12:43:30+00:00 app[web.1]:   File "/app/b.py", line 2, in g\n'
        "2025-09-19T12:43:30+00:00 app[web.1]: KeyError: 'x'\n"
    )
    events = _events(text)
    # What follows the gap reads as a traceback whose header is missing.
    assert [len(e.records) for e in events] == [2, 2]
    assert [e.exception_type for e in events] == ["", "KeyError"]
    assert [len(e.records) for e in _events(text, gap_seconds=60.0)] == [4]


def test_time_gap_keeps_an_old_error_line_from_being_joined() -> None:
    events = _events(
        "2025-09-19T12:43:00+00:00 app[web.1]: ERROR:    Exception in ASGI application\n"
        "2025-09-19T12:43:14+00:00 app[web.1]: Traceback (most recent call last):\n"
        "2025-09-19T12:43:14+00:00 app[web.1]: KeyError: 'x'\n"
    )
    assert [len(e.records) for e in events] == [1, 2]


def test_log_time_and_arrival_time_are_never_compared() -> None:
    arrived = datetime(2025, 10, 1, 8, 0, tzinfo=UTC)  # weeks after the log's own time
    records = parse_text(MISSING_GREENLET, source="api", received_at=arrived)
    assert [len(e.records) for e in assemble(records)] == [13, 1]


def test_arrival_gap_cuts_a_traceback_without_log_times() -> None:
    arrived = datetime(2025, 10, 1, 8, 0, tzinfo=UTC)
    first = parse_text(
        'Traceback (most recent call last):\n  File "/app/a.py", line 1, in f\n',
        source="api",
        received_at=arrived,
    )
    second = parse_text(
        "KeyError: 'x'\n", source="api", received_at=arrived + timedelta(seconds=30), start_seq=2
    )
    assert [len(e.records) for e in assemble(first + second)] == [2, 1]


def test_error_line_without_traceback_is_released_as_its_own_event() -> None:
    events = _events(
        "ERROR:    Exception in ASGI application\nERROR:    something else\nINFO:     fine\n"
    )
    assert [_messages(e) for e in events] == [
        ["Exception in ASGI application"],
        ["something else"],
        ["fine"],
    ]


def test_info_line_before_a_traceback_is_not_joined() -> None:
    events = _events("INFO:     about to fail\nTraceback (most recent call last):\nKeyError: 'k'\n")
    assert [len(e.records) for e in events] == [1, 2]


@pytest.mark.parametrize(
    "header",
    [
        "Exception on /api/items [GET]",
        "Internal Server Error: /api/items",
        "Error handling request /api/items",
        "Exception in callback <TaskWakeupMethWrapper>",
        "Task exception was never retrieved",
    ],
)
def test_known_headers_join_even_without_a_level(header: str) -> None:
    events = _events(f"{header}\nTraceback (most recent call last):\nKeyError: 'k'\n")
    assert [len(e.records) for e in events] == [3]
    assert events[0].records[0].message == header


def test_asyncio_context_lines_join_the_header() -> None:
    events = _events(
        "Task exception was never retrieved\n"
        "future: <Task finished name='Task-7' coro=<poll() done> exception=RuntimeError('x')>\n"
        "Traceback (most recent call last):\n"
        '  File "/app/jobs.py", line 4, in poll\n'
        "RuntimeError: x\n"
    )
    assert [len(e.records) for e in events] == [5]
    assert events[0].exception_type == "RuntimeError"


def test_blank_platform_line_between_header_and_traceback_is_joined() -> None:
    events = _events(
        "2025-09-19T12:43:14+00:00 app[web.1]: ERROR:    Exception in ASGI application\n"
        "2025-09-19T12:43:14+00:00 app[web.1]: \n"
        "2025-09-19T12:43:14+00:00 app[web.1]: Traceback (most recent call last):\n"
        "2025-09-19T12:43:14+00:00 app[web.1]: KeyError: 'x'\n"
    )
    assert [len(e.records) for e in events] == [4]
    assert events[0].exception_type == "KeyError"


def test_a_record_holding_a_whole_traceback_gets_its_exception() -> None:
    record = _record(
        0,
        "job failed\nTraceback (most recent call last):\n"
        '  File "/app/jobs.py", line 4, in run\n    poll()\nTimeoutError: no reply',
        level="ERROR",
    )
    (event,) = assemble([record])
    assert (event.exception_type, event.exception_message) == ("TimeoutError", "no reply")
    assert [(f.function, f.code) for f in event.frames] == [("run", "poll()")]


def test_exception_chain_of_a_plain_record_is_empty() -> None:
    (event,) = assemble([_record(0, "ValueError: not in a traceback")])
    assert exception_chain(event) == []
    assert event.exception_type == ""


def test_exception_group_traceback_is_one_event() -> None:
    events = _events(
        "  + Exception Group Traceback (most recent call last):\n"
        '  |   File "/app/tasks.py", line 5, in main\n'
        "  |     async with asyncio.TaskGroup() as tg:\n"
        "  | ExceptionGroup: unhandled errors in a TaskGroup (2 sub-exceptions)\n"
        "  +-+---------------- 1 ----------------\n"
        "    | Traceback (most recent call last):\n"
        '    |   File "/app/tasks.py", line 9, in job\n'
        "    | ValueError: one\n"
        "    +---------------- 2 ----------------\n"
        "    | TypeError: two\n"
        "    +------------------------------------\n"
        "INFO:     after\n"
    )
    assert [len(e.records) for e in events] == [11, 1]
    assert events[0].exception_type == "ExceptionGroup"
    assert [name for name, _ in exception_chain(events[0])] == [
        "ExceptionGroup",
        "ValueError",
        "TypeError",
    ]
    assert [f.function for f in events[0].frames] == ["main", "job"]


def test_tail_continuation_is_capped() -> None:
    tail = "".join(f"line {n}\n" for n in range(50))
    events = _events("Traceback (most recent call last):\nValueError: x\n" + tail)
    assert len(events[0].records) == 2 + 30
    assert len(events) == 1 + 20


def test_record_limit_splits_a_long_traceback_and_keeps_its_end_readable() -> None:
    frames = '  File "/app/a.py", line 1, in f\n    f()\n' * 5
    events = _events(
        "Traceback (most recent call last):\n" + frames + "RecursionError: too deep\n",
        max_records=5,
    )
    assert [len(e.records) for e in events] == [4, 4, 4]
    assert [e.exception_type for e in events] == ["", "", "RecursionError"]
    assert [f.function for f in events[-1].frames] == ["f"]


def test_record_limit_ends_an_event_in_its_tail() -> None:
    tail = "".join(f"line {n}\n" for n in range(10))
    events = _events("Traceback (most recent call last):\nValueError: x\n" + tail, max_records=5)
    assert [len(e.records) for e in events] == [5, 1, 1, 1, 1, 1, 1, 1]
    assert events[0].exception_type == "ValueError"


def test_feed_in_pieces_matches_feeding_at_once() -> None:
    records = parse_text(MISSING_GREENLET + HEROKU + CHAINED, source="api")
    whole = assemble(records)
    assembler = Assembler()
    pieces: list[Event] = []
    for start in range(0, len(records), 3):
        pieces.extend(assembler.feed(records[start : start + 3]))
    pieces.extend(assembler.flush())
    assert pieces == whole  # the same events, in the same (log) order


def test_held_records_wait_for_the_next_record_of_their_instance() -> None:
    assembler = Assembler()
    assert assembler.feed([_record(0, "boom", level="ERROR", instance="a")]) == []
    assert assembler.pending == 1
    # Complete, but logged after the held line: it waits, so events come out in log order.
    assert assembler.feed([_record(1, "hello", instance="b")]) == []
    assert assembler.pending == 2
    assert [r.seq for r in assembler.held()] == [0, 1]
    emitted = assembler.feed([_record(2, "next", instance="a")])
    assert [e.records[0].seq for e in emitted] == [0, 1, 2]
    assert assembler.flush() == []


def test_expire_releases_what_has_waited_longer_than_the_gap() -> None:
    arrived = datetime(2025, 9, 19, 12, 0, tzinfo=UTC)
    assembler = Assembler(gap_seconds=5.0)
    assembler.feed([_record(0, "boom", level="ERROR", received_at=arrived)])
    assert assembler.expire(arrived + timedelta(seconds=2)) == []
    (event,) = assembler.expire(arrived + timedelta(seconds=6))
    assert event.records[0].seq == 0
    assert assembler.pending == 0


LINE_PARTS = [
    "Traceback (most recent call last):",
    '  File "/app/a.py", line 3, in f',
    "    f()",
    "    ^^^",
    "ValueError: bad",
    "KeyError",
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
    "  + Exception Group Traceback (most recent call last):",
    "  | ValueError: 1",
    "    +------------------------------------",
    "[SQL: SELECT 1]",
    "(Background on this error at: https://sqlalche.me/e/20/xd2s)",
    "Exception in ASGI application",
    "Task exception was never retrieved",
    "future: <Task finished>",
    "ERROR:    Exception in ASGI application",
    "INFO:     ok",
    'INFO:     1.2.3.4:1 - "GET / HTTP/1.1" 500 Internal Server Error',
    "[2025-09-19 12:43:14 +0000] [27] [ERROR] boom",
    "2025-09-19T12:43:14+00:00 app[web.1]: ",
    "2025-09-19T12:43:20+00:00 app[web.2]: ",
    "2025-09-19T12:43:14+00:00 heroku[router]: at=error code=H12",
    "web-1  | ",
    "",
]
LINES = st.lists(
    st.builds(
        lambda prefix, body, noise: prefix + body + noise,
        st.sampled_from(["", *LINE_PARTS[19:24]]),
        st.sampled_from(LINE_PARTS),
        st.sampled_from(["", "", "x", " y: z"]) | st.text(max_size=8),
    ),
    max_size=60,
)


@settings(max_examples=300)
@given(LINES, st.integers(min_value=1, max_value=7))
def test_assemble_emits_every_record_exactly_once_in_order(lines: list[str], chunk: int) -> None:
    records = parse_text("\n".join(lines), source="api")
    events = assemble(records)
    seqs = [record.seq for event in events for record in event.records]
    assert sorted(seqs) == [record.seq for record in records]
    firsts = [event.records[0].seq for event in events]
    assert firsts == sorted(firsts)
    for event in events:
        own = [record.seq for record in event.records]
        assert own == sorted(own)
        assert len({(r.instance, r.stream) for r in event.records if r.headed}) <= 1
    assembler = Assembler()
    pieces: list[Event] = []
    for start in range(0, len(records), chunk):
        pieces.extend(assembler.feed(records[start : start + chunk]))
    pieces.extend(assembler.flush())
    assert sorted(pieces, key=lambda e: e.records[0].seq) == events


@given(st.lists(st.text(max_size=40), max_size=40))
def test_assemble_never_raises_on_arbitrary_text(lines: list[str]) -> None:
    records = parse_text("\n".join(lines), source="api")
    events = assemble(records)
    assert sum(len(event.records) for event in events) == len(records)
    for event in events:
        exception_chain(event)


def test_uvicorn_error_level_traceback_line_opens_a_traceback_of_unlevelled_frames() -> None:
    events = _events(
        "2025-09-19T12:43:14.336120Z ERROR:    Traceback (most recent call last):\n"
        '2025-09-19T12:43:14.336180Z   File "/app/main.py", line 27, in lifespan\n'
        "2025-09-19T12:43:14.336191Z     await conn.run_sync(create_all)\n"
        "2025-09-19T12:43:14.336240Z OSError: [Errno 111] Connect call failed\n"
        "2025-09-19T12:43:14.336299Z ERROR:    Application startup failed. Exiting.\n"
    )
    assert [len(e.records) for e in events] == [4, 1]
    assert events[0].exception_type == "OSError"
    assert [f.function for f in events[0].frames] == ["lifespan"]


@pytest.mark.parametrize(
    "platform_line",
    ["==> Pre-deploy has failed", "##[error]Process completed with exit code 1."],
)
def test_a_platform_line_after_the_exception_is_not_part_of_its_message(
    platform_line: str,
) -> None:
    events = _events(
        "Traceback (most recent call last):\n"
        '  File "/app/x.py", line 3, in <module>\n'
        "alembic.util.exc.CommandError: Can't locate revision identified by 'c7d2'\n"
        f"{platform_line}\n"
    )
    assert [len(e.records) for e in events] == [3, 1]
    assert _messages(events[1]) == [platform_line]


def test_rich_traceback_box_is_one_event_with_its_frames() -> None:
    events = _events(
        "2025-09-19 12:43:14 [error    ] ingest_failed                  batch=88\n"
        "╭───────────── Traceback (most recent call last) ─────────────╮\n"
        "│ /app/app/ingest/pipeline.py:51 in run_batch                 │\n"
        "│                                                             │\n"
        "│ ❱ 51 │   │   async with self.session_factory as session:    │\n"
        "╰─────────────────────────────────────────────────────────────╯\n"
        "TypeError: 'async_generator' object does not support the asynchronous context manager"
        " protocol\n"
        "2025-09-19 12:43:15 [info     ] ingest_started                 batch=89\n"
    )
    assert [len(e.records) for e in events] == [7, 1]
    assert events[0].exception_type == "TypeError"
    assert [(f.file, f.line, f.function) for f in events[0].frames] == [
        ("/app/app/ingest/pipeline.py", 51, "run_batch")
    ]


def test_loguru_traceback_with_markers_and_annotations_is_one_event() -> None:
    events = _events(
        "2025-09-19 12:43:14.123 | ERROR    | app.api:list_items:42 - failed\n"
        "Traceback (most recent call last):\n"
        "\n"
        '  File "/usr/local/bin/uvicorn", line 8, in <module>\n'
        "    sys.exit(main())\n"
        "    │   │    └ <Command main>\n"
        "    └ <module 'sys' (built-in)>\n"
        "\n"
        '> File "/app/app/api.py", line 40, in list_items\n'
        "    result = await session.query(Item).all()\n"
        "                   └ <AsyncSession object at 0x7f3a1b3f2d50>\n"
        "\n"
        "AttributeError: 'AsyncSession' object has no attribute 'query'\n"
        "2025-09-19 12:43:14.130 | INFO     | app.main:access:18 - GET /api/items 500\n"
    )
    assert [len(e.records) for e in events] == [10, 1]
    assert events[0].exception_type == "AttributeError"
    assert [(f.function, f.code) for f in events[0].frames] == [
        ("<module>", "sys.exit(main())"),
        ("list_items", "result = await session.query(Item).all()"),
    ]


def test_a_platform_prefix_over_gunicorn_keeps_the_header_with_its_traceback() -> None:
    events = _events(
        "2025-09-19T12:43:14.1Z [2025-09-19 12:43:14 +0000] [27] [ERROR] Exception in ASGI "
        "application\n"
        "2025-09-19T12:43:14.2Z Traceback (most recent call last):\n"
        '2025-09-19T12:43:14.3Z   File "/app/x.py", line 3, in f\n'
        "2025-09-19T12:43:14.4Z KeyError: 'user_id'\n"
    )
    assert [len(e.records) for e in events] == [4]
    assert events[0].exception_type == "KeyError"


def test_docker_json_file_lines_assemble_like_the_lines_they_wrap() -> None:
    lines = [
        "[2025-09-19 12:43:14 +0000] [9] [ERROR] Exception in ASGI application\n",
        "Traceback (most recent call last):\n",
        '  File "/app/x.py", line 3, in f\n',
        "    raise KeyError(key)\n",
        "KeyError: 'user_id'\n",
        '10.0.2.2:0 - "POST /api/push HTTP/1.1" 500\n',
    ]
    body = "".join(
        json.dumps({"log": line, "stream": "stderr", "time": f"2025-09-19T12:43:14.{n}Z"}) + "\n"
        for n, line in enumerate(lines)
    )
    events = _events(body)
    assert [len(e.records) for e in events] == [5, 1]
    assert events[0].exception_type == "KeyError"
    assert events[0].records[0].message == "Exception in ASGI application"


def test_a_json_line_holding_a_whole_traceback_is_complete_on_its_own() -> None:
    traceback = 'Traceback (most recent call last):\n  File "/app/x.py", line 3\nOSError: x'
    body = json.dumps({"severity": "ERROR", "message": traceback}) + "\n"
    body += json.dumps({"message": "ValueError: not part of it"}) + "\n"
    events = _events(body)
    assert [len(e.records) for e in events] == [1, 1]
    assert events[0].exception_type == "OSError"


HEADLESS = """\
2025-09-19 12:43:14,100 ERROR app.api: request failed
  File "/app/app/api/teams.py", line 66, in team_members
    return [m.user.email for m in team.members]
  File "/app/.venv/lib/python3.11/site-packages/sqlalchemy/util/_concurrency_py3k.py", line 123, in await_only
    raise exc.MissingGreenlet(
sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called
2025-09-19 12:43:15,100 INFO app.api: next request
"""

NO_FINAL_LINE = """\
Traceback (most recent call last):
  File "/app/app/db.py", line 40, in run_ddl
    rows = result.fetchall()
  File "/usr/local/lib/python3.11/site-packages/sqlalchemy/engine/cursor.py", line 1566, in _we_dont_return_rows
    raise exc.ResourceClosedError(
2025-09-19 12:43:15,100 INFO app.api: next request
"""


def test_traceback_without_its_header_starts_at_its_first_frame() -> None:
    events = _events(HEADLESS)
    assert [len(e.records) for e in events] == [6, 1]
    assert events[0].records[0].message.endswith("request failed")
    assert events[0].exception_type == "sqlalchemy.exc.MissingGreenlet"
    assert [f.function for f in events[0].frames] == ["team_members", "await_only"]


def test_headless_traceback_without_a_logger_line_is_one_event() -> None:
    events = _events(HEADLESS.split("\n", 1)[1])
    assert [len(e.records) for e in events] == [5, 1]
    assert events[0].exception_type == "sqlalchemy.exc.MissingGreenlet"
    assert events[0].frames[0].code == "return [m.user.email for m in team.members]"


def test_frames_after_an_exception_line_start_the_next_headless_traceback() -> None:
    text = 'Traceback (most recent call last):\n  File "/app/a.py", line 1, in f\nKeyError: "a"\n'
    text += '  File "/app/b.py", line 2, in g\nValueError: b\n'
    events = _events(text)
    assert [len(e.records) for e in events] == [3, 2]
    assert [e.exception_type for e in events] == ["KeyError", "ValueError"]


def test_an_indented_line_that_is_no_frame_starts_nothing() -> None:
    events = _events('    at Object.<anonymous> (/app/index.js:3:9)\n    File "x" was saved\n')
    assert [len(e.records) for e in events] == [1, 1]
    assert all(not e.frames for e in events)


def test_traceback_without_its_final_line_keeps_its_frames_and_no_exception() -> None:
    events = _events(NO_FINAL_LINE)
    assert [len(e.records) for e in events] == [5, 1]
    assert events[0].truncated
    assert events[0].exception_type == ""
    assert events[0].frames[-1].function == "_we_dont_return_rows"
    assert events[0].frames[-1].code == "raise exc.ResourceClosedError("


def test_complete_traceback_is_not_truncated() -> None:
    assert not _events(MISSING_GREENLET)[0].truncated
    assert not _events("ERROR app: plain failure\n")[0].truncated


def test_header_glued_onto_the_logger_line_opens_the_traceback() -> None:
    events = _events(
        "2025-09-19 12:43:14,100 ERROR app: request failed Traceback (most recent call last):\n"
        '  File "/app/app/x.py", line 3, in f\n'
        "    return g()\n"
        "sqlalchemy.orm.exc.NoResultFound: No row was found when one was required\n"
        "2025-09-19 12:43:14,200 INFO app: next\n"
    )
    assert [len(e.records) for e in events] == [4, 1]
    assert events[0].exception_type == "sqlalchemy.orm.exc.NoResultFound"
    assert [(f.file, f.function) for f in events[0].frames] == [("/app/app/x.py", "f")]


def test_uvicorn_header_glued_onto_its_announcement_opens_the_traceback() -> None:
    events = _events(
        "ERROR:    Exception in ASGI application Traceback (most recent call last):\n"
        '  File "/app/x.py", line 3, in f\n'
        "KeyError: 'user_id'\n"
    )
    assert [len(e.records) for e in events] == [3]
    assert events[0].exception_type == "KeyError"


def test_a_line_that_only_mentions_a_traceback_opens_nothing() -> None:
    events = _events(
        "INFO app: printed Traceback (most recent call last): to stderr\nKeyError: x\n"
    )
    assert [len(e.records) for e in events] == [1, 1]


DJANGO_COPY = """\
Traceback (most recent call last):
  File "/usr/local/lib/python3.10/site-packages/django/core/handlers/exception.py", line 55, in inner
    response = get_response(request)
  File "/usr/local/lib/python3.10/site-packages/django/db/backends/base/base.py", line 270, in connect
    self.connection = self.get_new_connection(conn_params)

Exception Type: OperationalError at /
Exception Value: connection to server at "db" (10.0.0.5), port 5432 failed: Connection refused
"""


def test_django_summary_names_the_exception_of_its_traceback() -> None:
    events = _events(DJANGO_COPY)
    assert [len(e.records) for e in events] == [7]  # the blank line is no record
    event = events[0]
    assert event.exception_type == "OperationalError"
    assert event.exception_message.startswith("connection to server at")
    assert event.exception_line == "OperationalError: " + event.exception_message
    assert event.matched_text.endswith("\n" + event.exception_line)
    assert not event.truncated


def test_django_debug_page_summary_alone_is_one_event_with_its_exception() -> None:
    events = _events(
        "OperationalError at /admin/\n"
        "no such table: django_session\n"
        "Request Method:\tGET\n"
        "Exception Type:\tOperationalError\n"
        "Exception Value:\tno such table: django_session\n"
        "Exception Location:\t/usr/lib/python3/django/db/backends/sqlite3/base.py, line 328, in execute\n"
    )
    summary = [e for e in events if e.exception_type]
    assert len(summary) == 1
    assert summary[0].exception_type == "OperationalError"
    assert summary[0].exception_message == "no such table: django_session"


def test_django_value_keeps_its_indented_continuation_lines() -> None:
    events = _events(
        "Exception Type: OperationalError at /\n"
        "Exception Value: could not connect to server: Connection refused\n"
        '\tIs the server running on host "localhost" and accepting\n'
        "Python Executable: /usr/bin/python3\n"
    )
    assert events[0].exception_message == (
        "could not connect to server: Connection refused\n"
        'Is the server running on host "localhost" and accepting'
    )


def test_a_plain_event_has_no_exception_line_to_add() -> None:
    event = _events("ERROR app: Exception Type is unknown\n")[0]
    assert event.exception_line == ""
    assert event.matched_text == event.text


LOGURU_DIAGNOSE = """\
2024-03-02 10:00:00.123 | ERROR    | __main__:main:12 - An error has been caught in function 'main', process 'MainProcess' (1), thread 'MainThread' (2):
Traceback (most recent call last):

  File "/app/main.py", line 20, in <module>
    main()
    └ <function main at 0x7f>

> File "/app/main.py", line 12, in main
    loop.run_until_complete(run())
    │    │                  └ <function run at 0x7f>
    │    └ <function BaseEventLoop.run_until_complete at 0x7f>
    └ <_UnixSelectorEventLoop running=False closed=True debug=False>

  File "/usr/lib/python3.11/asyncio/base_events.py", line 519, in _check_closed
    raise RuntimeError('Event loop is closed')

RuntimeError: Event loop is closed
2024-03-02 10:00:00.200 | INFO     | __main__:main:13 - shutting down
"""


def test_loguru_diagnose_annotations_stay_in_one_event_and_out_of_frame_code() -> None:
    events = _events(LOGURU_DIAGNOSE)
    assert [len(e.records) for e in events] == [13, 1]  # blank lines are no records
    event = events[0]
    assert event.exception_type == "RuntimeError"
    assert event.exception_message == "Event loop is closed"
    assert [(f.function, f.code) for f in event.frames] == [
        ("<module>", "main()"),
        ("main", "loop.run_until_complete(run())"),
        ("_check_closed", "raise RuntimeError('Event loop is closed')"),
    ]


def test_loguru_diagnose_without_its_header_or_final_line_keeps_its_frames() -> None:
    body = LOGURU_DIAGNOSE.split("\n", 3)[3].rsplit("\nRuntimeError", 1)[0] + "\n"
    events = _events(body)
    assert events[0].truncated
    assert events[0].frames[-1].function == "_check_closed"


def test_broken_tracebacks_of_interleaved_instances_stay_apart() -> None:
    lines = [
        "2025-09-19T12:43:14.100000+00:00 app[web.1]: ERROR app: failed Traceback (most recent call last):",
        '2025-09-19T12:43:14.100100+00:00 app[web.2]:   File "/app/b.py", line 9, in h',
        '2025-09-19T12:43:14.100200+00:00 app[web.1]:   File "/app/a.py", line 1, in f',
        "2025-09-19T12:43:14.100300+00:00 app[web.2]:     return load()",
        "2025-09-19T12:43:14.100400+00:00 app[web.1]: KeyError: 'a'",
        '2025-09-19T12:43:14.100500+00:00 app[web.2]:   File "/usr/lib/python3.11/asyncio/base_events.py", line 519, in _check_closed',
        "2025-09-19T12:43:14.100600+00:00 app[web.3]: Exception Type: OperationalError at /",
        "2025-09-19T12:43:14.100700+00:00 app[web.2]:     raise RuntimeError('Event loop is closed')",
        "2025-09-19T12:43:14.100800+00:00 app[web.3]: Exception Value: no such table: x",
        "2025-09-19T12:43:14.100900+00:00 heroku[router]: at=info method=GET path=/ status=200",
    ]
    events = _events("\n".join(lines) + "\n")
    by_instance = {e.instance: e for e in events}
    assert len(by_instance["web.1"].records) == 3
    assert by_instance["web.1"].exception_type == "KeyError"
    assert len(by_instance["web.2"].records) == 4
    assert by_instance["web.2"].truncated
    assert [f.function for f in by_instance["web.2"].frames] == ["h", "_check_closed"]
    assert len(by_instance["web.3"].records) == 2
    assert by_instance["web.3"].exception_type == "OperationalError"


SYSTEMCTL_CUT = """\
Jan 06 01:56:25 host gunicorn[13842]:     self.stop()
Jan 06 01:56:25 host gunicorn[13842]:   File "/venv/lib/python3.6/site-packages/gunicorn/arbi
Jan 06 01:56:25 host gunicorn[13842]:     time.sleep(0.1)
Jan 06 01:56:25 host gunicorn[13842]:   File "/venv/lib/python3.6/site-packages/gunicorn/arbiter.py",>
Jan 06 01:56:25 host gunicorn[13842]:     raise HaltServer(reason, self.WORKER_BOOT_ERROR)
"""


def test_frame_lines_cut_at_the_terminal_width_are_one_traceback() -> None:
    events = _events(SYSTEMCTL_CUT)
    assert [len(e.records) for e in events] == [1, 4]
    cut = events[1]
    assert cut.truncated
    assert [(f.file, f.line, f.function) for f in cut.frames] == [
        ("/venv/lib/python3.6/site-packages/gunicorn/arbi", 0, ""),
        ("/venv/lib/python3.6/site-packages/gunicorn/arbiter.py", 0, ""),
    ]
    assert cut.frames[-1].code == "raise HaltServer(reason, self.WORKER_BOOT_ERROR)"


@pytest.mark.parametrize(
    "line",
    ['    File "x" was saved', '  File "notes', '  File "/app/a.py" is open', "  File /app/a.py"],
)
def test_an_indented_file_line_that_is_no_cut_frame_starts_nothing(line: str) -> None:
    events = _events(line + "\n    more text\n")
    assert all(not e.frames for e in events)


FLAT = """\
2021-03-16T22:51:00.067813+00:00 app[worker.2]: File "/app/app/db.py", line 27, in <module>
2021-03-16T22:51:00.068028+00:00 app[worker.2]: engine = create_engine(db_url)
2021-03-16T22:51:00.068065+00:00 app[worker.2]: File "<string>", line 2, in create_engine
2021-03-16T22:51:00.069781+00:00 app[worker.2]: File "/app/.venv/lib/python3.12/site-packages/sqlalchemy/util/langhelpers.py", line 453, in load
2021-03-16T22:51:00.070141+00:00 app[worker.2]: raise exc.NoSuchModuleError(
2021-03-16T22:51:00.070142+00:00 app[worker.2]: ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
"""


def test_frames_without_their_indentation_keep_their_source_lines() -> None:
    events = _events(FLAT + "2021-03-16T22:51:01.000000+00:00 app[worker.2]: State changed\n")
    assert [len(e.records) for e in events] == [6, 1]
    flat = events[0]
    assert flat.truncated
    assert [(f.function, f.code) for f in flat.frames] == [
        ("<module>", "engine = create_engine(db_url)"),
        ("create_engine", ""),
        ("load", "raise exc.NoSuchModuleError("),
    ]


def test_an_unindented_traceback_ends_in_its_exception_line() -> None:
    text = FLAT + (
        "2021-03-16T22:51:00.070200+00:00 app[worker.2]: "
        "sqlalchemy.exc.NoSuchModuleError: Can't load plugin: sqlalchemy.dialects:postgres\n"
    )
    events = _events(text)
    assert len(events) == 1
    assert events[0].exception_type == "sqlalchemy.exc.NoSuchModuleError"
    assert events[0].frames[-1].code == "raise exc.NoSuchModuleError("


def test_a_frame_at_column_0_takes_one_source_line_and_no_more() -> None:
    text = 'File "/app/a.py", line 3, in f\nreturn g()\nnothing to do with it\n'
    events = _events(text)
    assert [len(e.records) for e in events] == [2, 1]
    assert events[0].frames[0].code == "return g()"


def test_a_flat_frame_followed_by_its_exception_takes_no_source_line() -> None:
    events = _events('File "<string>", line 2, in f\nValueError: bad\n')
    assert len(events) == 1
    assert events[0].frames[0].code == ""
    assert events[0].exception_type == "ValueError"


def test_a_line_held_for_ever_holds_back_no_more_than_the_bound() -> None:
    from service.ingest.assemble import MAX_WAITING

    assembler = Assembler()
    out = assembler.feed([_record(0, "boom", level="ERROR", instance="a")])
    out += assembler.feed(
        [_record(n, f"line {n}", instance="b") for n in range(1, MAX_WAITING + 5)]
    )
    assert [e.records[0].seq for e in out] == list(range(MAX_WAITING + 5))  # still in log order
    assert assembler.pending <= MAX_WAITING
