"""Hits read from the frames of a traceback cut before its exception line, and their confidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.ingest.records import Frame
from service.signatures.engine import Matcher, event_from_text
from service.signatures.frames import FrameIndex, FrameRule
from service.signatures.loader import load_signatures
from service.signatures.model import Knowledge
from service.signatures.schema import Detection, Rule, SignatureError

BUNDLED = Path(__file__).resolve().parents[2] / "patterns"
LIBRARY = Matcher(load_signatures([BUNDLED]).signatures)

AWAIT_ONLY = (
    '  File "/app/.venv/lib/python3.11/site-packages/sqlalchemy/util/_concurrency_py3k.py", '
    "line 123, in await_only"
)
CUT_GREENLET = f"""\
Traceback (most recent call last):
  File "/app/app/api/teams.py", line 66, in team_members
    return [m.user.email for m in team.members]
{AWAIT_ONLY}
    raise exc.MissingGreenlet(
"""
CUT_NO_ROWS = """\
Traceback (most recent call last):
  File "/app/app/db.py", line 40, in run_ddl
    rows = result.fetchall()
  File "/usr/local/lib/python3.11/site-packages/sqlalchemy/engine/cursor.py", line 1566, \
in _we_dont_return_rows
    raise exc.ResourceClosedError(
"""
CUT_LOOP_CLOSED = """\
  File "/app/app/tasks.py", line 31, in _send_digest
    await client.post(url, json=payload)
  File "/usr/local/lib/python3.11/asyncio/base_events.py", line 519, in _check_closed
    raise RuntimeError('Event loop is closed')
"""


def frame_rule(ident: str, *frames: FrameRule, priority: int = 50, none: str = "") -> Rule:
    return Rule(
        id=ident,
        title=ident,
        severity="high",
        description="test",
        kind="single",
        priority=priority,
        group_by=(),
        knowledge=Knowledge(root_cause="r", fix="f"),
        detection=Detection(
            keywords=(ident,),
            any=(rf"{ident}: (?P<what>\w+)",),
            none=(none,) if none else (),
            frames=frames,
        ),
    )


DEMO = frame_rule(
    "demo.broke",
    FrameRule("demo/core.py", "explode", code="raise", fields={"what": "boom"}),
    none="ignore me",
)


def cut(*lines: str) -> str:
    return "Traceback (most recent call last):\n" + "\n".join(lines) + "\n"


DEEPEST_DEMO = '  File "/venv/site-packages/demo/core.py", line 9, in explode'


def test_deepest_library_frame_names_the_failure_of_a_cut_traceback() -> None:
    matcher = Matcher([DEMO])
    hit = matcher.match(event_from_text(cut('  File "/app/x.py", line 1, in f', DEEPEST_DEMO)))
    assert hit is not None
    assert hit.signature.id == "demo.broke"
    assert hit.confidence == "inferred"
    assert dict(hit.fields) == {"what": "boom"}


def test_a_frame_rule_higher_up_the_stack_names_nothing() -> None:
    text = cut(DEEPEST_DEMO, '  File "/venv/site-packages/driver/io.py", line 3, in read')
    assert Matcher([DEMO]).match(event_from_text(text)) is None


def test_a_complete_traceback_is_never_inferred_from_its_frames() -> None:
    text = cut(DEEPEST_DEMO, "ValueError: something else")
    assert Matcher([DEMO]).match(event_from_text(text)) is None


def test_a_shown_source_line_must_start_with_the_rules_code() -> None:
    matcher = Matcher([DEMO])
    passing = cut(DEEPEST_DEMO, "    return deeper()")
    raising = cut(DEEPEST_DEMO, "    raise DemoError()")
    assert matcher.match(event_from_text(passing)) is None
    assert matcher.match(event_from_text(raising)) is not None


def test_the_file_is_matched_as_a_whole_path_suffix() -> None:
    rule = FrameRule("demo/core.py", "explode")
    assert rule.matches(Frame("C:\\venv\\Lib\\site-packages\\demo\\core.py", 9, "explode"))
    assert rule.matches(Frame("demo/core.py", 9, "explode"))
    assert not rule.matches(Frame("/venv/site-packages/notdemo/core.py", 9, "explode"))
    assert not rule.matches(Frame("/venv/site-packages/demo/core.py", 9, "implode"))


def test_a_veto_stops_an_inferred_hit_too() -> None:
    text = cut('  File "/app/x.py", line 1, in f', "    ignore me()", DEEPEST_DEMO)
    assert Matcher([DEMO]).match(event_from_text(text)) is None


def test_the_most_specific_frame_rule_wins() -> None:
    low = frame_rule("demo.low", FrameRule("demo/core.py", "explode"), priority=10)
    high = frame_rule("demo.high", FrameRule("demo/core.py", "explode"), priority=90)
    index = FrameIndex([(1, low.detection.frames[0]), (0, high.detection.frames[0])])
    assert index.owner((Frame("/x/demo/core.py", 1, "explode"),)) == (0, high.detection.frames[0])
    hit = Matcher([low, high]).match(event_from_text(cut(DEEPEST_DEMO)))
    assert hit is not None and hit.signature.id == "demo.high"


def test_a_regex_match_in_the_announcing_line_stays_exact() -> None:
    text = "demo.broke: kaput while syncing\n" + cut('  File "/app/x.py", line 1, in f')
    hit = Matcher([DEMO]).match(event_from_text(text))
    assert hit is not None
    assert (hit.confidence, dict(hit.fields)) == ("exact", {"what": "kaput"})


def test_a_regex_match_inside_a_cut_traceback_is_inferred() -> None:
    text = cut('  File "/app/x.py", line 1, in f', "    log('demo.broke: kaput')")
    hit = Matcher([DEMO]).match(event_from_text(text))
    assert hit is not None and hit.confidence == "inferred"


def test_hits_for_lists_the_inferred_hit_after_regex_hits_of_its_priority() -> None:
    other = frame_rule("demo.other", priority=50)
    text = cut("    demo.other: seen", DEEPEST_DEMO)
    hits = Matcher([DEMO, other]).hits_for(event_from_text(text))
    assert [(h.signature.id, h.confidence) for h in hits] == [
        ("demo.other", "inferred"),
        ("demo.broke", "inferred"),
    ]
    assert Matcher([DEMO, other]).match(event_from_text(text)) == hits[0]


@pytest.mark.parametrize(
    ("text", "signature"),
    [
        (CUT_GREENLET, "sqlalchemy.missing-greenlet"),
        (CUT_NO_ROWS, "sqlalchemy.result-no-rows"),
        (CUT_LOOP_CLOSED, "asyncio.loop-mismatch"),
    ],
)
def test_bundled_signatures_name_cut_tracebacks_from_their_frames(
    text: str, signature: str
) -> None:
    hit = LIBRARY.match(event_from_text(text))
    assert hit is not None
    assert (hit.signature.id, hit.confidence) == (signature, "inferred")


def test_await_only_passing_a_driver_error_through_is_not_missing_greenlet() -> None:
    text = cut(AWAIT_ONLY, "    return current.parent.switch(awaitable)")
    hit = LIBRARY.match(event_from_text(text))
    assert hit is None or hit.signature.id != "sqlalchemy.missing-greenlet"


def test_inferred_loop_closed_hit_carries_the_symptom_its_line_would_have() -> None:
    hit = LIBRARY.match(event_from_text(CUT_LOOP_CLOSED))
    assert hit is not None and hit.fields.get("symptom") == "Event loop is closed"


def test_a_complete_bundled_traceback_is_exact() -> None:
    text = (
        CUT_NO_ROWS
        + "sqlalchemy.exc.ResourceClosedError: This result object does not return rows.\n"
    )
    hit = LIBRARY.match(event_from_text(text))
    assert hit is not None
    assert (hit.signature.id, hit.confidence) == ("sqlalchemy.result-no-rows", "exact")


def test_django_summary_is_matched_as_the_exception_it_names() -> None:
    text = (
        '  File "/usr/lib/python3/django/core/handlers/exception.py", line 55, in inner\n'
        "    response = get_response(request)\n"
        "Exception Type: ZeroDivisionError at /report/\n"
        "Exception Value: division by zero\n"
    )
    hit = LIBRARY.match(event_from_text(text))
    assert hit is not None
    assert hit.signature.id == "python.unhandled-exception"
    assert hit.fields.get("exception") == "ZeroDivisionError"
    assert hit.confidence == "exact"


def test_glued_header_traceback_falls_back_to_the_generic_signature() -> None:
    text = (
        "ERROR app: request failed Traceback (most recent call last):\n"
        '  File "/app/app/x.py", line 3, in f\n'
        "sqlalchemy.orm.exc.NoResultFound: No row was found when one was required\n"
    )
    hit = LIBRARY.match(event_from_text(text))
    assert hit is not None
    assert hit.signature.id == "python.unhandled-exception"
    assert hit.fields.get("exception") == "sqlalchemy.orm.exc.NoResultFound"


FRAMES_FILE = """\
id = "demo.thing"
title = "Demo"
severity = "high"
status = "stable"
priority = 10
description = "d"

[detect]
kind = "{kind}"
keywords = ["DEMO"]
any = ['DEMO (?P<code>\\\\d+)']
{extra}
frames = [{frames}]

[knowledge]
root_cause = "r"
fix = "f"
verification = ["v"]

[[examples]]
text = "DEMO 1"

[[examples]]
text = "x DEMO 2"

[[near_misses]]
text = "DEMO"
"""


def frames_errors(
    tmp_path: Path, frames: str, *, kind: str = "single", extra: str = ""
) -> list[str]:
    folder = tmp_path / "patterns" / "demo"
    folder.mkdir(parents=True)
    text = FRAMES_FILE.format(kind=kind, frames=frames, extra=extra)
    (folder / "demo.thing.toml").write_text(text, encoding="utf-8")
    try:
        load_signatures([tmp_path / "patterns"])
    except SignatureError as error:
        return error.errors
    return []


def test_valid_frames_load_into_the_detection(tmp_path: Path) -> None:
    folder = tmp_path / "patterns" / "demo"
    folder.mkdir(parents=True)
    frames = (
        '{ file = "demo/core.py", function = "explode", code = "raise", fields = { code = "1" } }'
    )
    (folder / "demo.thing.toml").write_text(
        FRAMES_FILE.format(kind="single", frames=frames, extra=""), encoding="utf-8"
    )
    (rule,) = load_signatures([tmp_path / "patterns"]).signatures
    assert rule.detection.frames == (
        FrameRule("demo/core.py", "explode", code="raise", fields={"code": "1"}),
    )


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ('{ file = "/abs/core.py", function = "f" }', "detect.frames[0].file: must be a relative"),
        (
            '{ file = "demo\\\\core.py", function = "f" }',
            "detect.frames[0].file: must be a relative",
        ),
        ('{ file = "demo/core.txt", function = "f" }', "detect.frames[0].file: must be a relative"),
        ('{ file = "demo/core.py", function = "f()" }', "detect.frames[0].function: must be a"),
        ('{ function = "f" }', "detect.frames[0].file: required key is missing"),
        ('{ file = "a.py", function = "f", lines = 3 }', "detect.frames[0].lines: unknown key"),
        (
            '{ file = "a.py", function = "f", fields = { nope = "1" } }',
            "detect.frames[0].fields.nope: 'nope' is not captured",
        ),
        (
            '{ file = "a.py", function = "f" }, { file = "a.py", function = "f" }',
            "detect.frames[1]: a.py:f is listed twice",
        ),
        ('"a.py:f"', "detect.frames[0]: expected a table"),
    ],
)
def test_frames_problems_are_reported_with_their_key(
    tmp_path: Path, frames: str, message: str
) -> None:
    errors = frames_errors(tmp_path, frames)
    assert any(message in error for error in errors), errors


def test_only_single_rules_take_frames(tmp_path: Path) -> None:
    extra = "threshold = 3\nwindow_seconds = 60"
    errors = frames_errors(
        tmp_path, '{ file = "a.py", function = "f" }', kind="threshold", extra=extra
    )
    assert any('detect.frames: only a kind = "single"' in error for error in errors), errors


CUT_PATH = "/venv/lib/python3.6/site-packages/demo/co"


@pytest.mark.parametrize(
    ("file", "code"),
    [
        (CUT_PATH, "raise DemoError()"),
        ("/venv/lib/python3.6/site-packages/demo/core.py", "raise DemoError()"),
        ("/venv/lib/python3.6/site-packages/demo/", "raise DemoError()"),
        ("C:\\venv\\Lib\\site-packages\\demo\\co", "raise DemoError()"),
    ],
)
def test_a_frame_cut_before_its_function_matches_by_its_source_line(file: str, code: str) -> None:
    assert FrameRule("demo/core.py", "explode", code="raise").matches(Frame(file, 0, "", code))


@pytest.mark.parametrize(
    ("rule", "frame"),
    [
        (FrameRule("demo/core.py", "explode"), Frame(CUT_PATH, 0, "", "raise DemoError()")),
        (FrameRule("demo/core.py", "explode", code="raise"), Frame(CUT_PATH, 0, "")),
        (FrameRule("demo/core.py", "explode", code="raise"), Frame(CUT_PATH, 0, "", "return x")),
        (FrameRule("demo/core.py", "explode", code="raise"), Frame("/venv/de", 0, "", "raise X")),
        (FrameRule("demo/core.py", "explode", code="raise"), Frame("/x/demo/cx", 0, "", "raise X")),
        (
            FrameRule("demo/core.py", "explode", code="raise"),
            Frame("/x/notdemo/co", 0, "", "raise"),
        ),
    ],
)
def test_a_cut_frame_needs_the_rules_code_and_a_cut_of_its_path(
    rule: FrameRule, frame: Frame
) -> None:
    assert not rule.matches(frame)


def test_a_source_line_cut_too_still_names_a_long_enough_code() -> None:
    rule = FrameRule("demo/core.py", "explode", code="raise DemoError(reason, self.BOOT)")
    assert rule.matches(Frame(CUT_PATH, 0, "", "raise DemoError(rea"))
    assert not rule.matches(Frame(CUT_PATH, 0, "", "raise Demo"))


def test_the_index_looks_a_cut_frame_up_by_code() -> None:
    coded = FrameRule("demo/core.py", "explode", code="raise")
    index = FrameIndex([(0, FrameRule("demo/core.py", "explode")), (1, coded)])
    assert index.owner((Frame(CUT_PATH, 0, "", "raise DemoError()"),)) == (1, coded)


def test_a_traceback_cut_at_the_terminal_width_infers_its_signature() -> None:
    coded = frame_rule("demo.coded", FrameRule("demo/core.py", "explode", code="raise"))
    text = (
        f'  File "/app/x.py", line 1, in f\n    run()\n  File "{CUT_PATH}\n    raise DemoError()\n'
    )
    hit = Matcher([coded]).match(event_from_text(text))
    assert hit is not None and hit.confidence == "inferred"


def test_one_function_may_be_listed_once_per_code_line(tmp_path: Path) -> None:
    frames = (
        '{ file = "a.py", function = "f", code = "raise A(" }, '
        '{ file = "a.py", function = "f", code = "raise B(" }'
    )
    assert not [e for e in frames_errors(tmp_path, frames) if "listed twice" in e]
