"""Request dependencies: the runtime, a database session, the logged-in user."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from service.db import utcnow
from service.errors import ApiError
from service.models import User
from service.runtime import Runtime
from service.users import authenticate, user_for_token

SESSION_COOKIE = "drainwatch_session"


class LoginRequired(Exception):
    """A dashboard page was asked for without a login; the answer is a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def get_runtime(request: Request) -> Runtime:
    """Return the runtime the app was built with."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """Yield a session for one request; routes that write commit it themselves."""
    with Session(runtime.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """Return (user, password) from an HTTP Basic Authorization header, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def _user(request: Request, session: Session) -> User | None:
    credentials = basic_credentials(request)
    if credentials is not None:
        return authenticate(session, *credentials)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        return user_for_token(session, token, now=utcnow())
    return None


def api_user(request: Request, session: SessionDep) -> User:
    """Return the user of an API request, or answer 401 with a Basic challenge."""
    user = _user(request, session)
    if user is None:
        raise ApiError(
            401,
            "unauthorized",
            "log in, or send HTTP Basic credentials of a drainwatch user",
            headers={"WWW-Authenticate": 'Basic realm="drainwatch"'},
        )
    return user


def page_user(request: Request, session: SessionDep) -> User:
    """Return the user of a dashboard page, or redirect to the login page."""
    user = _user(request, session)
    if user is None:
        raise LoginRequired(request.url.path)
    return user


ApiUser = Annotated[User, Depends(api_user)]
PageUser = Annotated[User, Depends(page_user)]
