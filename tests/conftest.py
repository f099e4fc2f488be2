"""Shared fixtures: a migrated database per test (SQLite always, PostgreSQL when configured),
settings pointing at it, and an app with its processor driven by hand."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from service.db import create_db_engine, upgrade_schema
from service.settings import Settings

POSTGRES_URL = os.environ.get("DRAINWATCH_TEST_DATABASE_URL", "")
ADMIN = ("admin", "correct horse battery staple")
# The incident fields of the scan JSON (CONTRACT §3), which the API and the webhooks carry too.
SCAN_FIELDS = (
    *("signature", "title", "severity", "status", "source"),
    *("first_seen", "last_seen", "occurrences", "fields"),
)
INGEST_TOKEN = "test-ingest-token"
ROOT = Path(__file__).resolve().parent.parent

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(
                not POSTGRES_URL,
                reason="DRAINWATCH_TEST_DATABASE_URL is not set: PostgreSQL variant skipped",
            ),
        ],
    ),
]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of an empty, isolated database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'drainwatch.db'}"
        return
    with postgres_schema() as url:
        yield url


@contextmanager
def postgres_schema() -> Iterator[str]:
    """Yield the URL of a fresh PostgreSQL schema of its own; drop it afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """Yield a migrated engine on the test database."""
    engine = create_db_engine(database_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Return settings for a test server on the test database with a known admin and token."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        spool_dir=tmp_path / "spool",
        ingest_token=INGEST_TOKEN,
        admin_user=ADMIN[0],
        admin_password=ADMIN[1],
        public_url="http://drainwatch.test",
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """Yield a client of an app whose processor runs only when a test calls it."""
    from service.app import create_app

    app = create_app(settings, start_processor=False)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def runtime(client: TestClient) -> Any:
    """Return the runtime behind `client`."""
    return client.app.state.runtime  # type: ignore[attr-defined]


_FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def post_login(client: TestClient, data: dict[str, str], **kwargs: Any) -> httpx.Response:
    """Post the login form as a browser does: fetch the form first, send its CSRF token back."""
    found = _FORM_TOKEN.search(client.get("/login").text)
    assert found is not None, "the login form carries a CSRF token"
    return client.post("/login", data={**data, "csrf_token": found.group(1)}, **kwargs)


def post_lines(
    client: TestClient, source: str, text_body: str, **headers: str
) -> dict[str, object]:
    """Post a text/plain batch with the ingest token and return the 202 body."""
    response = client.post(
        f"/drains/{source}",
        content=text_body.encode("utf-8"),
        headers={
            "Authorization": f"Bearer {INGEST_TOKEN}",
            "Content-Type": "text/plain",
            **headers,
        },
    )
    assert response.status_code == 202, response.text
    body: dict[str, object] = response.json()
    return body


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say once, plainly, when the PostgreSQL variants were skipped."""
    if POSTGRES_URL:
        terminalreporter.write_line(
            f"database tests ran on SQLite and on PostgreSQL ({POSTGRES_URL})"
        )
        return
    skipped = sum(
        1 for report in terminalreporter.stats.get("skipped", []) if "[postgresql]" in report.nodeid
    )
    if skipped:
        terminalreporter.write_line(
            f"PostgreSQL not configured: {skipped} PostgreSQL test variants skipped (set "
            "DRAINWATCH_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
