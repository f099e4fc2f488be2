"""The bundled threshold and absence signatures, end to end through `scan`."""

from __future__ import annotations

import json

import pytest

from service.cli import main
from tests.conftest import ROOT

LOG = ROOT / "sample_logs" / "scenarios" / "startup_hang_and_5xx_burst" / "input.log"


def test_startup_hang_burst_and_client_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(LOG), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)["incidents"]
    summary = sorted(
        (i["signature"], json.dumps(i["fields"], sort_keys=True), i["occurrences"]) for i in found
    )
    assert summary == [
        ("app.startup-hang", '{"instance": "27"}', 1),
        ("app.startup-hang", '{"timeout_ms": "60000"}', 1),
        ("http.server-errors", '{"method": "GET", "path": "/api/x", "status": "500"}', 12),
    ]


def test_fewer_5xx_than_the_threshold_raise_nothing(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        f'2025-09-18 14:00:{s:02d},000 - uvicorn.access - INFO:     10.0.0.1:0 - "GET /x HTTP/1.1" 500 Internal Server Error'
        for s in range(9)
    ]
    path = tmp_path / "few.log"  # type: ignore[operator]
    path.write_text("\n".join(lines) + "\n")
    assert main(["scan", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["incidents"] == []


def test_heroku_dyno_back_up_resolves_the_crash(capsys: pytest.CaptureFixture[str]) -> None:
    log = ROOT / "sample_logs" / "scenarios" / "heroku_crash_recovered" / "input.log"
    assert main(["scan", str(log), "--format", "json"]) == 0
    found = {i["signature"]: i for i in json.loads(capsys.readouterr().out)["incidents"]}
    crash = found["heroku.app-crashed-state"]
    assert (crash["status"], crash["resolution"], crash["fields"]) == (
        "resolved",
        "recovered",
        {"instance": "web.1", "status": "1"},
    )
    assert found["python.import-error"]["fields"]["module"] == "psycopg2"
