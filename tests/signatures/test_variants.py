"""Knowledge variants chosen by the incident's evidence (`when_*`), and how a file states them."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.ingest.records import Frame
from service.signatures.loader import load_signatures
from service.signatures.schema import Rule
from service.signatures.variants import Evidence, Sibling
from tests.signatures.test_loader import VALID, errors_for, write

APP = Frame(file="/srv/app/api/users.py", line=12, function="get_user", code="db.query(User)")
LAZY = Frame(
    file="/usr/lib/python3.12/site-packages/sqlalchemy/orm/strategies.py",
    line=900,
    function="_load_for_state",
)


def rule_with(tmp_path: Path, variant: str) -> Rule:
    block = f'\n[[knowledge.variants]]\n{variant}\nroot_cause = "Chosen."\nfix = "Do it."\n'
    write(tmp_path / "p", VALID.replace("[[examples]]", block + "\n[[examples]]", 1))
    rule = load_signatures([tmp_path / "p"]).get("demo.thing")
    assert rule is not None
    return rule


def chosen(rule: Rule, evidence: Evidence) -> str:
    return rule.knowledge_for(dict(evidence.fields), evidence).root_cause


@pytest.mark.parametrize(
    ("variant", "fits", "misses"),
    [
        (
            'when_exception = ["MissingGreenlet"]',
            Evidence(exceptions=("sqlalchemy.exc.MissingGreenlet",)),
            Evidence(exceptions=("KeyError",)),
        ),
        (
            "when_message = 'greenlet_spawn'",
            Evidence(messages=("greenlet_spawn has not been called",)),
            Evidence(messages=("other",)),
        ),
        (
            'when_frame = ["sqlalchemy/orm/strategies.py:_load_for_state"]',
            Evidence(frames=(APP, LAZY)),
            Evidence(frames=(APP,)),
        ),
        (
            "when_code = '^db\\.query\\('",
            Evidence(frames=(APP, LAZY)),
            Evidence(frames=(LAZY,)),
        ),
        ("when_status = [503]", Evidence(statuses=(503,)), Evidence(statuses=(500, 503))),
        (
            'when_sibling = { signature = "demo.*", fields = { kind = "T" }, same = ["code"] }',
            Evidence(
                fields={"code": "7"}, siblings=(Sibling("demo.other", {"kind": "T", "code": "7"}),)
            ),
            Evidence(
                fields={"code": "7"}, siblings=(Sibling("demo.other", {"kind": "T", "code": "8"}),)
            ),
        ),
        ("when_recovered_alone = true", Evidence(recovered_alone=True), Evidence()),
    ],
    ids=["exception", "message", "frame", "code", "status", "sibling", "alone"],
)
def test_a_variant_is_chosen_by_what_the_log_shows(
    tmp_path: Path, variant: str, fits: Evidence, misses: Evidence
) -> None:
    rule = rule_with(tmp_path, variant)
    assert chosen(rule, fits) == "Chosen."
    assert chosen(rule, misses) == "Code {code} failed."
    assert rule.knowledge_for({}).root_cause == "Code {code} failed."


def test_no_status_seen_is_not_every_status_in_the_list(tmp_path: Path) -> None:
    rule = rule_with(tmp_path, "when_status = [503]")
    assert chosen(rule, Evidence()) == "Code {code} failed."


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ('when_frame = ["not a frame"]', "when_frame[0]: must be `function`"),
        ("when_message = '('", "when_message: regex does not compile"),
        ("when_code = 'x*'", "when_code: regex matches the empty string"),
        ("when_status = [42]", "when_status[0]: must be an HTTP status"),
        ('when_status = ["503"]', "when_status[0]: expected an integer"),
        (
            'when_sibling = { signature = "Demo", same = ["host"] }',
            "signature: must be a signature",
        ),
        ('when_sibling = { signature = "demo.*", same = ["host"] }', "'host' is not captured"),
        ('when_exception = ["not an exception"]', "must be an exception name"),
        ('when_recovered_alone = "yes"', "when_recovered_alone: expected a boolean"),
        ("when_recovered_alone = false", "when_recovered_alone: only `true` is a condition"),
        ('worked = ["It worked."]', "when: required: a table of field = value, or a when_* key"),
    ],
)
def test_a_bad_condition_is_reported_with_its_key(
    tmp_path: Path, variant: str, message: str
) -> None:
    block = f'\n[[knowledge.variants]]\n{variant}\nroot_cause = "C."\nfix = "F."\n'
    errors = errors_for(tmp_path, VALID.replace("[[examples]]", block + "\n[[examples]]", 1))
    assert any(message in error for error in errors), errors


def test_only_a_variant_says_what_worked(tmp_path: Path) -> None:
    text = VALID.replace('prevention = ["Prevent it."]', 'prevention = ["P."]\nworked = ["W."]')
    errors = errors_for(tmp_path, text)
    assert any("knowledge.worked: only a variant says what worked" in e for e in errors), errors
    rule = rule_with(tmp_path, 'when_status = [503]\nworked = ["Answered {code} with 503."]')
    assert rule.knowledge_for({}, Evidence(statuses=(503,))).worked == (
        "Answered {code} with 503.",
    )
