"""Every embedded example of every bundled signature, each its own test id."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.signatures.engine import Matcher
from service.signatures.loader import SignatureLibrary, check_example, load_signatures
from service.signatures.schema import Case, Rule

BUNDLED = Path(__file__).resolve().parents[2] / "patterns"
LIBRARY: SignatureLibrary = load_signatures([BUNDLED])
CASES = [(rule, case) for rule in LIBRARY.signatures for case in rule.cases]
CONTRACT_IDS = (
    "sqlalchemy.missing-greenlet",
    "sqlalchemy.async-pool-class",
    "python.name-error",
    "app.db-outage",
)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return LIBRARY.matcher()


@pytest.mark.parametrize(
    ("rule", "case"), CASES, ids=[f"{rule.id}/{case.label}" for rule, case in CASES]
)
def test_example(matcher: Matcher, rule: Rule, case: Case) -> None:
    assert check_example(matcher, rule, case) is None


@pytest.mark.parametrize("ident", CONTRACT_IDS)
def test_contract_signature_ships(ident: str) -> None:
    assert ident in LIBRARY


@pytest.mark.parametrize("rule", LIBRARY.signatures, ids=[rule.id for rule in LIBRARY.signatures])
def test_bundled_signature_meets_the_quality_bar(rule: Rule) -> None:
    matching = [case for case in rule.cases if case.example.matches]
    assert len(matching) >= 3
    assert len(rule.cases) - len(matching) >= 2
    for knowledge in (rule.knowledge, *(variant.knowledge for variant in rule.variants)):
        assert "```" in knowledge.fix, "the fix shows code"
        assert len(knowledge.verification) >= 2
        assert len(knowledge.prevention) >= 2
    assert rule.references
