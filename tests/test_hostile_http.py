"""Generated hostile requests against the whole app: never a 5xx (but the 503 the contract allows
for a spool that cannot take a batch), and the processor stores or quarantines everything it was
given. `bench/fuzz.py` runs the same strategies for 10,000 requests."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.app import create_app
from service.settings import Settings
from tests.conftest import ADMIN, INGEST_TOKEN
from tests.hostile import HostileRequest, ingest_requests, read_requests

pytestmark = pytest.mark.slow


def send(client: TestClient, request: HostileRequest) -> int:
    auth = ADMIN if request.method == "GET" else None
    headers = {name: value.encode("utf-8") for name, value in request.headers.items()}
    response = client.request(
        request.method, request.path, headers=headers, content=request.body, auth=auth
    )
    return response.status_code


@pytest.mark.timeout(600)
def test_hostile_requests_never_answer_a_server_error(settings: Settings) -> None:
    app = create_app(settings, start_processor=False)
    failures: list[str] = []
    with TestClient(app, raise_server_exceptions=False) as client:
        runtime: Any = app.state.runtime

        @settings_for_fuzz
        @given(st.one_of(ingest_requests(INGEST_TOKEN), read_requests()))
        def check(request: HostileRequest) -> None:
            status = send(client, request)
            if status >= 500:
                failures.append(f"{status}: {request!r}")

        check()
        runtime.processor.process_all()
        sources = client.get("/api/sources", auth=ADMIN).json()["sources"]
    assert failures == []
    for source in sources:
        accounted = source["lines_processed"] + source["lines_quarantined"]
        assert source["lines_received"] == accounted, source


settings_for_fuzz = settings(
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
