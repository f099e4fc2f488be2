"""A browser asking for a page gets an HTML page when refused or lost; the JSON API, the ingest
routes and every client that does not ask for HTML keep the JSON of CONTRACT §4. A refused form
is shown again with what was typed, and nothing is changed."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN, INGEST_TOKEN
from tests.web.test_guard import incident_id, log_in

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize(
    ("path", "status"), [("/incidents/9999", 404), ("/nope", 404), ("/incidents/abc", 422)]
)
def test_a_browser_gets_a_page_and_a_script_gets_json(
    client: TestClient, path: str, status: int
) -> None:
    page = client.get(path, auth=ADMIN, headers=HTML)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert '<header class="top">' in page.text and "notice-error" in page.text
    plain = client.get(path, auth=ADMIN)
    assert plain.status_code == status
    assert plain.json()["error"] in ("not_found", "invalid_request")


def test_a_missing_page_does_not_echo_markup_from_its_url(client: TestClient) -> None:
    page = client.get("/%3Cscript%3Ealert(1)%3C/script%3E", headers=HTML)
    assert page.status_code == 404
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text


@pytest.mark.parametrize("path", ["/api/incidents/9999", "/api/nope", "/api/outages/9999"])
def test_the_api_answers_json_even_to_a_browser(client: TestClient, path: str) -> None:
    response = client.get(path, auth=ADMIN, headers=HTML)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_ingest_answers_json_even_to_a_browser(client: TestClient) -> None:
    refused = client.post(
        "/drains/api", content=b"x\n", headers={**HTML, "Content-Type": "text/plain"}
    )
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    odd = client.post(
        "/drains/api",
        content=b"x",
        headers={**HTML, "Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": "image/png"},
    )
    assert odd.status_code == 415 and "error" in odd.json()


def test_a_stale_form_is_its_page_again_with_what_was_typed_and_nothing_changed(
    client: TestClient, runtime: object
) -> None:
    log_in(client)
    number = incident_id(client, runtime)
    form = {
        "csrf_token": "0" * 64,
        "return_to": f"/incidents/{number}",
        "owner": "ana <b>",
        "business_impact": "checkout down",
        "note": "looked at it",
        "status": "acknowledged",
    }
    page = client.post(f"/incidents/{number}/update", data=form, headers=HTML)
    assert page.status_code == 403
    assert "security token no longer matches" in page.text
    # The guard's own answers pass through the security headers too.
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert 'value="ana &lt;b&gt;"' in page.text
    assert ">checkout down</textarea>" in page.text and ">looked at it</textarea>" in page.text
    incident = client.get(f"/api/incidents/{number}", auth=ADMIN).json()
    assert incident["status"] == "open" and not incident["owner"]
    assert not [row for row in incident["timeline"] if row["kind"] == "note"]


def test_a_refused_form_never_returns_to_another_site(client: TestClient, runtime: object) -> None:
    log_in(client)
    number = incident_id(client, runtime)
    form = {"csrf_token": "0", "return_to": "//evil.example/x", "owner": "ana"}
    page = client.post(f"/incidents/{number}/update", data=form, headers=HTML)
    assert page.status_code == 403
    assert "Send again" in page.text and ">ana</textarea>" in page.text
    assert page.headers["x-frame-options"] == "DENY"


def test_a_refused_form_never_writes_a_typed_password_into_the_page(client: TestClient) -> None:
    log_in(client)
    form = {"csrf_token": "0" * 64, "username": "bea", "password": "s3cret-typed-pw", "admin": "on"}
    page = client.post("/users", data=form, headers=HTML)
    assert page.status_code == 403
    assert "s3cret-typed-pw" not in page.text
    assert client.get("/api/sources", auth=ADMIN).status_code == 200
    users = client.get("/users", auth=ADMIN, headers=HTML).text
    assert "bea" not in users


def test_a_refused_post_to_a_page_that_needs_a_login_still_redirects(
    client: TestClient, runtime: object
) -> None:
    log_in(client)
    number = incident_id(client, runtime)
    client.cookies.clear()
    client.cookies.set("drainwatch_session", "not-a-session")
    form = {"csrf_token": "0", "return_to": f"/incidents/{number}", "owner": "ana"}
    page = client.post(
        f"/incidents/{number}/update", data=form, headers=HTML, follow_redirects=False
    )
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_origin_null_with_the_token_is_accepted(client: TestClient, runtime: object) -> None:
    token = log_in(client)
    number = incident_id(client, runtime)
    done = client.post(
        f"/incidents/{number}/update",
        data={"csrf_token": token, "status": "acknowledged"},
        headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert client.get(f"/api/incidents/{number}", auth=ADMIN).json()["status"] == "acknowledged"


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://evil.example"},
    ],
)
def test_another_sites_post_is_refused_even_with_the_token(
    client: TestClient, runtime: object, headers: dict[str, str]
) -> None:
    token = log_in(client)
    number = incident_id(client, runtime)
    refused = client.post(
        f"/incidents/{number}/update",
        data={"csrf_token": token, "status": "acknowledged"},
        headers=headers,
    )
    assert refused.status_code == 403 and refused.json()["error"] == "csrf"
    assert client.get(f"/api/incidents/{number}", auth=ADMIN).json()["status"] == "open"


def test_an_invalid_form_is_the_page_again_with_what_was_typed(
    client: TestClient, runtime: object
) -> None:
    token = log_in(client)
    number = incident_id(client, runtime)
    form = {"csrf_token": token, "owner": "x" * 201, "note": "kept"}
    page = client.post(f"/incidents/{number}/update", data=form, headers=HTML)
    assert page.status_code == 422
    assert "Nothing was changed" in page.text and ">kept</textarea>" in page.text
    assert not client.get(f"/api/incidents/{number}", auth=ADMIN).json()["owner"]
    plain = client.post(f"/incidents/{number}/update", data=form)
    assert plain.status_code == 422 and plain.json()["error"] == "invalid_request"


def test_a_note_goes_on_the_timeline_once(client: TestClient, runtime: object) -> None:
    token = log_in(client)
    number = incident_id(client, runtime)
    path = f"/incidents/{number}/update"
    client.post(path, data={"csrf_token": token, "note": "first look"})
    client.post(path, data={"csrf_token": token, "owner": "ana"})
    incident = client.get(f"/api/incidents/{number}", auth=ADMIN).json()
    notes = [row["text"] for row in incident["timeline"] if row["kind"] == "note"]
    assert notes == ["admin: first look"] and incident["note"] == "first look"
    page = client.get(f"/incidents/{number}").text
    assert re.search(r'name="note"[^>]*>\s*</textarea>', page), "the note box starts empty"


def test_a_stale_form_of_the_outage_page_is_the_outage_page_again(
    client: TestClient, runtime: object
) -> None:
    log_in(client)
    number = incident_id(client, runtime)
    outage = client.get(f"/api/incidents/{number}", auth=ADMIN).json()["outage_id"]
    form = {"csrf_token": "0", "return_to": f"/outages/{outage}", "note": "paged the db team"}
    page = client.post(f"/incidents/{number}/update", data=form, headers=HTML)
    assert page.status_code == 403
    assert f"Outage #{outage}" in page.text and 'id="refused"' in page.text
    assert ">paged the db team</textarea>" in page.text


def test_another_sites_refused_post_is_neither_filled_in_nor_offered_again(
    client: TestClient, runtime: object
) -> None:
    token = log_in(client)
    number = incident_id(client, runtime)
    cross = {**HTML, "Sec-Fetch-Site": "cross-site"}
    form = {"csrf_token": token, "return_to": f"/incidents/{number}", "owner": "mallory"}
    page = client.post(f"/incidents/{number}/update", data=form, headers=cross)
    assert page.status_code == 403 and "another site" in page.text
    assert "mallory" not in page.text
    bare = client.post("/logout", data={"csrf_token": token, "x": "mallory"}, headers=cross)
    assert bare.status_code == 403 and "another site" in bare.text
    assert "Send again" not in bare.text and "mallory" not in bare.text
    assert logged_in_still(client)


def logged_in_still(client: TestClient) -> bool:
    return client.get("/", follow_redirects=False).status_code == 200
