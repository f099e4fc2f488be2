"""Browser fixtures: one real `drainwatch serve` per test module, and one logged-in headless
chromium per size (1366x900 and 390x844) per module, shared by its tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.chromium import Browser, browser_paths, chromium
from tests.live_server import get_json, server_env, serving


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Yield the base URL of a `drainwatch serve` of this module's own."""
    browser_paths()  # skip before starting a server no browser will visit
    directory: Path = tmp_path_factory.mktemp("browser-serve")
    with serving(directory, server_env(directory)) as (_process, base):
        assert get_json(base, "/healthz")["status"] == "ok"
        yield base


@pytest.fixture(scope="module", params=["laptop", "phone"])
def browser(request: pytest.FixtureRequest, server: str) -> Iterator[Browser]:
    """Yield a logged-in chromium at laptop size, then at phone size."""
    with chromium(server, request.param) as opened:
        opened.log_in()
        yield opened
