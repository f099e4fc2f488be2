"""What stands in front of the routes: the CSRF check, and the login that `/docs`, `/openapi.json`
and `/metrics` need.

CSRF: a state-changing request that carries the session cookie must also carry the session's
CSRF token (`csrf_token` form field, or an `X-CSRF-Token` header), which only drainwatch's own
pages know, and must not say it came from another site (`Sec-Fetch-Site`, or an `Origin` that is
neither ours nor `null`: with `Referrer-Policy: no-referrer` Chromium sends `Origin: null` on our
own forms). HTTP Basic calls and the token-authenticated ingest routes need none: a cookie is
what another site's page can make a browser send, credentials in a header it cannot.

A refused form post from a browser is answered with a page, not JSON: its own page again (the form's
`return_to`, fetched as a GET, so nothing is changed) with what was typed and why it was refused,
or, for a form without one, an error page that holds the typed fields to send again.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request

from service.errors import ApiError
from service.users import LoginThrottle, csrf_token
from service.web.deps import SESSION_COOKIE, request_user
from service.web.errorpages import (
    REFUSED_KEY,
    RefusedForm,
    error_page,
    safe_local_path,
    typed_values,
    wants_html,
)
from service.web.intake import INGEST_PREFIXES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# The login form is posted before there is a session to bind a token to.
_NO_CSRF_PATHS = ("/login",)
PROTECTED_PATHS = frozenset(
    {"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/metrics"}
)
# A form body larger than this is no form of drainwatch's pages; it is refused unread.
_MAX_FORM_BYTES = 1 << 20


def install_guards(app: FastAPI) -> None:
    """Add the CSRF check and the login for docs and metrics, and the login throttle."""
    app.state.login_throttle = LoginThrottle()
    app.add_middleware(ProtectedPaths)
    app.add_middleware(CsrfCheck)


def page_csrf_token(request: Request) -> str:
    """Return the CSRF token for the forms of a page (empty when nobody is logged in)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    return csrf_token(cookie) if cookie else ""


