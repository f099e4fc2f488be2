"""`/users`: an admin adds users, resets passwords and removes users; never the last admin."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ADMIN
from tests.web.page_forms import READER, add_reader, log_in

MAYA = ("maya", "maya's long password")


def can_use_api(client: TestClient, credentials: tuple[str, str]) -> bool:
    return client.get("/api/sources", auth=credentials).status_code == 200


def test_an_admin_adds_a_user_who_can_then_log_in(client: TestClient) -> None:
    csrf = log_in(client)
    response = client.post(
        "/users",
        data={"name": MAYA[0], "password": MAYA[1], "admin": "yes", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert "User maya added." in page and "<td>admin</td>" in page
    assert can_use_api(client, MAYA)


def test_a_refused_add_keeps_the_name_never_the_password_and_says_why(
    client: TestClient,
) -> None:
    csrf = log_in(client)
    short = client.post(
        "/users", data={"name": "maya", "password": "short", "admin": "yes", "csrf_token": csrf}
    )
    assert short.status_code == 400 and "at least 8 characters" in short.text
    assert 'value="maya"' in short.text and "checked" in short.text
    assert 'value="short"' not in short.text
    taken = client.post("/users", data={"name": "admin", "password": MAYA[1], "csrf_token": csrf})
    assert taken.status_code == 400 and "already exists" in taken.text
    assert not can_use_api(client, ("maya", "short"))


def test_a_post_without_the_csrf_token_adds_nobody(client: TestClient) -> None:
    log_in(client)
    response = client.post("/users", data={"name": MAYA[0], "password": MAYA[1]})
    assert response.status_code == 403 and response.json()["error"] == "csrf"
    assert not can_use_api(client, MAYA)


def test_a_user_who_is_no_admin_is_refused_with_the_reason(
    client: TestClient, runtime: Any
) -> None:
    add_reader(runtime.engine)
    csrf = log_in(client, READER)
    assert 'href="/users"' not in client.get("/").text
    page = client.get("/users")
    assert page.status_code == 403 and "Only an admin can manage users." in page.text
    assert "Reset password" not in page.text and "/users/admin/remove" not in page.text
    for path, data in (
        ("/users", {"name": MAYA[0], "password": MAYA[1]}),
        ("/users/admin/password", {"password": "taken over by reader"}),
        ("/users/admin/remove", {}),
    ):
        response = client.post(path, data={**data, "csrf_token": csrf})
        assert response.status_code == 403 and "Only an admin" in response.text
    assert can_use_api(client, ADMIN) and not can_use_api(client, MAYA)


def test_reset_password_changes_it_and_ends_that_user_s_logins(
    client: TestClient, runtime: Any
) -> None:
    add_reader(runtime.engine)
    reader = TestClient(client.app)
    log_in(reader, READER)
    assert reader.get("/", follow_redirects=False).status_code == 200
    csrf = log_in(client)
    response = client.post(
        "/users/reader/password",
        data={"password": "a brand new password", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "Password of reader changed" in client.get(response.headers["location"]).text
    assert reader.get("/", follow_redirects=False).status_code == 303  # logged out
    assert can_use_api(client, ("reader", "a brand new password"))
    assert not can_use_api(client, READER)
    short = client.post("/users/reader/password", data={"password": "x", "csrf_token": csrf})
    assert short.status_code == 400 and "reader: a password has at least 8" in short.text


def test_remove_a_user_but_never_the_last_admin(client: TestClient, runtime: Any) -> None:
    add_reader(runtime.engine)
    csrf = log_in(client)
    last = client.post("/users/admin/remove", data={"csrf_token": csrf})
    assert last.status_code == 409 and "the last admin" in last.text
    assert can_use_api(client, ADMIN)
    gone = client.post("/users/reader/remove", data={"csrf_token": csrf}, follow_redirects=False)
    assert gone.status_code == 303
    assert not can_use_api(client, READER)
    missing = client.post("/users/nobody/remove", data={"csrf_token": csrf})
    assert missing.status_code == 409 and "no user is called" in missing.text


def test_a_crafted_link_puts_no_words_of_its_own_in_the_page(client: TestClient) -> None:
    log_in(client)
    page = client.get("/users", params={"done": "added", "name": "<script>x</script>"}).text
    assert "<script>x" not in page and "added." not in page
    page = client.get("/users", params={"done": "Call 555-0100 now", "name": "admin"}).text
    assert "555-0100" not in page.split("<main", 1)[1]
