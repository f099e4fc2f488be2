"""Generic fallback grouping: exception type, masked message and deepest application frame make the
fingerprint, so one bug raised with many different values is one incident, and another bug is not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cli import main
from service.incidents.fingerprint import fingerprint
from service.ingest.records import Event, Frame, LogRecord
from service.signatures.derive import DERIVED_FIELDS, deepest_application_frame, derive_fields
from service.signatures.engine import Matcher, event_from_text
from service.signatures.loader import load_signatures
from service.signatures.model import Hit
from service.signatures.schema import SignatureError

BUNDLED = Path(__file__).resolve().parents[2] / "patterns"
GENERIC = "python.unhandled-exception"


def order_traceback(
    n: int,
    *,
    exception: str = "app.services.orders.OrderRejected",
    handler: str = "place_order",
    line: int = 88,
) -> str:
    """The same bug with the n-th set of values: uuid, ids, numbers, quoted values, paths."""
    return "\n".join(
        [
            "Traceback (most recent call last):",
            f'  File "/app/app/api/orders.py", line {40 + n % 3}, in create_order',
            "    return service.place(payload)",
            f'  File "/app/app/services/orders.py", line {line}, in {handler}',
            "    session.execute(stmt)",
            '  File "/usr/local/lib/python3.11/site-packages/sqlalchemy/orm/session.py", '
            "line 2306, in execute",
            "    return self._execute_internal(",
            f"{exception}: order {n:08x}-9a4d-4e5f-8b6a-{n:012x} for customer {1000 + n} "
            f"rejected at 2025-10-09T07:{n % 60:02d}:13Z: price {n * 1.5} invalid for "
            f"'SKU-{n}' from 10.0.{n % 250}.7 (file /srv/import/{n}.csv, ref {n:06x}beef)",
        ]
    )


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return load_signatures([BUNDLED]).matcher()


def generic_hit(matcher: Matcher, text: str) -> Hit:
    hit = matcher.match(event_from_text(text))
    assert hit is not None and hit.signature.id == GENERIC, hit
    return hit


def print_of(hit: Hit) -> str:
    return fingerprint(hit.signature.id, hit.group_key, "api")


def test_the_same_bug_with_fifty_different_values_is_one_fingerprint(matcher: Matcher) -> None:
    hits = [generic_hit(matcher, order_traceback(n)) for n in range(1, 51)]
    assert len({print_of(hit) for hit in hits}) == 1
    assert dict(hits[0].fields) == {
        "exception": "app.services.orders.OrderRejected",
        "frame": "/app/app/services/orders.py:place_order",
        "message": "order <uuid> for customer <num> rejected at <ts>: price <num> invalid for "
        "'<str>' from <ip> (file <path>, ref <id>)",
    }


def test_a_line_number_change_above_the_frame_does_not_regroup(matcher: Matcher) -> None:
    before = generic_hit(matcher, order_traceback(1, line=88))
    after = generic_hit(matcher, order_traceback(1, line=121))
    assert print_of(before) == print_of(after)


def test_a_different_deepest_application_frame_is_another_incident(matcher: Matcher) -> None:
    placed = generic_hit(matcher, order_traceback(1))
    refunded = generic_hit(matcher, order_traceback(1, handler="refund_order"))
    assert refunded.fields["frame"] == "/app/app/services/orders.py:refund_order"
    assert print_of(placed) != print_of(refunded)


def test_a_different_exception_type_is_another_incident(matcher: Matcher) -> None:
    rejected = generic_hit(matcher, order_traceback(1))
    timed_out = generic_hit(matcher, order_traceback(1, exception="app.services.orders.Timeout"))
    assert timed_out.fields["exception"] == "app.services.orders.Timeout"
    assert print_of(rejected) != print_of(timed_out)


def test_a_different_message_shape_is_another_incident(matcher: Matcher) -> None:
    one = generic_hit(matcher, "Traceback (most recent call last):\nKeyError: 'lead'")
    other = generic_hit(matcher, "Traceback (most recent call last):\nKeyError: 42")
    assert (one.fields["message"], other.fields["message"]) == ("'<str>'", "<num>")
    assert print_of(one) != print_of(other)


def test_the_final_exception_of_a_chain_groups(matcher: Matcher) -> None:
    chained = "\n".join(
        [
            "Traceback (most recent call last):",
            '  File "/app/app/clients/crm.py", line 33, in fetch_contact',
            "    response = client.get(url)",
            "httpx.ConnectTimeout: timed out after 5.0s",
            "",
            "During handling of the above exception, another exception occurred:",
            "",
            "Traceback (most recent call last):",
            '  File "/app/app/workers/sync.py", line 61, in run',
            "    raise SyncFailed(contact_id) from None",
            "app.workers.sync.SyncFailedError: contact 8812 could not be fetched",
        ]
    )
    assert dict(generic_hit(matcher, chained).fields) == {
        "exception": "app.workers.sync.SyncFailedError",
        "frame": "/app/app/workers/sync.py:run",
        "message": "contact <num> could not be fetched",
    }


def test_a_bare_exception_line_groups_by_type_and_message(matcher: Matcher) -> None:
    first = generic_hit(matcher, "ValueError: invalid literal for int() with base 10: 'abc'")
    second = generic_hit(matcher, "ValueError: invalid literal for int() with base 10: 'x9'")
    assert dict(first.fields) == {
        "exception": "ValueError",
        "message": "invalid literal for int() with base <num>: '<str>'",
    }
    assert print_of(first) == print_of(second)


def frame(file: str, function: str = "f", line: int = 1) -> Frame:
    return Frame(file=file, line=line, function=function)


def test_the_deepest_application_frame_skips_library_frames() -> None:
    frames = (
        frame("/app/app/main.py", "outer"),
        frame("/app/app/db.py", "query"),
        frame("/usr/local/lib/python3.11/site-packages/sqlalchemy/engine.py", "execute"),
        frame("<frozen importlib._bootstrap>", "_call"),
    )
    assert deepest_application_frame(frames) == frames[1]


def test_without_application_frames_the_deepest_frame_is_used() -> None:
    frames = (
        frame("/usr/lib/python3.11/runpy.py", "_run"),
        frame("/usr/local/lib/python3.11/site-packages/uvicorn/main.py", "run"),
    )
    assert deepest_application_frame(frames) == frames[1]
    assert deepest_application_frame(()) is None


def test_derived_fields_come_from_the_event_when_it_was_assembled() -> None:
    event = Event(
        records=(LogRecord(message="anything", source="api"),),
        frames=(frame("/app/app/jobs.py", "", 3),),
        exception_type="app.jobs.Failed",
        exception_message="job 42 failed\nsecond line ignored",
    )
    assert derive_fields(DERIVED_FIELDS, event, "anything", 0) == {
        "exception": "app.jobs.Failed",
        "frame": "/app/app/jobs.py",
        "message": "job <num> failed",
        "template": "anything",
    }
    assert derive_fields(("frame",), event, "anything", 0) == {"frame": "/app/app/jobs.py"}
    assert derive_fields((), event, "anything", 0) == {}


def test_without_an_exception_the_matched_line_is_the_message() -> None:
    event = Event(records=(LogRecord(message="x", source="api"),))
    text = "first line\nERROR: worker 12 lost\nthird"
    assert derive_fields(DERIVED_FIELDS, event, text, text.index("lost")) == {
        "message": "ERROR: worker <num> lost",
        "template": "worker <num> lost",
    }


LOG_LINE = (
    "2025-10-09 07:{minute:02d}:{second:02d},100 - app.api - ERROR - Exception on /orders [POST]"
)


def test_a_scanned_log_with_fifty_occurrences_is_one_incident(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = [
        LOG_LINE.format(minute=n // 60, second=n % 60) + "\n" + order_traceback(n)
        for n in range(50)
    ]
    blocks.append(
        LOG_LINE.format(minute=1, second=0)
        + "\n"
        + order_traceback(7, handler="refund_order", exception="app.refunds.RefundFailed")
    )
    path = tmp_path / "api.log"
    path.write_text("\n".join(blocks) + "\n", encoding="utf-8")
    assert main(["scan", str(path), "--format", "json"]) == 0
    incidents = json.loads(capsys.readouterr().out)["incidents"]
    generic = sorted(
        (incident["occurrences"], incident["fields"]["exception"])
        for incident in incidents
        if incident["signature"] == GENERIC
    )
    assert generic == [(1, "app.refunds.RefundFailed"), (50, "app.services.orders.OrderRejected")]


DERIVING = """\
id = "demo.thing"
title = "Demo"
severity = "low"
status = "stable"
priority = 1
description = "A demo."

