"""A message hard-wrapped at any width still gives the hit and fields of the unwrapped line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from service.ingest.assemble import assemble
from service.ingest.headers import parse_text
from service.ingest.records import Event, LogRecord
from service.signatures.engine import Matcher
from service.signatures.loader import load_signatures
from service.signatures.wrapping import rejoin_wrapped

BUNDLED = Path(__file__).resolve().parents[2] / "patterns"
WIDTHS = (37, 53, 64, 77, 99)
MESSAGES = {
    "cors": (
        "Access to fetch at 'https://api.example.com/api/v1/admin/feature-flags' from origin "
        "'https://app.example.com' has been blocked by CORS policy: No "
        "'Access-Control-Allow-Origin' header is present on the requested resource."
    ),
    "disallowed-host": (
        "Invalid HTTP_HOST header: 'api.example.onrender.com'. You may need to add "
        "'api.example.onrender.com' to ALLOWED_HOSTS."
    ),
    "python-version": (
        "==> The PYTHON_VERSION must provide a major, minor, and patch version, e.g. 3.8.1. "
        "You have requested 3.11."
    ),
}
BEFORE = "2025-09-19 12:43:13,001 INFO app started\n"
AFTER = "\n2025-09-19 12:43:15,001 INFO GET /healthz 200"


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return load_signatures([BUNDLED]).matcher()


def _hits(matcher: Matcher, text: str) -> list[tuple[str, dict[str, str], int]]:
    events = rejoin_wrapped(matcher, assemble(parse_text(text, source="api")))
    return [
        (hit.signature.id, dict(hit.fields), len(event.records))
        for event in events
        if (hit := matcher.match(event)) is not None
    ]


def _cut(text: str, width: int) -> str:
    """Wrap as a terminal does: cut at the width, the text's own spaces kept."""
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


def _word_wrapped(text: str, width: int) -> str:
    """Wrap as an editor or a mail client does: at spaces, the space at each break dropped."""
    return "\n".join(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("wrap", [_cut, _word_wrapped], ids=["cut", "word-wrapped"])
@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_a_message_wrapped_at_any_width_gives_the_unwrapped_hit(
    matcher: Matcher, name: str, wrap: object, width: int
) -> None:
    message = MESSAGES[name]
    assert callable(wrap)
    wrapped = wrap(message, width)
    assert "\n" in wrapped
    (expected,) = _hits(matcher, BEFORE + message + AFTER)
    signature, fields, _ = expected
    ((got, got_fields, records),) = _hits(matcher, BEFORE + wrapped + AFTER)
    assert (got, got_fields) == (signature, fields)
    assert records >= 2


def test_the_unwrapped_message_keeps_a_field_the_wrap_moved_to_the_next_line(
    matcher: Matcher,
) -> None:
    text = (
        "==> The PYTHON_VERSION must provide a major, minor, and patch version, e.g. 3.8.1.\n"
        "You have requested 3.12."
    )
    assert _hits(matcher, text) == [("render.python-version", {"requested": "3.12"}, 2)]


def test_lines_of_other_messages_are_not_joined(matcher: Matcher) -> None:
    text = "ValueError: bad input\nsomething else happened\nInvalid HTTP_HOST header: 'a'."
    hits = _hits(matcher, text)
    assert all(records == 1 for _, _, records in hits)


def test_a_line_of_another_instance_is_not_joined(matcher: Matcher) -> None:
    first = LogRecord(message="Invalid HTTP_HOST header:", source="api", instance="web.1")
    second = LogRecord(
        message="'a.example.com'. You may need to add 'a.example.com' to ALLOWED_HOSTS.",
        source="api",
        instance="web.2",
        seq=1,
    )
    events = list(rejoin_wrapped(matcher, [Event((first,)), Event((second,))]))
    assert [len(event.records) for event in events] == [1, 1]


def test_every_record_of_a_joined_message_stays_in_its_event(matcher: Matcher) -> None:
    wrapped = _cut(MESSAGES["cors"], 37)
    events = list(rejoin_wrapped(matcher, assemble(parse_text(wrapped, source="api"))))
    assert len(events) == 1
    assert [record.message for record in events[0].records] == wrapped.split("\n")


def test_a_message_wrapped_inside_an_indented_block_is_joined(matcher: Matcher) -> None:
    message = (
        "sqlalchemy.exc.PendingRollbackError: This Session's transaction has been rolled back "
        "due to a previous exception during flush. To begin a new transaction with this "
        "Session, first issue Session.rollback()."
    )
    for indent in ("    ", "\t"):
        block = "\n".join(indent + line for line in textwrap.wrap(message, 68))
        hits = _hits(matcher, BEFORE + block + AFTER)
        assert [(signature, records >= 2) for signature, _, records in hits] == [
            ("sqlalchemy.pending-rollback", True)
        ]


def test_lines_of_another_indentation_are_not_joined(matcher: Matcher) -> None:
    text = "    sqlalchemy.exc.PendingRollbackError: This Session's transaction has\n" + (
        "        been rolled back due to a previous exception during flush."
    )
    assert _hits(matcher, text) == []


def test_a_line_that_completes_the_hit_of_the_line_before_joins_it(matcher: Matcher) -> None:
    text = (
        "ERROR:  deadlock detected\n"
        "DETAIL:  Process 22301 waits for ShareLock on transaction 10754518; "
        "blocked by process 22350."
    )
    assert _hits(matcher, text) == [
        ("postgres.deadlock", {"lock": "ShareLock", "object": "transaction"}, 2)
    ]
