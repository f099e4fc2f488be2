"""Who may see what: logins for the API and pages, none for health."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN, post_login

PAGES = ["/", "/incidents", "/patterns", "/sources"]
API = ["/api/sources", "/api/incidents", "/api/patterns"]


def test_healthz_needs_no_login_and_reports_the_database(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["signatures"] >= 4


@pytest.mark.parametrize("path", API)
def test_api_without_credentials_is_401_with_a_basic_challenge(
    client: TestClient, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize("path", API)
def test_api_with_basic_credentials_answers(client: TestClient, path: str) -> None:
    assert client.get(path, auth=ADMIN).status_code == 200


def test_wrong_password_is_refused(client: TestClient) -> None:
    assert client.get("/api/incidents", auth=(ADMIN[0], "wrong")).status_code == 401


@pytest.mark.parametrize("path", PAGES)
def test_pages_redirect_to_login(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("path", PAGES)
def test_login_cookie_opens_the_pages(client: TestClient, path: str) -> None:
    response = post_login(
        client,
        data={"username": ADMIN[0], "password": ADMIN[1], "next": path},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == path
    page = client.get(path)
    assert page.status_code == 200 and "<html" in page.text


def test_login_does_not_redirect_off_site(client: TestClient) -> None:
    response = post_login(
        client,
        data={"username": ADMIN[0], "password": ADMIN[1], "next": "//evil.example"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_bad_login_shows_the_form_again(client: TestClient) -> None:
    response = post_login(client, data={"username": "admin", "password": "nope"})
    assert response.status_code == 401 and "Wrong user name or password" in response.text


def test_logout_ends_the_session(client: TestClient) -> None:
    post_login(client, data={"username": ADMIN[0], "password": ADMIN[1]})
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/").text)
    assert token is not None
    client.post("/logout", data={"csrf_token": token.group(1)})
    assert client.get("/", follow_redirects=False).status_code == 303


def test_unknown_incident_is_a_json_404(client: TestClient) -> None:
    response = client.get("/api/incidents/999", auth=ADMIN)
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_invalid_filter_is_a_json_422(client: TestClient) -> None:
    response = client.get("/api/incidents?status=bogus", auth=ADMIN)
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"
