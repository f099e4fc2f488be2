"""A CORS error in the browser's log and a 500 in the server's, seconds apart (seed 000)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cli import main

API = '2025-09-12 10:15:02,100 - uvicorn.access - INFO:     10.0.0.7:0 - "GET /api/v1/admin/feature-flags HTTP/1.1" 500 Internal Server Error\n'
BROWSER = (
    "2025-09-12T10:15:03.900Z ERROR Access to fetch at 'https://marketedge-platform.onrender.com/api/v1/admin/feature-flags' "
    "from origin 'https://app.zebra.associates' has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header "
    "is present on the requested resource.\n"
)


def test_the_cors_incident_names_the_server_error_behind_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "api.log").write_text(API)
    (tmp_path / "frontend.log").write_text(BROWSER)
    assert (
        main(
            [
                "scan",
                str(tmp_path / "api.log"),
                str(tmp_path / "frontend.log"),
                "--format",
                "markdown",
            ]
        )
        == 0
    )
    report = capsys.readouterr().out
    assert "masked-server-error" in report
    assert "500 on api for GET /api/v1/admin/feature-flags" in report


def test_a_cors_error_alone_says_nothing_about_a_500(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "frontend.log").write_text(BROWSER)
    assert main(["scan", str(tmp_path / "frontend.log"), "--format", "json"]) == 0
    [incident] = json.loads(capsys.readouterr().out)["incidents"]
    assert incident["signature"] == "http.cors-blocked"
    main(["scan", str(tmp_path / "frontend.log"), "--format", "markdown"])
    assert "masked-server-error" not in capsys.readouterr().out
