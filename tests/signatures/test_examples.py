"""Every embedded example of every bundled signature, each its own test id."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.signatures.engine import Matcher
from service.signatures.loader import SignatureLibrary, check_example, load_signatures
from service.signatures.schema import Case, Rule

BUNDLED = Path(__file__).resolve().parents[2] / "patterns"
LIBRARY: SignatureLibrary = load_signatures([BUNDLED])
CASES = [
    pytest.param(
        rule,
        case,
        id=f"{rule.id}/{case.label}",
        marks=[pytest.mark.xfail(strict=True, reason=case.known_miss)] if case.known_miss else [],
    )
    for rule in LIBRARY.signatures
    for case in rule.cases
]
# CONTRACT.md §5: every one of these ships.
CONTRACT_IDS = (
    "sqlalchemy.missing-greenlet",
    "sqlalchemy.async-pool-class",
    "python.async-context-manager",
    "sqlalchemy.result-no-rows",
    "sqlalchemy.invalid-kwarg",
    "python.attribute-error",
    "python.name-error",
    "python.import-error",
    "python.coroutine-never-awaited",
    "sqlalchemy.pool-exhausted",
    "asyncpg.operation-in-progress",
    "asyncio.loop-mismatch",
    "postgres.connection-lost",
    "postgres.too-many-connections",
    "postgres.undefined-table",
    "alembic.missing-revision",
    "neon.endpoint-disabled",
    "app.db-outage",
    "app.startup-hang",
    "asgi.unhandled-exception",
    "python.unhandled-exception",
    "http.cors-blocked",
    "http.server-errors",
    "gunicorn.worker-timeout",
    "render.python-version",
    "render.port-scan-timeout",
    "render.out-of-memory",
    "render.deploy-failed",
    "heroku.router-error",
    "heroku.memory-quota",
)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return LIBRARY.matcher()


@pytest.mark.parametrize(("rule", "case"), CASES)
def test_example(matcher: Matcher, rule: Rule, case: Case) -> None:
    assert check_example(matcher, rule, case) is None


@pytest.mark.parametrize("ident", CONTRACT_IDS)
def test_contract_signature_ships(ident: str) -> None:
    assert ident in LIBRARY


@pytest.mark.parametrize("rule", LIBRARY.signatures, ids=[rule.id for rule in LIBRARY.signatures])
def test_bundled_signature_meets_the_quality_bar(rule: Rule) -> None:
    matching = [case for case in rule.cases if case.example.matches and not case.known_miss]
    assert len(matching) >= 3
    assert len(rule.cases) - len(matching) >= 2
    for knowledge in (rule.knowledge, *(variant.knowledge for variant in rule.variants)):
        assert "```" in knowledge.fix, "the fix shows code"
        assert len(knowledge.verification) >= 2
        assert len(knowledge.prevention) >= 2
    assert rule.references
