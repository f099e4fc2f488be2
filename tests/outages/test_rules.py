"""Cause rules: how they are read, checked and applied to two incidents' spans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.outages.rules import CauseRule, Span, check_rules, load_rules, story_between
from service.settings import Settings
from service.signatures.loader import check_directories

T0 = datetime(2025, 10, 9, 7, 44, 14, tzinfo=UTC)


def span(signature: str, start: int, end: int | None = None, **fields: str) -> Span:
    last = T0 + timedelta(seconds=end if end is not None else start)
    return Span(signature, fields, T0 + timedelta(seconds=start), last)


DB = CauseRule(
    id="db",
    story="the database went away",
    cause=("neon.*",),
    effect=("app.db-outage",),
    within=timedelta(seconds=300),
)
WORKER = CauseRule(
    id="worker",
    story="one hung worker",
    cause=("gunicorn.worker-timeout",),
    effect=("gunicorn.worker-timeout",),
    within=timedelta(seconds=60),
    same=("pid",),
)


def test_a_rule_joins_cause_and_effect_either_way_round() -> None:
    neon, loop = span("neon.endpoint-disabled", 0, 120), span("app.db-outage", 18, 200)
    assert story_between([DB], neon, loop) == (DB, neon)
    assert story_between([DB], loop, neon) == (DB, neon)


def test_spans_too_far_apart_are_two_stories() -> None:
    neon, loop = span("neon.endpoint-disabled", 0, 10), span("app.db-outage", 311)
    assert story_between([DB], neon, loop) is None
    assert story_between([DB], neon, span("app.db-outage", 310)) is not None


def test_overlapping_spans_are_zero_apart() -> None:
    neon, loop = span("neon.endpoint-disabled", 0, 3600), span("app.db-outage", 1800)
    assert story_between([DB], neon, loop) is not None


def test_same_fields_must_agree_and_the_earlier_is_the_cause() -> None:
    timeout = span("gunicorn.worker-timeout", 0, kind="WORKER TIMEOUT", pid="17")
    killed = span("gunicorn.worker-timeout", 1, kind="SIGKILL", pid="17")
    other = span("gunicorn.worker-timeout", 1, kind="SIGKILL", pid="18")
    assert story_between([WORKER], killed, timeout) == (WORKER, timeout)
    assert story_between([WORKER], timeout, other) is None
    assert story_between([WORKER], timeout, span("gunicorn.worker-timeout", 1)) is None


def test_not_cause_takes_signatures_back_out() -> None:
    rule = CauseRule("r", "", ("*",), ("render.deploy-failed",), timedelta(60), (), ("http.*",))
    deploy = span("render.deploy-failed", 0)
    assert story_between([rule], span("python.import-error", 0), deploy) is not None
    assert story_between([rule], span("http.server-errors", 0), deploy) is None


def test_untimed_incidents_join_nothing() -> None:
    untimed = Span("app.db-outage", {}, None, None)
    assert story_between([DB], span("neon.endpoint-disabled", 0), untimed) is None


def test_the_bundled_rules_load_and_name_only_loaded_signatures() -> None:
    from service.runtime import SignatureBook

    book = SignatureBook(Settings())
    rules = book.matcher.outage_rules
    assert {"release-crash", "database-unreachable", "worker-killed"} <= {r.id for r in rules}
    assert not [p for p in book.problems if "outages.toml" in p]


BAD_RULES = """\
[[rule]]
id = "no-effect"
cause = ["app.db-outage"]
within_seconds = 60

[[rule]]
id = "bad-within"
cause = ["app.db-outage"]
effect = ["app.db-outage"]
within_seconds = "soon"

[[rule]]
id = "unknown-key"
cause = ["app.db-outage"]
effect = ["app.db-outage"]
within_seconds = 60
colour = "red"

