"""The matcher: prefilter, fields, priority, vetoes, pair roles, timeouts and determinism."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.ingest.records import Event, LogRecord
from service.signatures.engine import Matcher, event_from_text
from service.signatures.loader import load_signatures
from service.signatures.model import Knowledge, RuleKind
from service.signatures.schema import Detection, Rule

BUNDLED = Path(__file__).resolve().parents[2] / "patterns"

MISSING_GREENLET_TRACEBACK = """\
ERROR:    Exception in ASGI application
Traceback (most recent call last):
  File "/app/.venv/lib/python3.11/site-packages/uvicorn/protocols/http/h11_impl.py", line 408, \
in run_asgi
    result = await app(  # type: ignore[func-returns-value]
  File "/app/app/api/auth.py", line 212, in refresh_token
    user = db.query(User).filter(User.auth0_id == auth0_user_id).first()
  File "/app/.venv/lib/python3.11/site-packages/sqlalchemy/util/_concurrency_py3k.py", line 123, \
in await_only
    raise exc.MissingGreenlet(
sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call await_only() here. \
Was IO attempted in an unexpected place? (Background on this error at: https://sqlalche.me/e/20/xd2s)"""


def make_rule(
    ident: str,
    *,
    any: tuple[str, ...],
    keywords: tuple[str, ...] = (),
    priority: int = 10,
    none: tuple[str, ...] = (),
    close_any: tuple[str, ...] = (),
    kind: RuleKind = "single",
) -> Rule:
    return Rule(
        id=ident,
        title=ident,
        severity="high",
        description="test",
        kind=kind,
        priority=priority,
        group_by=(),
        knowledge=Knowledge(root_cause="r", fix="f"),
        detection=Detection(keywords=keywords or (ident,), any=any, none=none, close_any=close_any),
    )


def event(*lines: str) -> Event:
    return Event(
        records=tuple(LogRecord(message=line, source="api", seq=i) for i, line in enumerate(lines))
    )


GENERIC = make_rule(
    "python.any-traceback",
    keywords=("Traceback", "Error:"),
    any=(
        r"^Traceback \(most recent call last\):",
        r"^(?P<exception_type>[\w.]+(?:Error|Exception)): ",
    ),
    priority=0,
)
ASGI = make_rule(
    "asgi.any-failure",
    keywords=("Exception in ASGI application",),
    any=(r"Exception in ASGI application",),
    priority=5,
)


def test_no_keyword_means_no_hit() -> None:
    matcher = Matcher([make_rule("demo.x", keywords=("BOOM",), any=("BOOM (?P<n>\\d+)",))])
    assert matcher.match(event("all quiet")) is None


def test_keyword_without_regex_match_means_no_hit() -> None:
    matcher = Matcher([make_rule("demo.x", keywords=("BOOM",), any=("BOOM (?P<n>\\d+)",))])
    assert matcher.match(event("BOOM later")) is None


def test_hit_carries_named_groups_as_fields() -> None:
    rule = make_rule("demo.x", keywords=("BOOM",), any=("BOOM (?P<n>\\d+)(?: on (?P<host>\\w+))?",))
    hit = Matcher([rule]).match(event("prefix BOOM 42"))
    assert hit is not None
    assert hit.signature is rule
    assert dict(hit.fields) == {"n": "42"}
    assert hit.role == "open"


def test_keywords_are_case_sensitive() -> None:
    matcher = Matcher([make_rule("demo.x", keywords=("BOOM",), any=("(?i)boom",))])
    assert matcher.match(event("boom")) is None
    assert matcher.match(event("BOOM")) is not None


def test_highest_priority_wins() -> None:
    low = make_rule("a.low", keywords=("X",), any=("X",), priority=1)
    high = make_rule("z.high", keywords=("X",), any=("X",), priority=9)
    hit = Matcher([low, high]).match(event("X"))
    assert hit is not None and hit.signature.id == "z.high"


def test_priority_ties_are_broken_by_id() -> None:
    first = make_rule("a.first", keywords=("X",), any=("X",))
    second = make_rule("b.second", keywords=("X",), any=("X",))
    for order in ([first, second], [second, first]):
        hit = Matcher(order).match(event("X"))
        assert hit is not None and hit.signature.id == "a.first"


def test_hits_for_lists_every_match_winner_first() -> None:
    rules = [
        make_rule("b.mid", keywords=("X",), any=("X",), priority=5),
        make_rule("a.low", keywords=("X",), any=("X",), priority=1),
        make_rule("c.high", keywords=("X",), any=("X",), priority=9),
        make_rule("d.other", keywords=("Y",), any=("Y",), priority=99),
    ]
    matcher = Matcher(rules)
    assert [hit.signature.id for hit in matcher.matches_for("X")] == ["c.high", "b.mid", "a.low"]
    assert [s.id for s in matcher.signatures] == ["d.other", "c.high", "b.mid", "a.low"]


def test_none_vetoes_a_match() -> None:
    rule = make_rule("demo.x", keywords=("BOOM",), any=("BOOM",), none=("BOOM drill",))
    matcher = Matcher([rule])
    assert matcher.match(event("BOOM")) is not None
    assert matcher.match(event("BOOM drill at noon")) is None


def test_pair_rule_close_line_yields_a_close_hit() -> None:
    rule = make_rule(
        "app.db-down",
        kind="pair",
        keywords=("[DOWN]", "[UP]"),
        any=(r"\[DOWN\] op=(?P<op>\S+)",),
        close_any=(r"\[UP\] op=(?P<op>\S+) after (?P<attempts>\d+)",),
    )
    matcher = Matcher([rule])
    opened = matcher.match(event("[DOWN] op=loop"))
    closed = matcher.match(event("[UP] op=loop after 3"))
    assert opened is not None and opened.role == "open" and dict(opened.fields) == {"op": "loop"}
    assert closed is not None and closed.role == "close"
    assert dict(closed.fields) == {"attempts": "3", "op": "loop"}


def test_regexes_see_the_whole_multiline_event_with_line_anchors() -> None:
    rule = make_rule("demo.x", keywords=("Error",), any=(r"^ValueError: (?P<detail>.*)$",))
    hit = Matcher([rule]).match(
        event("Traceback (most recent call last):", '  File "a.py"', "ValueError: bad")
    )
    assert hit is not None and dict(hit.fields) == {"detail": "bad"}


def test_specific_signature_beats_generic_fallbacks_anywhere_in_a_traceback() -> None:
    matcher = Matcher([*load_signatures([BUNDLED]).signatures, GENERIC, ASGI])
    traceback_event = event_from_text(MISSING_GREENLET_TRACEBACK)
    hits = matcher.hits_for(traceback_event)
    assert hits[0].signature.id == "sqlalchemy.missing-greenlet"
    assert {hit.signature.id for hit in hits} == {
        "sqlalchemy.missing-greenlet",
        "asgi.unhandled-exception",
        "python.unhandled-exception",
        "python.any-traceback",
        "asgi.any-failure",
    }
    hit = matcher.match(traceback_event)
    assert hit is not None and hit.signature.id == "sqlalchemy.missing-greenlet"


def test_bundled_fallbacks_capture_the_last_exception_type() -> None:
    hits = load_signatures([BUNDLED]).matcher().matches_for(MISSING_GREENLET_TRACEBACK)
    fields = {hit.signature.id: dict(hit.fields) for hit in hits}
    assert fields["asgi.unhandled-exception"] == {
        "exception_type": "sqlalchemy.exc.MissingGreenlet"
    }
    assert fields["python.unhandled-exception"]["exception"] == "sqlalchemy.exc.MissingGreenlet"


def test_specific_signature_wins_when_its_error_is_not_last_in_the_chain() -> None:
    chained = MISSING_GREENLET_TRACEBACK + (
        "\n\nThe above exception was the direct cause of the following exception:\n\n"
        "Traceback (most recent call last):\n"
        '  File "/app/app/services/auth.py", line 88, in sync_user\n'
        "app.services.auth.AuthSyncError: could not sync user"
    )
    matcher = Matcher([*load_signatures([BUNDLED]).signatures, GENERIC, ASGI])
    hit = matcher.match(event_from_text(chained))
    assert hit is not None and hit.signature.id == "sqlalchemy.missing-greenlet"


def test_generic_fallback_wins_when_nothing_specific_matches() -> None:
    matcher = load_signatures([BUNDLED]).matcher()
    hit = matcher.match(event("Traceback (most recent call last):", "KeyError: 'tenant'"))
    assert hit is not None and hit.signature.id == "python.unhandled-exception"
    assert dict(hit.fields) == {"exception": "KeyError", "message": "'<str>'"}


def test_a_regex_timeout_disables_only_that_signature() -> None:
    slow = make_rule("demo.slow", keywords=("a",), any=("(a+)+$",), priority=9)
    fine = make_rule("demo.fine", keywords=("a",), any=("^a",), priority=1)
    matcher = Matcher([slow, fine], timeout=0.01)
    hostile = event("a" * 5000 + "!")
    hit = matcher.match(hostile)
    assert hit is not None and hit.signature.id == "demo.fine"
    assert set(matcher.disabled) == {"demo.slow"}
    assert matcher.disabled["demo.slow"].startswith(
        "detect.any[0] took over 10 ms on a 5001-character event"
    )
    assert dict(matcher.timeouts) == {"demo.slow": 1}
    # Disabled signatures are not tried again, so no further timeouts accumulate.
    assert [h.signature.id for h in matcher.hits_for(hostile)] == ["demo.fine"]
    assert dict(matcher.timeouts) == {"demo.slow": 1}


def test_a_timeout_in_a_veto_also_disables_the_signature() -> None:
    rule = make_rule("demo.veto", keywords=("a",), any=("^a",), none=("(a+)+$",))
    matcher = Matcher([rule], timeout=0.01)
    assert matcher.match(event("a" * 5000 + "!")) is None
    assert "detect.none[0]" in matcher.disabled["demo.veto"]


def test_disabled_is_read_only() -> None:
    matcher = Matcher([])
    with pytest.raises(TypeError):
        matcher.disabled["x"] = "y"  # type: ignore[index]


def test_matching_is_deterministic() -> None:
    library = load_signatures([BUNDLED])
    texts = [case.example.text for rule in library.signatures for case in rule.cases] + [
        "nothing to see",
        MISSING_GREENLET_TRACEBACK,
    ]
    events = [event_from_text(text) for text in texts]

    def run(rules: list[Rule]) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
        hits = Matcher(rules).match_all(events)
        return [(h.signature.id, h.role, tuple(h.fields.items())) for h in hits]

    forward = run(list(library.signatures))
    assert forward == run(list(reversed(library.signatures)))
    assert forward == run(list(library.signatures))
    assert len(forward) > len(library.signatures)


def test_match_all_keeps_event_order_and_skips_misses() -> None:
    matcher = Matcher([make_rule("demo.x", keywords=("X",), any=("X(?P<n>\\d)",))])
    hits = matcher.match_all([event("X1"), event("nope"), event("X2")])
    assert [hit.fields["n"] for hit in hits] == ["1", "2"]


def test_event_from_text_makes_one_record_per_line() -> None:
    built = event_from_text("a\nb\n", source="s")
    assert [record.message for record in built.records] == ["a", "b"]
    assert [record.seq for record in built.records] == [0, 1]
    assert event_from_text("").records[0].message == ""


def test_a_signature_matches_the_line_as_written_when_the_message_lost_its_level() -> None:
    rule = make_rule("pip.x", keywords=("ResolutionImpossible",), any=(r"^ERROR: Resolution",))
    record = LogRecord(
        message="ResolutionImpossible: x", source="api", written="ERROR: ResolutionImpossible: x"
    )
    matcher = Matcher([rule])
    hit = matcher.match(Event(records=(record,)))
    assert hit is not None and hit.signature.id == "pip.x"
    assert [hit.signature.id for hit in matcher.hits_for(Event(records=(record,)))] == ["pip.x"]


def test_the_message_is_tried_before_the_line_as_written() -> None:
    rule = make_rule("demo.x", keywords=("BOOM",), any=(r"^BOOM (?P<where>\w+)",))
    record = LogRecord(message="BOOM message", source="api", written="BOOM written")
    hit = Matcher([rule]).match(Event(records=(record,)))
    assert hit is not None and hit.fields == {"where": "message"}
