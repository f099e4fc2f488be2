"""The headers every response carries, and the refusal of a NUL in the URL, as plain ASGI.

Plain ASGI rather than an `@app.middleware("http")` function: that one runs each request through
an extra task and a streamed response, which costs an ingest request more than all its routing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_NUL_BODY = json.dumps({"error": "bad_request", "detail": "a NUL byte (%00) in the URL"}).encode()


class SecurityHeaders:
    """Add the security headers a response does not set itself; answer 400 to a NUL in the URL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, adding the headers to its response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [item for item in SECURITY_HEADERS if item[0] not in present]
                message["headers"] = headers
            await send(message)

        if b"%00" in scope.get("raw_path", b"").lower() or b"%00" in scope["query_string"]:
            # No text column of PostgreSQL holds a NUL: refuse it here, once for every route.
            await _refuse_nul(send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


async def _refuse_nul(send: Send) -> None:
    headers = [
        (b"content-length", str(len(_NUL_BODY)).encode()),
        (b"content-type", b"application/json"),
    ]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": _NUL_BODY})
