"""Driving the dashboard's forms as a browser does: log in, read the CSRF token, post."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from service.accounts import add_user
from service.db import session_scope, utcnow
from tests.conftest import ADMIN, post_login

_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
SHOWN_TOKEN = re.compile(r'<pre class="log token">(dw_[A-Za-z0-9_-]+)</pre>')
READER = ("reader", "reader password")


def log_in(client: TestClient, credentials: tuple[str, str] = ADMIN) -> str:
    """Log in with the login form and return the CSRF token of the session's pages."""
    response = post_login(
        client,
        data={"username": credentials[0], "password": credentials[1]},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    found = _TOKEN.search(client.get("/sources").text)
    assert found is not None
    return found.group(1)


def add_reader(engine: Engine) -> None:
    """Create a user who is not an admin."""
    with session_scope(engine) as session:
        add_user(session, READER[0], READER[1], admin=False, now=utcnow())


def shown_token(html: str) -> str:
    """Return the token a page shows once."""
    found = SHOWN_TOKEN.search(html)
    assert found is not None, "the page shows the new token"
    return found.group(1)
