"""CSRF tokens on cookie requests, the login throttle, and the login in front of docs and metrics."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.settings import Settings
from tests.conftest import ADMIN, post_lines, post_login

_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
EVIL = {"Origin": "http://evil.example"}


def log_in(client: TestClient) -> str:
    """Log in with the form and return the CSRF token the pages carry."""
    response = post_login(
        client, data={"username": ADMIN[0], "password": ADMIN[1]}, follow_redirects=False
    )
    assert response.status_code == 303
    found = _TOKEN.search(client.get("/").text)
    assert found is not None
    return found.group(1)


def logged_in(client: TestClient) -> bool:
    return client.get("/", follow_redirects=False).status_code == 200


def incident_id(client: TestClient, runtime: object) -> int:
    post_lines(client, "api", "NameError: name 'logger' is not defined\n")
    runtime.processor.process_all()  # type: ignore[attr-defined]
    [incident] = client.get("/api/incidents", auth=ADMIN).json()["incidents"]
    return int(incident["id"])


def test_pages_forms_carry_the_sessions_csrf_token(client: TestClient, runtime: object) -> None:
    token = log_in(client)
    number = incident_id(client, runtime)
    page = client.get(f"/incidents/{number}").text
    # The logout form, the actions beside the lead, the operator form.
    assert _TOKEN.findall(page) == [token, token, token]


def test_form_post_without_token_and_without_origin_is_refused(client: TestClient) -> None:
    log_in(client)
    response = client.post("/logout", data={})
    assert response.status_code == 403 and response.json()["error"] == "csrf"
    assert logged_in(client)


def test_form_post_with_a_wrong_token_is_refused(client: TestClient) -> None:
    log_in(client)
    assert client.post("/logout", data={"csrf_token": "0" * 64}).status_code == 403
    assert logged_in(client)


def test_operator_form_with_the_token_works_and_without_it_does_not(
    client: TestClient, runtime: object
) -> None:
    token = log_in(client)
    number = incident_id(client, runtime)
    path = f"/incidents/{number}/update"
    refused = client.post(path, data={"owner": "mallory"}, follow_redirects=False)
    assert refused.status_code == 403
    done = client.post(path, data={"owner": "ana", "csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    assert client.get(f"/api/incidents/{number}", auth=ADMIN).json()["owner"] == "ana"


def test_cross_origin_api_call_with_the_cookie_is_refused(client: TestClient) -> None:
    token = log_in(client)
    refused = client.post("/api/patterns/reload", headers=EVIL)
    assert refused.status_code == 403 and refused.json()["error"] == "csrf"
    accepted = client.post("/api/patterns/reload", headers={"X-CSRF-Token": token})
    assert accepted.status_code == 200


def test_basic_auth_api_calls_need_no_token(client: TestClient) -> None:
    assert client.post("/api/patterns/reload", auth=ADMIN).status_code == 200


def test_wrong_passwords_lock_the_user_out_even_for_the_right_one(client: TestClient) -> None:
    for _ in range(30):
        post_login(client, data={"username": ADMIN[0], "password": "guess"})
    response = post_login(client, data={"username": ADMIN[0], "password": ADMIN[1]})
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    assert "Too many failed logins" in response.text
    assert not logged_in(client)


def test_wrong_basic_passwords_are_throttled_too(client: TestClient) -> None:
    codes = [client.get("/api/sources", auth=(ADMIN[0], "guess")).status_code for _ in range(8)]
    assert codes[:5] == [401] * 5 and codes[-1] == 429
    assert client.get("/api/sources", auth=ADMIN).status_code == 429


@pytest.mark.parametrize("path", ["/docs", "/openapi.json", "/metrics"])
def test_docs_and_metrics_need_a_login(client: TestClient, path: str) -> None:
    refused = client.get(path)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")
    assert client.get(path, auth=ADMIN).status_code == 200
    log_in(client)
    assert client.get(path).status_code == 200


@pytest.fixture
def metrics_client(settings: Settings) -> Iterator[TestClient]:
    from service.app import create_app

    changed = settings.model_copy(update={"metrics_token": "scrape-me"})
    with TestClient(create_app(changed, start_processor=False)) as test_client:
        yield test_client


def test_metrics_take_the_metrics_token(metrics_client: TestClient) -> None:
    assert (
        metrics_client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    scraped = metrics_client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert scraped.status_code == 200 and "drainwatch" in scraped.text
    assert (
        metrics_client.get("/docs", headers={"Authorization": "Bearer scrape-me"}).status_code
        == 401
    )


def test_a_login_form_from_another_site_logs_nobody_in(client: TestClient) -> None:
    # No form cookie, no token: what another site's page can make a browser post.
    response = client.post(
        "/login", data={"username": ADMIN[0], "password": ADMIN[1]}, headers=EVIL
    )
    assert response.status_code == 403
    assert "did not come from drainwatch" in response.text
    assert not logged_in(client)


def test_a_login_form_token_without_its_cookie_is_refused(client: TestClient) -> None:
    found = _TOKEN.search(client.get("/login").text)
    assert found is not None
    client.cookies.clear()
    response = client.post(
        "/login",
        data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": found.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 403 and not logged_in(client)


def test_the_refused_login_form_can_be_sent_again_at_once(client: TestClient) -> None:
    refused = client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1]})
    found = _TOKEN.search(refused.text)
    assert refused.status_code == 403 and found is not None
    response = client.post(
        "/login",
        data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": found.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303 and logged_in(client)
