"""End to end: the secret corpus posted to a drain is found nowhere afterwards, byte for byte.

Not in the spool, the database files (`-wal` included), the pages, the JSON API, the reports or
`/metrics`. Each shape rides on an exception line of its own, so that its line is kept as an
incident's evidence; a marker beside each secret proves the line was stored and searched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from service.settings import Settings
from tests.conftest import ADMIN, INGEST_TOKEN, post_lines
from tests.secret_corpus import SHAPES, Shape

HEADER = "2025-10-09T07:40:00.000000+00:00 app[web.1]: "


def _exception(shape: Shape) -> str:
    return "".join(part.capitalize() for part in shape.name.split("-")) + "Error"


def _lines(shape: Shape) -> list[str]:
    first, *rest = shape.text.split("\n")
    return [f"app.{_exception(shape)}: marker-{shape.name} {first}", *rest]


def _needles(secret: str) -> set[bytes]:
    """Return the secret as stored raw or JSON-escaped, and its tail (a cut token's rest)."""
    forms = {secret, json.dumps(secret)[1:-1]}
    if len(secret) > 24:
        forms.add(secret[-16:])
    return {form.encode() for form in forms}


def _leaked(blob: bytes) -> list[str]:
    return sorted(
        shape.name
        for shape in SHAPES
        for secret in shape.secrets
        if any(needle in blob for needle in _needles(secret))
    )


def _files(directory: Path, name: str) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(directory.glob(f"{name}*")))


def _post_json_lines(client: TestClient, source: str, lines: list[str]) -> None:
    body = "\n".join(json.dumps({"message": line, "host": "web.2"}) for line in lines)
    response = client.post(
        f"/drains/{source}",
        content=body.encode(),
        headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 202, response.text


def _everything_served(client: TestClient) -> tuple[bytes, int]:
    incidents = client.get("/api/incidents", auth=ADMIN).json()["incidents"]
    paths = ["/", "/incidents", "/sources", "/patterns", "/metrics"]
    paths += ["/api/incidents", "/api/sources", "/api/patterns"]
    paths += ["/api/sources/text", "/api/sources/ndjson"]
    for incident in incidents:
        number = incident["id"]
        paths += [f"/incidents/{number}", f"/api/incidents/{number}"]
        paths += [f"/incidents/{number}/report.md"]
    # Outages (CONTRACT §4) are served only where that part has been built.
    outages = client.get("/api/outages", auth=ADMIN)
    if outages.status_code == 200:
        paths += ["/outages", "/api/outages"]
        for outage in outages.json()["outages"]:
            number = outage["id"]
            paths += [f"/outages/{number}", f"/api/outages/{number}"]
            paths += [f"/outages/{number}/report.md"]
    served = b""
    for path in paths:
        response = client.get(path, auth=ADMIN)
        assert response.status_code == 200, (path, response.status_code)
        served += response.content
    return served, len(incidents)


def test_no_secret_of_the_corpus_is_stored_or_served(
    client: TestClient, runtime: Any, settings: Settings, tmp_path: Path
) -> None:
    lines = [line for shape in SHAPES for line in _lines(shape)]
    post_lines(client, "text", "".join(f"{HEADER}{line}\n" for line in lines))
    _post_json_lines(client, "ndjson", lines)
    spool = _files(settings.spool_dir, "spool.sqlite3")
    assert b"marker-pem-rsa" in spool
    assert _leaked(spool) == []

    runtime.processor.process_all()

    served, incidents = _everything_served(client)
    assert incidents >= len(SHAPES)
    assert _leaked(served) == []
    assert _leaked(_files(settings.spool_dir, "spool.sqlite3")) == []
    if settings.database_url.startswith("sqlite"):
        database = _files(tmp_path, "drainwatch.db")
        assert all(f"marker-{shape.name}".encode() in database for shape in SHAPES)
        assert _leaked(database) == []
