"""`/sources`: create a source and see its token once, rotate and revoke it, from the pages."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from service.models import Source
from tests.conftest import ADMIN, INGEST_TOKEN, post_lines
from tests.web.page_forms import READER, add_reader, log_in, shown_token

LINE = "2025-09-19 12:55:03,100 - app.auth - ERROR - NameError: name 'logger' is not defined\n"


def send(client: TestClient, token: str, name: str = "billing") -> httpx.Response:
    return client.post(
        f"/drains/{name}",
        content=LINE.encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
    )


def create(client: TestClient, csrf: str, name: str = "billing") -> httpx.Response:
    return client.post("/sources", data={"name": name, "csrf_token": csrf})


def stored(runtime: Any, name: str) -> Source | None:
    with Session(runtime.engine) as session:
        return session.exec(select(Source).where(Source.name == name)).first()


def test_the_empty_page_says_how_to_add_a_drain(client: TestClient) -> None:
    log_in(client)
    page = client.get("/sources").text
    assert "No sources yet" in page and 'action="/sources"' in page
    assert "http://drainwatch.test/drains/NAME" in page


def test_create_shows_the_token_once_with_configs_filled_in(
    client: TestClient, runtime: Any
) -> None:
    csrf = log_in(client)
    response = create(client, csrf)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    token = shown_token(response.text)
    assert f"heroku drains:add &#34;http://drain:{token}@drainwatch.test/drains/billing&#34;" in (
        response.text
    )
    assert f"Authorization Bearer {token}" in response.text  # Fluent Bit
    assert "will not be shown again" in response.text
    assert send(client, token).status_code == 202
    later = client.get("/sources/billing").text
    assert token not in later and "TOKEN" in later
    source = stored(runtime, "billing")
    assert source is not None and source.token_hash and token not in source.token_hash


def test_a_refused_create_keeps_the_name_and_says_why(client: TestClient, runtime: Any) -> None:
    csrf = log_in(client)
    bad = create(client, csrf, "no spaces")
    assert bad.status_code == 400
    assert 'value="no spaces"' in bad.text and "a source name is 1-100 characters" in bad.text
    token = shown_token(create(client, csrf).text)
    again = create(client, csrf)
    assert again.status_code == 409
    assert "already exists" in again.text and "rotate it" in again.text
    assert 'value="billing"' in again.text and "dw_" not in again.text
    assert send(client, token).status_code == 202  # the token was left alone


def test_a_post_without_the_csrf_token_changes_nothing(client: TestClient, runtime: Any) -> None:
    csrf = log_in(client)
    response = client.post("/sources", data={"name": "billing"})
    assert response.status_code == 403 and response.json()["error"] == "csrf"
    assert stored(runtime, "billing") is None
    token = shown_token(create(client, csrf).text)
    for action in ("rotate", "revoke"):
        refused = client.post(f"/sources/billing/{action}", data={"confirm": "yes"})
        assert refused.status_code == 403
    assert send(client, token).status_code == 202


def test_only_an_admin_changes_sources(client: TestClient, runtime: Any) -> None:
    csrf = log_in(client)
    token = shown_token(create(client, csrf).text)
    add_reader(runtime.engine)
    client.cookies.clear()
    csrf = log_in(client, READER)
    page = client.get("/sources").text
    assert 'action="/sources"' not in page and "Only an admin" in page
    refused = create(client, csrf, "payments")
    assert refused.status_code == 403
    assert "Only an admin" in refused.text and 'value="payments"' not in refused.text
    assert stored(runtime, "payments") is None
    for action in ("rotate", "revoke"):
        response = client.post(
            f"/sources/billing/{action}", data={"confirm": "yes", "csrf_token": csrf}
        )
        assert response.status_code == 403 and "Only an admin" in response.text
    assert send(client, token).status_code == 202
    assert "/rotate" not in client.get("/sources/billing").text


def test_rotate_needs_the_box_ticked(client: TestClient) -> None:
    csrf = log_in(client)
    token = shown_token(create(client, csrf).text)
    response = client.post("/sources/billing/rotate", data={"csrf_token": csrf})
    assert response.status_code == 400 and "Tick the box" in response.text
    assert send(client, token).status_code == 202


def test_after_rotate_the_old_token_is_refused_even_by_the_cache(
    client: TestClient, runtime: Any
) -> None:
    csrf = log_in(client)
    old = shown_token(create(client, csrf).text)
    assert send(client, old).status_code == 202  # cached now
    response = client.post("/sources/billing/rotate", data={"confirm": "yes", "csrf_token": csrf})
    assert response.status_code == 200 and "previous one is refused" in response.text
    new = shown_token(response.text)
    assert new != old
    # With the database skipped, the cache alone decides: the rotation told it at once.
    client.app.state.tokens.mark_down()  # type: ignore[attr-defined]
    assert send(client, old).status_code == 503
    assert send(client, new).status_code == 202
    client.app.state.tokens.recheck_seconds = 0.0  # type: ignore[attr-defined]
    client.app.state.tokens.mark_down()  # type: ignore[attr-defined]
    assert send(client, old).status_code == 401


def test_revoke_keeps_the_incidents_and_refuses_the_token(client: TestClient, runtime: Any) -> None:
    csrf = log_in(client)
    token = shown_token(create(client, csrf).text)
    assert send(client, token).status_code == 202
    runtime.processor.process_all()
    response = client.post("/sources/billing/revoke", data={"confirm": "yes", "csrf_token": csrf})
    assert response.status_code == 200 and "incidents and counters are kept" in response.text
    assert send(client, token).status_code == 401
    assert len(client.get("/api/incidents?source=billing", auth=ADMIN).json()["incidents"]) == 1
    assert "Issue a token" in client.get("/sources/billing").text


def test_the_list_shows_spool_depth_and_the_last_refused_request(
    client: TestClient, runtime: Any
) -> None:
    csrf = log_in(client)
    create(client, csrf)
    post_lines(client, "api", LINE * 3)
    assert send(client, "dw_wrong").status_code == 401
    listed = {s["name"]: s for s in client.get("/api/sources", auth=ADMIN).json()["sources"]}
    assert listed["api"]["lines_waiting"] == 3
    page = client.get("/sources").text
    assert "drain request refused: 401 unauthorized" in page
    runtime.processor.process_all()
    listed = {s["name"]: s for s in client.get("/api/sources", auth=ADMIN).json()["sources"]}
    assert listed["api"]["lines_waiting"] == 0 and listed["api"]["lines_processed"] == 3


def test_an_unknown_source_page_is_404(client: TestClient) -> None:
    csrf = log_in(client)
    assert client.get("/sources/nope").status_code == 404
    response = client.post("/sources/nope/rotate", data={"confirm": "yes", "csrf_token": csrf})
    assert response.status_code == 404


def test_the_pages_need_a_login(client: TestClient) -> None:
    response = client.get("/sources/billing", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_a_hostile_refusal_detail_is_shown_inert(client: TestClient) -> None:
    log_in(client)
    hostile = 'text/x"><script>alert(1)</script>'
    response = client.post(
        "/drains/api",
        content=b"a line\n",
        headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": hostile},
    )
    assert response.status_code == 415 and "<script>" in response.json()["detail"]
    post_lines(client, "api", LINE)
    for path in ("/sources", "/sources/api"):
        page = client.get(path).text
        assert "drain request refused: 415" in page
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
