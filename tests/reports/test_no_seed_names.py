"""Reports speak about the user's service from its own evidence, never about the seed incidents the
signature knowledge was learned from: no seed's company, product, people, endpoints, modules or
files appear in a signature's text, nor in a report unless the scanned log itself holds them."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from service.db import migrated_engine
from service.models import VISIBLE_STATUSES, Incident
from service.reports.render import incident_markdown, report_environment
from service.runtime import SignatureBook
from service.scan import OFFLINE, ScanInput, scan_inputs
from service.settings import Settings
from tests.conftest import ROOT

# Read from every file in /work/shared/seeds (000-004): what names *their* services, not the
# libraries and platforms (SQLAlchemy, Render, Neon, Auth0) every user shares.
SEED_NAMES = (
    # 000: the deployment guide
    "Zebra Associates",
    "zebra.associates",
    "zebra_associates",
    "Zebra",
    "Matt Lindop",
    "Matt.Lindop",
    "Lindop",
    "Maya",
    "£925K",
    "925K",
    "MarketEdge",
    "marketedge-platform",
    "app/auth/dependencies.py",
    "get_current_user",
    "require_admin",
    "super_admin",
    "feature-flags",
    "feature flags",
    "feature_flags",
    "test_feature_flags_cors_fix",
    "CORS_ASYNC_FIX_REPORT",
    "production_deployment_validation",
    ".render-deploy-trigger",
    "6011785",
    "d2745dd",
    "2163f64",
    # 001: MissingGreenlet in the auth endpoints
    "refresh_token",
    "login_oauth2",
    "_create_or_update_user_from_auth0",
    "create_or_update_user",
    "api_v1",
    "endpoints/auth.py",
    "auth0_id",
    "auth0_user_id",
    "dc71514",
    # 002: six failures over seven Render deploys
    "DON Stack",
    "don-research",
    "srv-d3qq6o8gjchc73bi0rc0",
    "dep-d3vher8gjchc73d95mvg",
    "src/database/session.py",
    "_get_database_session",
    "DatabaseSession",
    "DON Stack Research API",
    "AuditRepository",
    "AuditLog",
    "BaseRepository",
    "audit_repo",
    "audit_metadata",
    "enable_extensions",
    "response_time_ms",
    "DEPLOYMENT_FIX_SUMMARY",
    "DEPLOYMENT_SUCCESS_SUMMARY",
    "test_database_session_fixes",
    "cf7e3d7",
    "9a34921",
    "1031517",
    # 003: the start-up hang
    "app.db.session",
    "app.core.database",
    "module registry",
    "analytics_modules",
    "emergency_production_diagnostic",
    "test_startup_fix",
    "dev-g8trhgbfdq2sk2m8",
    "STABLE_PRODUCTION_FULL_API",
    "a939863",
    "Failed to get Auth0 URL",
    # 004: DB resilience
    "ProSaaS",
    "prosaasil",
    "WhatsApp",
    "whatsapp_session",
    "whatsapp_session_loop",
    "whatsapp_session_service",
    "prosaasil-backend",
    "app_factory",
    "server/ui/routes.py",
    "error_handlers.py",
    "db_retry",
    "safe_thread",
    "copilot/fix-db-endpoint-crashes",
    "DB_RESILIENCE_IMPLEMENTATION",
    "verify_db_resilience",
    "media_ws_ai",
    "db_health",
    "db_ping",
    "N8N",
)
_NAMES = re.compile(
    "|".join(rf"(?<![\w]){re.escape(name)}(?![\w])" for name in SEED_NAMES), re.IGNORECASE
)
PATTERN_FILES = sorted((ROOT / "patterns").rglob("*.toml"))
# Example texts are log lines as real services printed them: evidence, not knowledge.
EVIDENCE_TABLES = ("examples", "near_misses", "known_misses")
SCENARIOS = sorted(p for p in (ROOT / "sample_logs" / "scenarios").iterdir() if p.is_dir())


def seed_names_in(text: str) -> set[str]:
    """Return the seed names `text` holds, lower-cased (markdown escapes, `op\\_name`, undone)."""
    return {match.group(0).lower() for match in _NAMES.finditer(text.replace("\\", ""))}


def knowledge_strings(data: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Yield (key, text) for every string of a signature file except its example log texts."""
    if isinstance(data, str):
        yield key, data
    elif isinstance(data, dict):
        for name, value in data.items():
            if name not in EVIDENCE_TABLES:
                yield from knowledge_strings(value, f"{key}.{name}" if key else name)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from knowledge_strings(value, f"{key}[{index}]")


