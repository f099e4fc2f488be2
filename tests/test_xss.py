"""XSS: a payload corpus in every log-derived field (messages, captured fields, exception text,
endpoints, instance names, the source, JSON and logplex envelopes); every page and report rendered,
and no element or attribute of the payloads comes out of them. Reports are also rendered as a
markdown viewer with raw HTML allowed would (GitHub keeps much HTML): still nothing."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient
from markdown_it import MarkdownIt

from tests.conftest import ADMIN, INGEST_TOKEN, post_lines

MARK = "data-xss"
PAYLOADS = [
    f"<script {MARK}>alert(1)</script>",
    f'<img {MARK} src=x onerror="alert(2)">',
    f"<svg {MARK} onload=alert(3)>",
    f'"><iframe {MARK} src="javascript:alert(4)"></iframe>',
    f"'><a {MARK} href=javascript:alert(5)>x</a>",
    f"</textarea></pre></code><b {MARK}>x</b>",
    f"```\n<div {MARK}>fence break</div>\n```",
    f"[click](javascript:alert(6)) ![i](x onerror=alert(7)) <details {MARK} open ontoggle=alert(8)>",
]


def log_text(payload: str) -> str:
    flat = payload.replace("\n", " ")
    return "\n".join(
        [
            f"2025-09-19 12:43:14,551 ERROR app: NameError: name '{flat}' is not defined",
            "2025-09-19 12:43:14,600 ERROR app: Exception in ASGI application",
            "Traceback (most recent call last):",
            f'  File "/app/{flat}.py", line 3, in handler_{flat}',
            f"    run({flat})",
            f"sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; {flat}",
            f'10.0.0.1 - - [19/Sep/2025:12:43:15 +0000] "POST /api/{flat} HTTP/1.1" 500 12',
            f"2025-09-19 12:43:16,000 WARNING [DB_DOWN] op={flat} try=1/5 sleep=2s reason={flat}",
            f"2025-09-19 12:43:17,000 ERROR worker: payment {flat} failed for order 12",
            f'at=error code=H12 desc="Request timeout" method=GET path="/{flat}" status=503',
        ]
    )


class Elements(HTMLParser):
    """Every start tag and its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def injected(html: str) -> list[str]:
    """Return the elements and attributes that came from a payload."""
    parser = Elements()
    parser.feed(html)
    bad = []
    for tag, attrs in parser.found:
        names = {name for name, _ in attrs}
        values = [value or "" for _, value in attrs]
        if MARK in names or tag in ("script", "iframe", "object", "embed"):
            bad.append(f"<{tag} {attrs}>")
        bad += [f"<{tag} {name}=...>" for name in names if name.startswith("on")]
        bad += [f"<{tag} ...={v!r}>" for v in values if v.strip().lower().startswith("javascript:")]
    return bad


def test_no_payload_becomes_an_element_or_attribute_anywhere(
    client: TestClient, runtime: Any
) -> None:
    for number, payload in enumerate(PAYLOADS):
        post_lines(client, "api", log_text(payload))
        events = [
            {"message": line, "dyno": f"web.{number}{payload[:20]}"}
            for line in log_text(payload).splitlines()
        ]
        response = client.post(
            "/drains/json-api",
            content=json.dumps(events).encode(),
            headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": "application/json"},
        )
        assert response.status_code == 202, response.text
    runtime.processor.process_all()
    incidents = client.get("/api/incidents", auth=ADMIN).json()["incidents"]
    assert len(incidents) >= 5
    pages = ["/", "/incidents", "/sources", "/patterns", "/incidents?status=open"]
    pages += [f"/incidents/{incident['id']}" for incident in incidents]
    raw_markdown = MarkdownIt("commonmark", {"html": True})
    problems: dict[str, list[str]] = {}
    for path in pages:
        response = client.get(path, auth=ADMIN)
        assert response.status_code == 200, path
        if found := injected(response.text):
            problems[path] = found
    for incident in incidents:
        report = client.get(f"/incidents/{incident['id']}/report.md", auth=ADMIN).text
        if found := injected(raw_markdown.render(report)):
            problems[f"report {incident['id']}"] = found
    assert problems == {}
    # The payloads did reach the pages, escaped: the test looked where they are.
    overview = client.get(f"/incidents/{incidents[0]['id']}", auth=ADMIN).text
    assert "&lt;" in overview
