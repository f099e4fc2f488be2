"""A user signature that fails its check never stops the service: it is skipped, and said so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.settings import Settings
from tests.conftest import ADMIN

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def skipping_client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    """Yield a client whose extra patterns directory holds a catastrophic user signature."""
    from service.app import create_app

    extra = tmp_path / "extra" / "python"
    extra.mkdir(parents=True)
    source = (ROOT / "patterns" / "python" / "python.name-error.toml").read_text()
    slow = source.replace("[detect]\n", "[detect]\nnone = ['ZQ(b|bb)+$']\n", 1)
    (extra / "python.name-error.toml").write_text(slow, encoding="utf-8")
    changed = settings.model_copy(update={"patterns_dir": tmp_path / "extra"})
    with TestClient(create_app(changed, start_processor=False)) as test_client:
        yield test_client


def test_app_starts_with_the_bad_file_skipped_and_the_bundled_one_in_force(
    skipping_client: TestClient,
) -> None:
    body = skipping_client.get("/api/patterns", auth=ADMIN).json()
    [skipped] = body["skipped"]
    assert skipped.startswith("extra/python/python.name-error.toml: detect.none[0]: regex takes")
    ids = {pattern["id"] for pattern in body["patterns"]}
    assert "python.name-error" in ids


def test_patterns_page_shows_the_skipped_file(skipping_client: TestClient) -> None:
    page = skipping_client.get("/patterns", auth=ADMIN)
    assert page.status_code == 200
    assert "Skipped signature files" in page.text
    assert "extra/python/python.name-error.toml: detect.none[0]" in page.text
