"""Error templates: masking an error line's message, and the bounded Drain-style miner."""

from __future__ import annotations

import pytest

from service.signatures.templates import (
    WILDCARD,
    TemplateMiner,
    error_template,
    error_text,
)


@pytest.mark.parametrize(
    ("line", "template"),
    [
        ("could not load order 5521", "could not load order <num>"),
        ("mail to ops+billing@example.com bounced", "mail to <email> bounced"),
        (
            "job 7d3f0c2a-19a4-4a7e-9a52-0c1d2e3f4a5b stuck at 0x7ffe12 on 10.0.3.7",
            "job <uuid> stuck at <hex> on <ip>",
        ),
        ("export /var/data/2025-11-02.csv failed", "export <path> failed"),
        ("tenant 'acme' over quota (\"gold\" plan)", "tenant '<str>' over quota (\"<str>\" plan)"),
        ("request 9f86d081884c7d65 timed out", "request <id> timed out"),
        ("ERROR: cache   node  down", "cache node down"),
        ("[CRITICAL] disk 3 failing", "disk <num> failing"),
    ],
)
def test_error_template_masks_what_varies(line: str, template: str) -> None:
    assert error_template(line) == template


def test_a_logfmt_line_gives_its_message_and_error_fields() -> None:
    line = 'time=2025-11-02T09:20:14Z level=error msg="sync \\"crm\\" failed" err="EOF" n=3'
    assert error_text(line) == 'sync "crm" failed: EOF'
    assert error_text("level=error msg=boom") == "boom"


def test_a_json_line_gives_its_message_field() -> None:
    line = '{"level": "error", "msg": "invoice 12 not sent", "time": "2025-11-02T09:20:14Z"}'
    assert error_template(line) == "invoice <num> not sent"


def test_messages_of_one_shape_merge_into_one_template() -> None:
    miner = TemplateMiner()
    first = miner.learn("api", "user alice could not be synced")
    assert (first.template, first.previous) == ("user alice could not be synced", "")
    second = miner.learn("api", "user bob could not be synced")
    assert second.template == f"user {WILDCARD} could not be synced"
    assert second.previous == "user alice could not be synced"
    third = miner.learn("api", "user carol could not be synced")
    assert (third.template, third.previous) == (second.template, "")


def test_different_failures_stay_apart() -> None:
    miner = TemplateMiner()
    assert miner.learn("api", "connection refused").template == "connection refused"
    assert miner.learn("api", "connection reset").template == "connection reset"
    assert miner.learn("api", "cache node down").template == "cache node down"
    assert miner.learn("api", "cache node down now").template == "cache node down now"
    assert sorted(miner.templates("api")) == [
        "cache node down",
        "cache node down now",
        "connection refused",
        "connection reset",
    ]


def test_sources_learn_separately() -> None:
    miner = TemplateMiner()
    miner.learn("api", "user alice could not be synced")
    assert miner.learn("worker", "user bob could not be synced").previous == ""


def test_the_least_recently_used_template_is_evicted() -> None:
    miner = TemplateMiner(max_clusters=3)
    for name in ("alpha", "beta", "gamma"):
        miner.learn("api", f"{name} failed")
    miner.learn("api", "alpha failed")  # used again: now the most recent
    miner.learn("api", "delta failed")
    assert sorted(miner.templates("api")) == ["alpha failed", "delta failed", "gamma failed"]


def test_sources_are_bounded_too() -> None:
    miner = TemplateMiner(max_sources=2)
    for source in ("a", "b", "c"):
        miner.learn(source, "boom happened")
    assert miner.templates("a") == []
    assert miner.templates("c") == ["boom happened"]


def test_many_distinct_messages_stay_within_the_bound() -> None:
    miner = TemplateMiner(max_clusters=50)
    for number in range(5000):
        miner.learn("api", f"kind{number} failed in module{number * 7} now")
    assert len(miner.templates("api")) == 50


def test_seeded_templates_keep_their_grouping_after_a_restart() -> None:
    miner = TemplateMiner()
    assert not miner.seeded("api")
    miner.seed("api", [f"user {WILDCARD} could not be synced"])
    assert miner.seeded("api")
    mined = miner.learn("api", "user dave could not be synced")
    assert (mined.template, mined.previous) == (f"user {WILDCARD} could not be synced", "")


def test_hostile_lines_are_bounded() -> None:
    template = error_template("x" * 100_000 + " 1")
    assert len(template) <= 300
    assert error_template("") == ""