[[rule]]
id = "names-nothing"
cause = ["nosuch.signature"]
effect = ["app.db-outage"]
within_seconds = 60
"""


def test_bad_rules_are_reported_one_line_each(tmp_path: Path) -> None:
    (tmp_path / "outages.toml").write_text(BAD_RULES)
    rules, problems = load_rules([tmp_path])
    assert [r.id for r in rules] == ["names-nothing"]
    assert len(problems) == 3
    assert any("rule 1" in p and "each at least one" in p for p in problems)
    assert any("rule 2" in p and "within_seconds" in p for p in problems)
    assert any("rule 3" in p and "colour" in p for p in problems)
    assert check_rules(rules, ["app.db-outage"]) == [
        "outages.toml: names-nothing: cause 'nosuch.signature' names no signature"
    ]


def test_patterns_check_reads_the_rules_of_an_added_directory(tmp_path: Path) -> None:
    (tmp_path / "outages.toml").write_text(BAD_RULES)
    problems = check_directories([Settings().bundled_patterns_dir, tmp_path])
    assert sum("outages.toml" in p for p in problems) == 4


def test_a_later_directory_replaces_a_rule_of_the_same_id(tmp_path: Path) -> None:
    (tmp_path / "outages.toml").write_text(
        '[[rule]]\nid = "worker-killed"\ncause = ["gunicorn.*"]\n'
        'effect = ["gunicorn.*"]\nwithin_seconds = 5\n'
    )
    rules, problems = load_rules([Settings().bundled_patterns_dir, tmp_path])
    assert problems == []
    [worker] = [r for r in rules if r.id == "worker-killed"]
    assert worker.within == timedelta(seconds=5) and worker.same == ()


@pytest.mark.parametrize(
    "text", ["not toml [", '[[rule]]\nid = 3\ncause=["a"]\neffect=["b"]\nwithin_seconds=1\n']
)
def test_unreadable_rules_never_raise(tmp_path: Path, text: str) -> None:
    (tmp_path / "outages.toml").write_text(text)
    rules, problems = load_rules([tmp_path])
    assert rules == () and len(problems) == 1


FIX_DEPLOY = CauseRule(
    id="fix",
    story="the fix deploy brought the next failure",
    cause=("*",),
    effect=("*",),
    within=timedelta(seconds=3600),
    via="deploy",
)


def test_a_deploy_made_while_the_cause_failed_ties_the_next_failure_to_it() -> None:
    crash = Span("sqlalchemy.async-pool-class", {}, T0, T0 + timedelta(minutes=1), 1, T0)
    later = T0 + timedelta(minutes=30)
    # A later deploy (id 4) the log gives no time for; the next failure 30 min after the crash.
    brought = Span("python.attribute-error", {}, later, later, 4, None)
    assert story_between([FIX_DEPLOY], crash, brought) == (FIX_DEPLOY, crash)
    # The same deploy as the cause's own brought nothing new; nor one beyond the hour.
    assert story_between([FIX_DEPLOY], crash, Span("x", {}, later, later, 1, None)) is None
    late = T0 + timedelta(hours=2)
    assert story_between([FIX_DEPLOY], crash, Span("x", {}, late, late, 4, None)) is None
    # A deploy whose time the log gives must fall while the cause failed or soon after.
    early = Span("x", {}, later, later, 4, T0 - timedelta(minutes=5))
    assert story_between([FIX_DEPLOY], crash, early) is None


def test_via_must_be_time_or_deploy(tmp_path: Path) -> None:
    (tmp_path / "outages.toml").write_text(
        '[[rule]]\nid = "r"\ncause = ["a"]\neffect = ["b"]\nwithin_seconds = 1\nvia = "magic"\n'
    )
    rules, problems = load_rules([tmp_path])
    assert rules == ()
    assert len(problems) == 1 and "rule 1: via: one of time, deploy" in problems[0]


def test_a_rule_set_read_again_is_weighed_by_its_own_rules() -> None:
    # `story_between` keeps which rules fit a pair of signatures per rule set: a reload's new
    # rules must not be answered from the old ones.
    neon, loop = span("neon.endpoint-disabled", 0, 120), span("app.db-outage", 18, 200)
    assert story_between([DB], neon, loop) == (DB, neon)
    assert story_between([WORKER], neon, loop) is None
    assert story_between([WORKER, DB], loop, neon) == (DB, neon)