async def _reply(send: Send, status: int, code: str, detail: str, **headers: str) -> None:
    body = json.dumps({"error": code, "detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class CsrfCheck:
    """Refuse a state-changing request made with the session cookie but without its token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the token of an unsafe cookie request, then pass it on (its body replayed)."""
        if scope["type"] != "http" or not _needs_token(scope):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cookie = Request(scope).cookies.get(SESSION_COOKIE, "")
        presented = headers.get(CSRF_HEADER)
        body: bytes | None = None
        if presented is None and _is_form(headers):
            body = await _read_body(receive)
            if body is None:
                await _reply(send, 413, "payload_too_large", "the form is too large")
                return
            presented = parse_qs(body.decode("latin-1")).get(CSRF_FIELD, [""])[0]
            receive = _replay(body)
        why = _refusal(scope, headers, presented, cookie)
        if why is None:
            await self.app(scope, receive, send)
        elif body is not None and wants_html(scope["path"], headers):
            await _show_refused_form(self.app, scope, send, why, body)
        else:
            await _reply(send, 403, "csrf", why[0])


_API_REFUSAL = (
    "the CSRF token is missing or wrong: reload the page and try again, "
    "or call the API with HTTP Basic credentials"
)
_CROSS_SITE = "this form was sent from another site's page, not from drainwatch's own"


def _refusal(
    scope: Scope, headers: Headers, presented: str | None, cookie: str
) -> tuple[str, str] | None:
    """Return why a cookie request is refused (for the API, for a person), or None."""
    if headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
        return _CROSS_SITE, f"Nothing was changed: {_CROSS_SITE}."
    origin = headers.get("origin", "")
    if origin and origin != "null" and origin.rstrip("/") != _own_origin(scope, headers):
        return _CROSS_SITE, f"Nothing was changed: {_CROSS_SITE}."
    if not presented or not hmac.compare_digest(presented, csrf_token(cookie)):
        return _API_REFUSAL, (
            "Nothing was changed: this form was loaded before your current login (or in "
            "another login), so its security token no longer matches. What you typed is kept "
            "here: check it and send it again."
        )
    return None


def _own_origin(scope: Scope, headers: Headers) -> str:
    return f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"


async def _show_refused_form(
    app: ASGIApp, scope: Scope, send: Send, why: tuple[str, str], body: bytes
) -> None:
    """Show a refused browser form again: on its own page when it names one, else on its own."""
    why_api, detail = why
    pairs = parse_qsl(
        body.decode("ascii", "replace"), keep_blank_values=True, encoding="utf-8", errors="replace"
    )
    # Another site's values are not put in drainwatch's forms, where one click would send them.
    foreign = why_api == _CROSS_SITE
    values = {} if foreign else typed_values(pairs)
    refused = RefusedForm(status=403, detail=detail, values=values)
    page = safe_local_path(dict(pairs).get("return_to", "").split("?", 1)[0])
    if page is not None:
        # Its page fetched as a GET shows the form filled in; a GET changes nothing.
        stripped = [
            (k, v) for k, v in scope["headers"] if k not in (b"content-type", b"content-length")
        ]
        shown = {
            **scope,
            "method": "GET",
            "path": page,
            "raw_path": page.encode("utf-8", "replace"),
            "query_string": b"",
            "headers": stripped,
            REFUSED_KEY: refused,
        }
        await app(shown, _replay(b""), _refused_status(send))
        return
    request = Request(scope)
    cookie = request.cookies.get(SESSION_COOKIE, "")
    resend = {"action": scope["path"], "values": values, "token": csrf_token(cookie)}
    # Another site's post is not offered to be sent again: the click would be the attack.
    context = {"resend": resend} if cookie and not foreign else {}
    response = error_page(request, 403, detail, code="csrf", context=context)
    await response(scope, _replay(b""), send)


def _refused_status(send: Send) -> Send:
    """Answer 403 where the page would have answered 200 (a redirect to log in stays one)."""

    async def send_refused(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 200:
            message = {**message, "status": 403}
        await send(message)

    return send_refused


def _needs_token(scope: Scope) -> bool:
    if scope["method"] in SAFE_METHODS:
        return False
    path: str = scope["path"]
    if path.startswith(INGEST_PREFIXES) or path in _NO_CSRF_PATHS:
        return False
    request = Request(scope)
    if request.headers.get("authorization", "").lower().startswith("basic "):
        return False
    return bool(request.cookies.get(SESSION_COOKIE))


def _is_form(headers: Headers) -> bool:
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/x-www-form-urlencoded"


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


class ProtectedPaths:
    """Ask for a login (session cookie or HTTP Basic) before the API docs and the metrics.

    `/metrics` also takes `Authorization: Bearer DRAINWATCH_METRICS_TOKEN` when that is set,
    for a scraper that holds no user's password.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 401 to an unauthenticated request for a protected path; pass the rest on."""
        if scope["type"] != "http" or scope["path"] not in PROTECTED_PATHS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            allowed = await run_in_threadpool(_allowed, request)
        except ApiError as error:
            await _reply(send, error.status, error.code, error.detail, **(error.headers or {}))
            return
        except SQLAlchemyError:
            await _reply(
                send,
                503,
                "unavailable",
                "the login cannot be checked while the database is down",
                **{"Retry-After": "5"},
            )
            return
        if not allowed:
            await _reply(
                send,
                401,
                "unauthorized",
                "log in, or send HTTP Basic credentials of a drainwatch user",
                **{"WWW-Authenticate": 'Basic realm="drainwatch"'},
            )
            return
        await self.app(scope, receive, send)


def _allowed(request: Request) -> bool:
    runtime = request.app.state.runtime
    expected = runtime.settings.metrics_token
    if expected and request.url.path == "/metrics":
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), str(expected)):
            return True
    with Session(runtime.engine) as session:
        return request_user(request, session) is not None