def comments(path: Path) -> str:
    """Return the comment lines of a signature file (they are read as much as its text is)."""
    return "\n".join(
        line for line in path.read_text().splitlines() if line.lstrip().startswith("#")
    )


def test_the_seed_name_list_finds_names_in_the_seed_style_text() -> None:
    text = "what broke the `refresh_token` endpoint in the MarketEdge incident, as in the DON Stack"
    assert seed_names_in(text) == {"refresh_token", "marketedge", "don stack"}
    assert seed_names_in("an AsyncSession from get_db, a QueuePool on Render and Neon") == set()


@pytest.mark.parametrize("path", PATTERN_FILES, ids=lambda p: p.stem)
def test_signature_text_names_no_seed(path: Path) -> None:
    data = tomllib.loads(path.read_text())
    found = {
        key: sorted(seed_names_in(text))
        for key, text in [*knowledge_strings(data), ("comments", comments(path))]
        if seed_names_in(text)
    }
    assert found == {}


@pytest.fixture(scope="module")
def scanned() -> Iterator[tuple[Engine, SignatureBook, Settings]]:
    settings = Settings()
    with migrated_engine("sqlite://") as engine:
        yield engine, SignatureBook(settings), settings


def example_cases() -> list[tuple[str, int, str]]:
    cases = []
    for path in PATTERN_FILES:
        data = tomllib.loads(path.read_text())
        for index, example in enumerate(data.get("examples", [])):
            cases.append((data["id"], index, example["text"].strip("\n")))
    return cases


def reports_of(
    scanned: tuple[Engine, SignatureBook, Settings], text: str, source: str, tmp_path: Path
) -> list[str]:
    """Scan `text` as its own source and return the markdown report of each incident it opens."""
    engine, book, settings = scanned
    log = tmp_path / "input.log"
    log.write_text(text + "\n")
    scan_inputs(engine, book.matcher, [ScanInput(str(log), source)], now=OFFLINE)
    env = report_environment(settings.templates_dir)
    with Session(engine) as session:
        statement = (
            select(Incident)
            .where(Incident.source == source, col(Incident.status).in_(VISIBLE_STATUSES))
            .order_by(col(Incident.id))
        )
        return [
            incident_markdown(session, i, book.by_id, public_url=settings.public_url, env=env)
            for i in session.exec(statement).all()
        ]


def unfilled_placeholders(report: str) -> list[str]:
    """Return `{name}` placeholders left in the prose of a report (code may hold route templates)."""
    prose = re.sub(r"^[ \t]*(`{3,}).*?^[ \t]*\1[^\n]*$", "", report, flags=re.DOTALL | re.MULTILINE)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    return re.findall(r"(?<!\{)\{[a-z][a-z0-9_]*\}(?!\})", prose)


CASES = example_cases()


@pytest.mark.parametrize(
    ("signature", "index", "text"), CASES, ids=[f"{sig}-{index}" for sig, index, _ in CASES]
)
def test_the_report_of_every_example_names_no_seed_the_log_does_not(
    scanned: tuple[Engine, SignatureBook, Settings],
    tmp_path: Path,
    signature: str,
    index: int,
    text: str,
) -> None:
    reports = reports_of(scanned, text, f"{signature}-{index}", tmp_path)
    for report in reports:
        assert seed_names_in(report) - seed_names_in(text) == set()
        assert unfilled_placeholders(report) == []


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_the_report_of_every_sample_scenario_names_no_seed_the_log_does_not(
    scanned: tuple[Engine, SignatureBook, Settings], tmp_path: Path, scenario: Path
) -> None:
    for log in sorted(scenario.glob("*.log")):
        text = log.read_text()
        reports = reports_of(scanned, text, f"{scenario.name}-{log.stem}", tmp_path)
        assert reports
        for report in reports:
            assert seed_names_in(report) - seed_names_in(text) == set()
            assert unfilled_placeholders(report) == []
