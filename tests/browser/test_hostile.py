"""Hostile log text in chromium: tests/test_xss.py's payloads, and template syntax, markdown
images, ANSI, bidi and zero-width characters, in every log-derived field, on every page that shows
them. Nothing runs (no dialog), no element or `javascript:` link comes of it, no image is fetched,
and the invisible characters are shown as marks."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from tests.browser.chromium import Browser, chromium, wait_processed
from tests.conftest import INGEST_TOKEN
from tests.live_server import get_json
from tests.test_xss import MARK, PAYLOADS, log_text

pytestmark = pytest.mark.slow

MORE = [
    "{{7*7}} {% print 7*7 %} ${7*7}",
    "![pixel](http://127.0.0.1:9/pixel.png) [docs](javascript:alert(9))",
    "\x1b[31mred\x1b[0m \x1b]8;;http://evil.example\x07link\x1b]8;;\x07",
    "user\u202egnp.exe admin\u200bistrator \u2066isolate\u2069",
]

_FOUND = f"""
return {{
  marked: document.querySelectorAll('[{MARK}]').length,
  scripts: [...document.scripts].filter(s => s.src || s.textContent.trim()).length,
  handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes])
    .filter(a => a.name.startsWith('on')).length,
  js_links: [...document.querySelectorAll('[href], [src], [action]')]
    .filter(e => /^\\s*javascript:/i.test(e.getAttribute('href') || e.getAttribute('src')
                                           || e.getAttribute('action') || '')).length,
  images: [...document.images].length,
  frames: document.querySelectorAll('iframe, object, embed').length,
}};
"""


def _post(base: str, source: str, body: bytes, content_type: str) -> None:
    request = urllib.request.Request(
        f"{base}/drains/{source}",
        data=body,
        headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": content_type},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202


@pytest.fixture(scope="module")
def laptop(server: str) -> Iterator[Browser]:
    """Yield a logged-in chromium at laptop size, after replaying the hostile log."""
    for number, payload in enumerate([*PAYLOADS, *MORE]):
        _post(server, "hostile", log_text(payload).encode(), "text/plain")
        events = [
            {"message": line, "dyno": f"web.{number}{payload[:20]}"}
            for line in log_text(payload).splitlines()
        ]
        _post(server, "hostile-json", json.dumps(events).encode(), "application/json")
    wait_processed(server, "hostile")
    wait_processed(server, "hostile-json")
    with chromium(server, "laptop") as opened:
        opened.log_in()
        yield opened


def test_hostile_log_text_renders_inert_on_every_page(laptop: Browser, server: str) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    incidents = get_json(server, "/api/incidents")["incidents"]
    outages = get_json(server, "/api/outages")["outages"]
    assert len(incidents) >= 5 and outages
    pages = ["/", "/incidents", "/outages", "/sources", "/patterns"]
    pages += [f"/incidents/{i['id']}" for i in incidents]
    pages += [f"/outages/{o['id']}" for o in outages]
    problems = {}
    seen = ""
    for path in pages:
        laptop.open(path)
        try:
            alert = laptop.driver.switch_to.alert
        except NoAlertPresentException:
            pass
        else:
            problems[path] = f"a dialog opened: {alert.text!r}"
            alert.dismiss()
            continue
        found = laptop.js(_FOUND)
        if any(found.values()):
            problems[path] = found
        seen += laptop.text()
    assert problems == {}
    # The test looked where the payloads are: they are on the pages, as text.
    assert "<script" in seen and "{{7*7}}" in seen
    assert "⟪U+202E⟫" in seen and "⟪U+200B⟫" in seen
    assert "\u202e" not in seen and "\u200b" not in seen and "\x1b" not in seen
    laptop.open(f"/incidents/{incidents[0]['id']}")
    laptop.shot("hostile-incident")