[detect]
kind = "single"
keywords = ["Error: "]
any = ['{regex}']
derive = {derive}
group_by = {group_by}

[knowledge]
root_cause = "{{exception}} in {{frame}}"
fix = "Fix it."
verification = ["Check."]

[[examples]]
text = "ValueError: bad 42"
fields = {{ exception = "ValueError", message = "bad <num>" }}

[[examples]]
text = "KeyError: 'x'"

[[near_misses]]
text = "all fine"
"""


def load(tmp_path: Path, *, regex: str, derive: str, group_by: str = "[]") -> None:
    folder = tmp_path / "patterns" / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    text = DERIVING.format(regex=regex, derive=derive, group_by=group_by)
    (folder / "demo.thing.toml").write_text(text, encoding="utf-8")
    load_signatures([tmp_path / "patterns"])


def test_derived_fields_may_be_grouped_by_and_used_in_knowledge(tmp_path: Path) -> None:
    load(
        tmp_path,
        regex=r"\w+Error: .*",
        derive='["exception", "message", "frame"]',
        group_by='["exception", "message"]',
    )


@pytest.mark.parametrize(
    ("regex", "derive", "group_by", "problem"),
    [
        (r"\w+Error: .*", '["stack"]', "[]", "derive[0]: must be one of exception, message, frame"),
        (r"\w+Error: .*", '["exception", "exception"]', "[]", "derive[1]: 'exception' is listed"),
        (
            r"\w+Error: (?P<message>.*)",
            '["exception", "message"]',
            "[]",
            "derive[1]: 'message' is also a named group of detect.any[0]",
        ),
        (r"\w+Error: .*", "[]", '["frame"]', "group_by[0]: 'frame' is not captured by detect.any"),
        (r"\w+Error: .*", '"exception"', "[]", "derive: expected an array, got a string"),
    ],
)
def test_derive_is_validated_strictly(
    tmp_path: Path, regex: str, derive: str, group_by: str, problem: str
) -> None:
    with pytest.raises(SignatureError) as caught:
        load(tmp_path, regex=regex, derive=derive, group_by=group_by)
    assert any(problem in error for error in caught.value.errors), caught.value.errors
