"""Request dependencies: the runtime, a database session, the logged-in user."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterator
from time import monotonic
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from service.db import utcnow
from service.dbsetup import not_set_up
from service.errors import ApiError
from service.models import User
from service.runtime import Runtime
from service.users import LoginThrottled, authenticate, authenticate_throttled, user_for_token
from service.web.breaker import DatabaseBreaker, refused
from service.worker import database_unavailable

SESSION_COOKIE = "drainwatch_session"


class LoginRequired(Exception):
    """A dashboard page was asked for without a login; the answer is a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def get_runtime(request: Request) -> Runtime:
    """Return the runtime the app was built with (async: no worker thread for an attribute)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(request: Request, runtime: RuntimeDep) -> Iterator[Session]:
    """Yield a session for one request; routes that write commit it themselves.

    Until the database is set up (migrated, its first user made), and while it is known not to
    answer (`breaker`), the request answers 503 at once.
    """
    if not runtime.setup.ready.is_set():
        # Tables may exist before the first user does: a login checked then would be refused.
        raise not_set_up()
    breaker: DatabaseBreaker = request.app.state.breaker
    if not breaker.admit():
        raise refused()
    request.state.database_since = monotonic()
    with Session(runtime.engine, expire_on_commit=False) as session:
        try:
            yield session
        except SQLAlchemyError as error:
            if not database_unavailable(error):
                breaker.succeeded()  # a statement refused: the database answered
            raise  # an outage: the app's handler tells the breaker
        except Exception:
            breaker.succeeded()  # a 4xx after the route's queries: the database answered
            raise
    breaker.succeeded()


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


def client_address(request: Request) -> str:
    """Return the address the request came from (the proxy's client when proxied)."""
    return request.client.host if request.client else ""


def retry_after(error: LoginThrottled) -> str:
    """Return a Retry-After value for a throttled login."""
    return str(max(1, math.ceil(error.retry_after)))


def request_user(request: Request, session: Session) -> User | None:
    """Return the user of HTTP Basic credentials or of the session cookie, or None.

    Basic credentials go through the login throttle: 429 while their user or address is locked.
    """
    credentials = basic_credentials(request)
    if credentials is not None:
        throttle = getattr(request.app.state, "login_throttle", None)
        if throttle is None:
            return authenticate(session, *credentials)
        try:
            return authenticate_throttled(
                session, throttle, *credentials, address=client_address(request), now=monotonic()
            )
        except LoginThrottled as error:
            raise ApiError(
                429, "too_many_logins", str(error), headers={"Retry-After": retry_after(error)}
            ) from error
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        return user_for_token(session, token, now=utcnow())
    return None


def api_user(request: Request, session: SessionDep) -> User:
    """Return the user of an API request, or answer 401 with a Basic challenge."""
    user = request_user(request, session)
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
    user = request_user(request, session)
    if user is None:
        raise LoginRequired(request.url.path)
    return user


ApiUser = Annotated[User, Depends(api_user)]
PageUser = Annotated[User, Depends(page_user)]
