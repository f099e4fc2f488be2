"""The access log never holds an ingest token sent as `?token=`, nor other credentials."""

from __future__ import annotations

import logging
import time
import urllib.request
from pathlib import Path

from service.ingest.redact import REDACTED, redact_url
from service.web.accesslog import ACCESS_LOGGER, RedactingFilter, install_access_log_filter
from tests.conftest import INGEST_TOKEN
from tests.live_server import live_server


def _uvicorn_record(target: str) -> logging.LogRecord:
    # uvicorn's access record: (client, method, target, HTTP version, status).
    args = ("10.0.0.1:5234", "POST", target, "1.1", 202)
    return logging.LogRecord(
        ACCESS_LOGGER, logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', args, None
    )


def test_access_record_loses_the_query_token() -> None:
    record = _uvicorn_record("/drains/api?token=plainword&source=x")
    assert RedactingFilter().filter(record)
    assert record.getMessage() == (
        f'10.0.0.1:5234 - "POST /drains/api?token={REDACTED}&source=x HTTP/1.1" 202'
    )


def test_redact_url_replaces_credential_parameters_of_any_shape() -> None:
    assert redact_url("/x?a=1&api_key=k&sig=abcdefghijkl") == (
        f"/x?a=1&api_key={REDACTED}&sig={REDACTED}"
    )
    assert redact_url("/incidents?status=open&page=2") == "/incidents?status=open&page=2"


def test_filter_is_installed_once() -> None:
    install_access_log_filter()
    install_access_log_filter()
    filters = logging.getLogger(ACCESS_LOGGER).filters
    assert sum(isinstance(existing, RedactingFilter) for existing in filters) == 1


def test_served_access_log_holds_no_query_token(tmp_path: Path) -> None:
    with live_server(tmp_path) as server:
        request = urllib.request.Request(
            f"{server.base}/drains/api?token={INGEST_TOKEN}",
            data=b"hello from the access log test\n",
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
        deadline = time.monotonic() + 10
        while "/drains/api?token=" not in server.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        logged = server.log.read_text()
    assert f"/drains/api?token={REDACTED}" in logged
    assert INGEST_TOKEN not in logged
