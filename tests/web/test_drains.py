"""`POST /drains/{source}`: auth, limits, error answers, durability before 202."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.db import session_scope, utcnow
from service.sources import issue_token
from tests.conftest import ADMIN, INGEST_TOKEN, post_lines

LINE = "[2025-09-19 12:43:14 +0000] [27] [ERROR] NameError: name 'logger' is not defined\n"


def test_accepted_lines_are_in_the_spool_before_the_answer(
    client: TestClient, runtime: Any
) -> None:
    body = post_lines(client, "api", LINE * 3)
    assert body == {"accepted": 3, "rejected": 0, "reasons": {}}
    assert runtime.spool.pending_lines() == {"api": 3}


def test_put_is_accepted_too(client: TestClient) -> None:
    response = client.put(
        "/drains/api", content=LINE, headers={"Authorization": f"Bearer {INGEST_TOKEN}"}
    )
    assert response.status_code == 202


@pytest.mark.parametrize(
    "auth",
    [
        {"headers": {"Authorization": f"Bearer {INGEST_TOKEN}"}},
        {"headers": {"Authorization": "Basic ZHJhaW46dGVzdC1pbmdlc3QtdG9rZW4="}},
        {"params": {"token": INGEST_TOKEN}},
    ],
    ids=["bearer", "basic-password", "query"],
)
def test_every_token_carrier_is_accepted(client: TestClient, auth: dict[str, Any]) -> None:
    response = client.post("/drains/api", content=LINE, **auth)
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Digest x"},
    ],
    ids=["none", "wrong-token", "bad-basic", "other-scheme"],
)
def test_without_a_valid_token_nothing_is_stored(
    client: TestClient, runtime: Any, headers: dict[str, str]
) -> None:
    response = client.post("/drains/api", content=LINE, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert runtime.spool.pending_lines() == {}


def test_per_source_token_is_valid_only_for_its_source(client: TestClient, runtime: Any) -> None:
    with session_scope(runtime.engine) as session:
        token = issue_token(session, "billing", now=utcnow())
    ok = client.post("/drains/billing", content=LINE, headers={"Authorization": f"Bearer {token}"})
    other = client.post("/drains/api", content=LINE, headers={"Authorization": f"Bearer {token}"})
    assert (ok.status_code, other.status_code) == (202, 401)


def test_gzip_bodies_are_accepted(client: TestClient) -> None:
    response = client.post(
        "/drains/api",
        content=gzip.compress((LINE * 5).encode()),
        headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 202 and response.json()["accepted"] == 5


def test_gzip_bomb_is_refused_without_inflating_it(client: TestClient, runtime: Any) -> None:
    runtime.settings.max_decoded_bytes = 1_000_000
    bomb = gzip.compress(b"\0" * 50_000_000)
    response = client.post(
        "/drains/api",
        content=bomb,
        headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_body_over_the_wire_limit_is_413(client: TestClient, runtime: Any) -> None:
    runtime.settings.max_body_bytes = 1000
    response = client.post(
        "/drains/api", content=LINE * 100, headers={"Authorization": f"Bearer {INGEST_TOKEN}"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Content-Type": "application/xml"}, 415, "unsupported_media_type"),
        ({"Content-Encoding": "br"}, 415, "unsupported_encoding"),
        ({"Content-Encoding": "gzip"}, 400, "bad_encoding"),
    ],
)
def test_unusable_bodies_get_clear_errors(
    client: TestClient, headers: dict[str, str], status: int, code: str
) -> None:
    response = client.post(
        "/drains/api", content=LINE, headers={"Authorization": f"Bearer {INGEST_TOKEN}", **headers}
    )
    assert response.status_code == status
    assert response.json()["error"] == code and response.json()["detail"]


@pytest.mark.parametrize("body", [b"", b"\n\n\r\n", b"\x00\x00"])
def test_body_without_lines_is_400(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/drains/api", content=body, headers={"Authorization": f"Bearer {INGEST_TOKEN}"}
    )
    assert response.status_code == 400 and response.json()["error"] == "empty"


def test_bad_source_name_is_400(client: TestClient) -> None:
    response = client.post(
        "/drains/..%2F..", content=LINE, headers={"Authorization": f"Bearer {INGEST_TOKEN}"}
    )
    assert response.status_code in (400, 404)


@pytest.mark.parametrize(
    "body",
    [
        bytes(range(256)) * 4,
        b"\xff\xfe" + "日本語".encode("utf-16-le"),
        b"\x1b[31mred\x1b[0m\n" * 3,
        b"a" * 200_000,
    ],
    ids=["all-bytes", "utf16", "ansi", "one-huge-line"],
)
def test_hostile_bytes_never_yield_a_500(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/drains/api", content=body, headers={"Authorization": f"Bearer {INGEST_TOKEN}"}
    )
    assert response.status_code == 202, response.text


def test_rejections_are_counted_in_metrics(client: TestClient) -> None:
    client.post("/drains/api", content=LINE)
    metrics = client.get("/metrics", auth=ADMIN).text
    assert 'drainwatch_ingest_rejected_total{error="unauthorized"} 1.0' in metrics


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "application/octet-stream", "text/plain; charset=utf-8"],
)
def test_plain_curl_bodies_are_read_as_text(client: TestClient, content_type: str) -> None:
    response = client.post(
        "/drains/api",
        content=LINE,
        headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": content_type},
    )
    assert response.status_code == 202 and response.json()["accepted"] == 1


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", "0001-01-01T00:00:00+01:00 ERROR boom\n9999-12-31T23:59:59-01:00 ERROR x\n"),
        (
            "application/json",
            '[{"time": "0001-01-01T00:00:00+01:00", "message": "a"},'
            ' {"time": "9999-12-31T23:59:59-01:00", "message": "b"}]',
        ),
        (
            "application/x-ndjson",
            '{"timestamp": "9999-12-31T23:59:59-01:00", "msg": "a"}\n'
            '{"timestamp": "0001-01-01T00:00:00+01:00", "msg": "b"}\n',
        ),
        (
            "application/logplex-1",
            "81 <190>1 9999-12-31T23:59:59-01:00 host app web.1 - State changed from up to down X",
        ),
    ],
    ids=["text", "json", "ndjson", "logplex"],
)
def test_times_at_the_edges_of_the_calendar_never_yield_a_500(
    client: TestClient, content_type: str, body: str
) -> None:
    response = client.post(
        "/drains/api",
        content=body.encode(),
        headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": content_type},
    )
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["accepted"] >= 1
    # Every line keeps its text; the times it carried are counted as ignored, once a line.
    assert answer["times_ignored"] == body.count("0001-01-01") + body.count("9999-12-31")
    metrics = client.get("/metrics", auth=ADMIN).text
    assert f"drainwatch_times_ignored_total {float(answer['times_ignored'])}" in metrics


def test_a_sane_time_is_not_counted_as_ignored(client: TestClient) -> None:
    response = client.post(
        "/drains/api",
        content=b"2026-12-03T10:00:00Z ERROR boom\n",
        headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": "text/plain"},
    )
    assert response.status_code == 202 and "times_ignored" not in response.json()
