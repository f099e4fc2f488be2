"""The last refused drain request per source: recorded from the answer, bounded whatever is sent."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.db import utcnow
from service.web.refusals import Refusal, Refusals
from tests.conftest import INGEST_TOKEN


def test_only_refused_drain_requests_of_valid_names_are_kept(client: TestClient) -> None:
    refusals: Refusals = client.app.state.refusals  # type: ignore[attr-defined]
    headers = {"Content-Type": "text/plain"}
    client.post("/drains/api", content=b"a line\n", headers=headers)
    latest = refusals.latest("api")
    assert latest is not None and (latest.status, latest.code) == (401, "unauthorized")
    assert "send the ingest token" in latest.detail
    ok = client.post(
        "/drains/web",
        content=b"a line\n",
        headers={**headers, "Authorization": f"Bearer {INGEST_TOKEN}"},
    )
    assert ok.status_code == 202 and refusals.latest("web") is None
    wrong_type = client.post(
        "/drains/web",
        content=b"a line\n",
        headers={"Content-Type": "image/png", "Authorization": f"Bearer {INGEST_TOKEN}"},
    )
    assert wrong_type.status_code == 415
    latest = refusals.latest("web")
    assert latest is not None and latest.status == 415
    client.post("/drains/bad%20name", content=b"x", headers=headers)
    assert refusals.latest("bad name") is None


def test_the_oldest_names_go_first() -> None:
    refusals = Refusals(capacity=2)
    for name in ("a", "b", "c"):
        refusals.record(name, Refusal(utcnow(), 401, "unauthorized", ""))
    assert refusals.latest("a") is None
    assert refusals.latest("b") is not None and refusals.latest("c") is not None
