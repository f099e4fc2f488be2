"""Error pages in chromium: a missing incident or page, a refused form that has no page of its own
to come back to, and the 503 page while the database cannot be reached; each a readable page in
drainwatch's layout at 1366 px and at 390 px, never a JSON body."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.chromium import Browser, chromium
from tests.conftest import ADMIN
from tests.live_server import server_env, serving

pytestmark = pytest.mark.slow

# Connections to it are refused at once: a database that is down.
DOWN_URL = "postgresql+psycopg://postgres@127.0.0.1:1/down?connect_timeout=2"


@pytest.mark.parametrize(
    ("path", "said"), [("/incidents/9999", "No incident #9999"), ("/nope", "No page of drainwatch")]
)
def test_a_missing_page_is_a_page_in_the_layout(browser: Browser, path: str, said: str) -> None:
    browser.open(path)
    assert browser.css("h1").text == "There is nothing here"
    assert said in browser.css(".notice-error").text
    assert browser.all("header.top nav a"), "the navigation is there to go on from"
    assert browser.overflow() == 0


def test_a_refused_form_without_a_page_of_its_own_can_be_sent_again(browser: Browser) -> None:
    browser.open("/")
    page = browser.driver.current_window_handle
    browser.driver.switch_to.new_window("tab")
    browser.log_in()  # a new session: the overview's logout form is stale now
    browser.driver.close()
    browser.driver.switch_to.window(page)
    browser.submit("form.logout button")
    assert browser.css("h1").text == "drainwatch refused this"
    assert "Nothing was changed" in browser.css(".notice-error").text
    assert browser.overflow() == 0
    browser.shot("error-403-refused")
    browser.submit(".resend button")
    assert browser.driver.current_url.endswith("/login")
    browser.log_in()


@pytest.fixture(scope="module")
def down_server(tmp_path_factory: pytest.TempPathFactory, server: str) -> Iterator[str]:
    """Yield the base URL of a `drainwatch serve` whose database refuses every connection."""
    directory: Path = tmp_path_factory.mktemp("browser-down")
    env = {**server_env(directory), "DRAINWATCH_DATABASE_URL": DOWN_URL}
    with serving(directory, env) as (_process, base):
        yield base


@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_logging_in_while_the_database_is_down_is_the_503_page(down_server: str, size: str) -> None:
    with chromium(down_server, size) as browser:
        browser.open("/login")
        browser.type("input[name=username]", ADMIN[0])
        browser.type("input[name=password]", ADMIN[1])
        browser.submit(".login button[type=submit]")
        assert browser.css("h1").text == "The database is unavailable"
        assert "still accepted" in browser.text()
        assert browser.overflow() == 0
        browser.shot("error-503")
