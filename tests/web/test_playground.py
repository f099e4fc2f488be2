"""The `/patterns` playground: pasted log text through the signatures, explained as the command
explains it; and the catalogue by area with hit counts."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.cli import main
from tests.conftest import post_lines
from tests.web.page_forms import log_in

GREENLET = (
    "sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call await_only() "
    "here. Was IO attempted in an unexpected place?"
)
NAME_ERROR = "2025-09-19 12:55:03,100 - app.auth - ERROR - NameError: name 'logger' is not defined"


def tried(client: TestClient, csrf: str, text: str) -> Any:
    return client.post("/patterns", data={"text": text, "csrf_token": csrf})


def test_the_page_lists_the_catalogue_by_area_with_hit_counts(
    client: TestClient, runtime: Any
) -> None:
    log_in(client)
    post_lines(client, "api", NAME_ERROR + "\n" + NAME_ERROR.replace("12:55:03", "12:55:09") + "\n")
    runtime.processor.process_all()
    page = client.get("/patterns").text
    assert 'id="area-sqlalchemy"' in page and 'id="area-python"' in page
    row = re.search(
        r'signature=python.name-error">python.name-error</a></td>(.*?)</tr>', page, re.S
    )
    assert row is not None
    cells = re.findall(r'<td class="num">(.*?)</td>', row.group(1), re.S)
    assert cells[0].startswith("1 ") and "(1 open)" in cells[0] and cells[1] == "2"
    assert 'name="text"' in page


def test_a_pasted_line_shows_its_signature_and_fields(client: TestClient) -> None:
    csrf = log_in(client)
    response = tried(client, csrf, NAME_ERROR)
    assert response.status_code == 200
    assert 'line 1: <span class="mono">python.name-error</span>' in response.text
    assert "<code>name=logger</code>" in response.text
    assert "NameError: name &#39;logger&#39; is not defined" in response.text  # kept in the box


def test_a_traceback_is_one_event_and_the_specific_signature_wins(client: TestClient) -> None:
    csrf = log_in(client)
    text = "\n".join(
        [
            "Traceback (most recent call last):",
            '  File "/app/db.py", line 3, in load',
            "    await session.execute(q)",
            GREENLET,
        ]
    )
    page = tried(client, csrf, text).text
    assert 'lines 1-4: <span class="mono">sqlalchemy.missing-greenlet</span>' in page


def test_an_unmatched_line_is_explained_as_patterns_test_explains_it(
    client: TestClient, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRAINWATCH_PATTERNS_DIR", raising=False)
    line = "2025-09-19 12:55:03 INFO another operation is in progress? no"
    assert main(["patterns", "test", "--format", "json", line]) == 0
    [unmatched] = json.loads(capsys.readouterr().out)["unmatched"]
    assert unmatched["nearest"], "the example must come close to some signature"
    csrf = log_in(client)
    page = tried(client, csrf, line).text
    assert "no signature matched" in page
    for miss in unmatched["nearest"]:
        reason = miss["reason"].replace("'", "&#39;").replace('"', "&#34;")
        assert f'<span class="mono">{miss["signature"]}</span>: {reason}' in page
    assert "level=info" in page.lower()


def test_hostile_text_is_escaped_and_spelled_out(client: TestClient) -> None:
    csrf = log_in(client)
    hostile = (
        'ERROR <script>alert(1)</script> "><img src=x onerror=alert(2)> {{7*7}} '
        "\x1b[31mred\x1b[0m \u202eevil\u202c zero\u200bwidth NameError: name 'x' is not defined"
    )
    page = tried(client, csrf, hostile).text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "{{7*7}}" in page and "49" not in page
    results = page.split('class="trial"')[1]
    assert "\u202e" not in results and "\\u202e" in results
    assert "\x1b" not in results and "\u200b" not in results  # ANSI colour is dropped on parse


def test_empty_and_oversized_pastes_are_refused_in_the_page(client: TestClient) -> None:
    csrf = log_in(client)
    empty = tried(client, csrf, "   ")
    assert empty.status_code == 400 and "Paste some log text first" in empty.text
    big = "x\n" * 5_000
    response = tried(client, csrf, big)
    assert (
        response.status_code == 413 and "up to 200,000 characters and 5,000 lines" in response.text
    )
    assert response.text.count("x\n") >= 5_000  # what was pasted is still in the box


def test_the_playground_needs_the_csrf_token_and_a_login(client: TestClient) -> None:
    log_in(client)
    assert client.post("/patterns", data={"text": NAME_ERROR}).status_code == 403
    client.cookies.clear()
    response = client.post("/patterns", data={"text": NAME_ERROR}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
