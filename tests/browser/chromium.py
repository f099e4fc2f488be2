"""Driving Debian's chromium through its chromedriver (selenium, no browser download): a browser
at laptop size (1366x900) or phone size (390x844, mobile emulation), logging in by real clicks,
full-page screenshots into the artifacts directory, and waiting for the processor to catch up.

Skips, with the reason, where selenium, chromium or chromedriver is missing."""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN, INGEST_TOKEN, ROOT
from tests.live_server import get_json

WIDTHS = {"laptop": (1366, 900), "phone": (390, 844)}
ARTIFACTS = Path(os.environ.get("DRAINWATCH_ARTIFACTS", ROOT / "tests" / "artifacts")) / "browser"
# A full-page screenshot is cut at this height: a long timeline is no clearer in a taller picture.
SHOT_MAX_HEIGHT = 5000


def _find(variable: str, *names: str) -> str | None:
    configured = os.environ.get(variable)
    if configured:
        return configured if Path(configured).exists() else None
    for name in names:
        found = shutil.which(name) or (
            f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
        )
        if found:
            return found
    return None


def browser_paths() -> tuple[str, str]:
    """Return (chromium, chromedriver), or skip the test saying what is missing."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[dev]'): browser tests skipped")
    chromium = _find("DRAINWATCH_CHROMIUM", "chromium", "chromium-browser", "google-chrome")
    driver = _find("DRAINWATCH_CHROMEDRIVER", "chromedriver")
    if chromium is None or driver is None:
        missing = " and ".join(
            name for name, path in (("chromium", chromium), ("chromedriver", driver)) if not path
        )
        pytest.skip(
            f"{missing} not found (apt-get install chromium chromium-driver, or set "
            "DRAINWATCH_CHROMIUM / DRAINWATCH_CHROMEDRIVER): browser tests skipped"
        )
    return chromium, driver


@dataclass
class Browser:
    """One headless chromium at one size, and the server it talks to."""

    driver: Any
    base: str
    size: str

    @property
    def width(self) -> int:
        """Return the viewport width in CSS pixels."""
        return WIDTHS[self.size][0]

    def open(self, path: str) -> None:
        """Load a page of the server."""
        self.driver.get(f"{self.base}{path}")

    def css(self, selector: str) -> Any:
        """Return the first element matching `selector` (fails when there is none)."""
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list[Any]:
        """Return every element matching `selector`."""
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, selector))

    def js(self, script: str, *args: Any) -> Any:
        """Run `script` in the page and return its value."""
        return self.driver.execute_script(script, *args)

    def click(self, selector: str) -> None:
        """Scroll the element into view and click it as a person would."""
        element = self.css(selector)
        self.js("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def submit(self, selector: str) -> None:
        """Click a submit button and wait until the page it leads to has loaded."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        # A mark on the old page's window: gone once another document has loaded. (Waiting for
        # an element to go stale can meet chromedriver's "node does not belong to the document"
        # in between.)
        self.js("window.drainwatchOldPage = true")
        self.click(selector)
        WebDriverWait(self.driver, 10, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script(
                "return !window.drainwatchOldPage && document.readyState === 'complete'"
            )
        )

    def type(self, selector: str, text: str) -> None:
        """Replace the text of an input or textarea by typing."""
        element = self.css(selector)
        self.js("arguments[0].scrollIntoView({block: 'center'})", element)
        element.clear()
        element.send_keys(text)

    def wait_for(self, condition: Any, seconds: float = 10.0) -> Any:
        """Wait until `condition(driver)` is truthy and return its value."""
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, seconds).until(condition)

    def log_in(self) -> None:
        """Log in as the admin through the login form."""
        self.open("/login")
        self.type("input[name=username]", ADMIN[0])
        self.type("input[name=password]", ADMIN[1])
        self.submit(".login button[type=submit]")
        assert "/login" not in self.driver.current_url, "logged in"

    def text(self) -> str:
        """Return the page's visible text."""
        return str(self.js("return document.body.innerText"))

    def fetch(self, path: str) -> tuple[int, str]:
        """GET `path` with the browser's session cookie (the CSP lets no page script fetch);
        return (status, body)."""
        cookie = self.driver.get_cookie("drainwatch_session")
        assert cookie is not None, "the browser is logged in"
        request = urllib.request.Request(
            f"{self.base}{path}", headers={"Cookie": f"drainwatch_session={cookie['value']}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status), response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode("utf-8", "replace")

    def overflow(self) -> int:
        """Return by how many CSS pixels the page is wider than the screen (0: none).

        A phone widens its layout viewport to content that overflows (innerWidth follows
        scrollWidth there), so the page is held to the screen's width as well.
        """
        wide = self.js(
            "return Math.max(document.documentElement.scrollWidth - window.innerWidth,"
            " document.documentElement.scrollWidth - arguments[0])",
            self.width,
        )
        return max(0, int(wide))

    def shot(self, name: str) -> Path:
        """Save a full-page screenshot as `<size>-<name>.png` in the artifacts directory."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        width, height = self.js(
            "const e = document.documentElement; return [e.scrollWidth, e.scrollHeight]"
        )
        clip = {"x": 0, "y": 0, "width": width, "height": min(height, SHOT_MAX_HEIGHT), "scale": 1}
        data = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": clip},
        )
        path = ARTIFACTS / f"{self.size}-{name}.png"
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def form_posts(self) -> list[dict[str, Any]]:
        """Return the headers of the POST requests the page sent since the last call."""
        posts = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") != "Network.requestWillBeSent":
                continue
            request = message["params"]["request"]
            if request.get("method") == "POST":
                posts.append({"url": request["url"], "headers": request.get("headers", {})})
        return posts


@contextmanager
def chromium(base: str, size: str) -> Iterator[Browser]:
    """Start a headless chromium at `size` ("laptop" or "phone"); quit it afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = browser_paths()
    width, height = WIDTHS[size]
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    if size == "phone":
        metrics = {"width": width, "height": height, "pixelRatio": 1, "touch": True}
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": metrics})
    else:
        options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        if size != "phone":
            # The window's frame takes from its size: make the viewport itself 1366x900.
            inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
            driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])
        yield Browser(driver=driver, base=base, size=size)
    finally:
        driver.quit()


def post_log(base: str, source: str, text: str) -> dict[str, Any]:
    """Post log text to `/drains/<source>` with the ingest token; return the 202 body."""
    request = urllib.request.Request(
        f"{base}/drains/{source}",
        data=text.encode("utf-8"),
        headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": "text/plain"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        answer: dict[str, Any] = json.load(response)
        return answer


def wait_processed(base: str, source: str, seconds: float = 60.0) -> None:
    """Wait until every line the source sent is processed (its incidents stored)."""
    deadline = time.monotonic() + seconds
    while True:
        counts = get_json(base, f"/api/sources/{source}")
        if counts["lines_processed"] >= counts["lines_received"] > 0:
            return
        assert time.monotonic() < deadline, f"{source} not processed in {seconds} s: {counts}"
        time.sleep(0.2)


def replay(base: str, source: str, scenario: str) -> None:
    """Post a scenario of sample_logs/scenarios/ to `source` and wait until it is processed."""
    text = (ROOT / "sample_logs" / "scenarios" / scenario / "input.log").read_text()
    post_log(base, source, text)
    wait_processed(base, source)
