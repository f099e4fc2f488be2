"""Every page in chromium at 1366 px and at 390 px: nothing wider than the screen, the header and
its links inside the dark bar, chart labels readable, times with their age and UTC on hover,
the actions reachable by keyboard with a visible focus. A screenshot of each page is saved."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.chromium import Browser, replay
from tests.live_server import get_json

pytestmark = pytest.mark.slow

PAGES = {
    "overview": "/",
    "incidents": "/incidents",
    "outages": "/outages",
    "incidents-none": "/incidents?source=no-such-source",
    "outages-none": "/outages?source=no-such-source",
    "incident": "/incidents/{incident}",
    "incident-resolved": "/incidents/{resolved}",
    "outage": "/outages/{outage}",
    "outage-resolved": "/outages/{resolved_outage}",
    "sources": "/sources",
    "patterns": "/patterns",
    "login": "/login",
    "error-404-incident": "/incidents/9999",
    "error-404-page": "/nope",
    "error-422": "/incidents/not-a-number",
}


@pytest.fixture(scope="module")
def ids(server: str) -> dict[str, int]:
    """Replay an open outage and a resolved one; return the ids the pages are shown for."""
    replay(server, "shop", "seed_name_error_logger")
    replay(server, "db", "seed_db_outage")
    [open_outage] = get_json(server, "/api/outages?status=open&source=shop")["outages"]
    [resolved] = get_json(server, "/api/outages?status=resolved&source=db")["outages"]
    return {
        "incident": open_outage["incidents"][0],
        "outage": open_outage["id"],
        "resolved": resolved["incidents"][0],
        "resolved_outage": resolved["id"],
    }


@pytest.mark.parametrize("name", list(PAGES))
def test_no_page_is_wider_than_the_screen(browser: Browser, ids: dict[str, int], name: str) -> None:
    browser.open(PAGES[name].format(**ids))
    browser.shot(name)
    assert browser.overflow() == 0, f"{name} is {browser.overflow()} px wider than the screen"
    assert browser.css("header.top"), "the page is in drainwatch's layout"


@pytest.mark.parametrize("name", ["overview", "incident", "error-404-page"])
def test_the_header_and_its_links_stay_inside_the_dark_bar(
    browser: Browser, ids: dict[str, int], name: str
) -> None:
    browser.open(PAGES[name].format(**ids))
    bar = browser.css("header.top").rect
    for link in browser.all("header.top a, header.top button"):
        box = link.rect
        assert box["x"] >= bar["x"] and box["x"] + box["width"] <= bar["x"] + bar["width"] + 0.5
        assert box["y"] >= bar["y"] and box["y"] + box["height"] <= bar["y"] + bar["height"] + 0.5
        assert link.value_of_css_property("color") != link.value_of_css_property("background-color")


_RENDERED_FONT = """
return [...document.querySelectorAll('.chart-box *, svg text')]
  .filter(e => e.childElementCount === 0 && e.textContent.trim() && e.tagName !== 'title')
  .map(e => {
    const size = parseFloat(getComputedStyle(e).fontSize);
    const scale = e instanceof SVGGraphicsElement ? e.getScreenCTM().a : 1;
    return [e.textContent.trim(), size * scale];
  });
"""


@pytest.mark.parametrize("name", ["incident", "outage"])
def test_chart_labels_are_readable(browser: Browser, ids: dict[str, int], name: str) -> None:
    browser.open(PAGES[name].format(**ids))
    labels: list[Any] = browser.js(_RENDERED_FONT)
    assert labels, "the page has a chart with labels"
    small = [(text, round(size, 1)) for text, size in labels if size < 11]
    assert not small, f"labels under 11 px: {small}"


def test_times_show_their_age_with_the_utc_time_on_hover(
    browser: Browser, ids: dict[str, int]
) -> None:
    browser.open(PAGES["incident"].format(**ids))
    times = browser.all(".lead-meta time")
    assert times and all(t.get_attribute("datetime") for t in times)
    assert all(t.text.endswith("ago") for t in times)
    assert all(t.get_attribute("title").endswith(" UTC") for t in times)
    rows = browser.all(".timeline time")
    assert rows and all(" UTC," in r.get_attribute("title") for r in rows)


def test_the_actions_are_reachable_by_keyboard_with_a_visible_focus(
    browser: Browser, ids: dict[str, int]
) -> None:
    from selenium.webdriver.common.keys import Keys

    browser.open(PAGES["incident"].format(**ids))
    body = browser.css("body")
    body.send_keys(Keys.TAB)
    first = browser.driver.switch_to.active_element
    assert first.text == "Skip to the content" and first.is_displayed()
    for _ in range(30):
        focused = browser.driver.switch_to.active_element
        if focused.get_attribute("value") == "acknowledged":
            break
        focused.send_keys(Keys.TAB)
    else:
        pytest.fail("Acknowledge is not reached in 30 presses of Tab")
    assert focused.value_of_css_property("outline-style") != "none"
    assert float(focused.value_of_css_property("outline-width").removesuffix("px")) >= 2
