"""The person on call's flows through real clicks in chromium, at 1366 px and at 390 px: replay an
outage over the drain, open it from the overview, acknowledge, add a timeline note, fill in what
the log cannot know, resolve with a note and find the note in `report.md`; a refused post keeps
what was typed and says why in the page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.chromium import Browser, replay
from tests.live_server import get_json

pytestmark = pytest.mark.slow


def _incidents(server: str, source: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = get_json(server, f"/api/incidents?source={source}")["incidents"]
    return found


def _wait_page(browser: Browser, path: str) -> None:
    browser.wait_for(lambda d: d.current_url == f"{browser.base}{path}")


def test_open_the_outage_from_the_overview_act_on_it_and_find_the_note_in_the_report(
    browser: Browser, server: str
) -> None:
    source = f"shop-{browser.size}"
    replay(server, source, "seed_name_error_logger")
    browser.open("/")
    browser.shot("overview")
    row = f"//tr[td[normalize-space()='{source}']]//a[starts-with(@href, '/outages/')]"
    link = browser.driver.find_element("xpath", row)
    outage_path = link.get_attribute("href").removeprefix(browser.base)
    browser.js("arguments[0].scrollIntoView({block: 'center'})", link)
    link.click()
    _wait_page(browser, outage_path)

    # The lead first, the actions beside it on a laptop and below it on a phone.
    lead = browser.css(".lead-text").rect
    actions = browser.css(".actions").rect
    assert "What broke" in browser.css(".lead .headline").text
    if browser.size == "laptop":
        assert actions["x"] >= lead["x"] + lead["width"] - 1 and actions["y"] < lead["y"] + 50
    else:
        assert actions["y"] >= lead["y"] + lead["height"] - 1
    assert lead["y"] < 400, "the lead is at the top of the page"
    browser.shot("outage-open")

    acting = browser.css(".actions form.act").get_attribute("action").removeprefix(browser.base)
    number = int(acting.split("/")[2])
    browser.form_posts()  # forget the posts so far
    browser.submit(".actions button[value=acknowledged]")
    _wait_page(browser, outage_path)
    assert get_json(server, f"/api/incidents/{number}")["status"] == "acknowledged"
    [post] = [p for p in browser.form_posts() if p["url"].endswith(acting)]
    # What issue 13 found: Referrer-Policy: no-referrer makes chromium send `Origin: null`.
    assert post["headers"].get("Origin") == "null"
    assert not browser.all(".actions button[value=acknowledged]")

    browser.type(
        ".actions textarea[name=note]", "Paged the API team; looking at the logger import."
    )
    browser.submit(".actions button.secondary")
    _wait_page(browser, outage_path)
    timeline = get_json(server, f"/api/incidents/{number}")["timeline"]
    assert any("looking at the logger import" in row["text"] for row in timeline)

    browser.click(".actions a.full-report")
    _wait_page(browser, f"/incidents/{number}")
    browser.type("input[name=owner]", "dana")
    browser.type("input[name=fix_commit]", "3f2c1ab")
    browser.type("textarea[name=business_impact]", "Sign-ups failed for 20 minutes.")
    browser.type("textarea[name=action_items]", "P1 | dana | Import logger in every module")
    browser.submit(".operator button[type=submit]")
    _wait_page(browser, f"/incidents/{number}")
    incident = get_json(server, f"/api/incidents/{number}")
    assert (incident["owner"], incident["fix_commit"]) == ("dana", "3f2c1ab")
    assert incident["business_impact"] == "Sign-ups failed for 20 minutes."
    assert [a["text"] for a in incident["action_items"]] == ["Import logger in every module"]
    assert browser.css("input[name=owner]").get_attribute("value") == "dana"

    browser.type(".actions textarea[name=note]", "Fixed by 3f2c1ab: logger imported in main.py.")
    browser.submit(".actions button[value=resolved]")
    _wait_page(browser, f"/incidents/{number}")
    assert get_json(server, f"/api/incidents/{number}")["status"] == "resolved"
    assert "Resolved" in browser.css(".actions").text
    browser.shot("incident-resolved")
    status, report = browser.fetch(f"/incidents/{number}/report.md")
    assert status == 200
    assert "Fixed by 3f2c1ab: logger imported in main.py." in report
    assert "Sign-ups failed for 20 minutes." in report


def test_a_refused_post_keeps_what_was_typed_and_says_why_in_the_page(
    browser: Browser, server: str
) -> None:
    source = f"stale-{browser.size}"
    replay(server, source, "cors_masked_500")
    [incident] = _incidents(server, source)
    path = f"/incidents/{incident['id']}"
    browser.open(path)
    browser.type("input[name=owner]", "erin")
    browser.type("textarea[name=business_impact]", "EU checkout down")
    # A login in another tab gives the browser a new session: this page's form is now stale.
    page = browser.driver.current_window_handle
    browser.driver.switch_to.new_window("tab")
    browser.log_in()
    browser.driver.close()
    browser.driver.switch_to.window(page)

    browser.submit(".operator button[type=submit]")
    notice = browser.wait_for(lambda d: d.find_elements("css selector", "#refused"))[0]
    assert "security token" in notice.text and "Nothing was changed" in notice.text
    assert browser.css("input[name=owner]").get_attribute("value") == "erin"
    assert (
        browser.css("textarea[name=business_impact]").get_attribute("value") == "EU checkout down"
    )
    assert "{" not in browser.text().split("\n")[0], "a page, not a JSON body"
    assert get_json(server, path.replace("/incidents", "/api/incidents"))["owner"] in (None, "")
    browser.shot("refused-form")

    browser.submit(".operator button[type=submit]")  # sent again: the page carries a fresh token
    _wait_page(browser, path)
    assert get_json(server, f"/api/incidents/{incident['id']}")["owner"] == "erin"
