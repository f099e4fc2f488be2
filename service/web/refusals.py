"""The last refused request of each source's drain (`/drains/NAME` answered 4xx or 5xx), as this
process saw it: what `/sources` shows as a source's last error, such as the 401s of a drain still
sending a rotated token.

In memory and per process (each of `serve --workers N` keeps its own), bounded whatever names are
sent: a name only counts once it is a valid source name, and the oldest names go first.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.db import utcnow
from service.sources import SOURCE_NAME

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PREFIX = "/drains/"
CAPACITY = 1000
_DETAIL_CHARS = 300


@dataclass(frozen=True, slots=True)
class Refusal:
    """One refused drain request: when, its status, and the error code and detail it was told."""

    at: datetime
    status: int
    code: str
    detail: str


class Refusals:
    """Source name → its latest refusal; thread-safe and bounded."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._latest: OrderedDict[str, Refusal] = OrderedDict()

    def record(self, name: str, refusal: Refusal) -> None:
        """Keep `refusal` as source `name`'s latest."""
        with self._lock:
            self._latest.pop(name, None)
            self._latest[name] = refusal
            while len(self._latest) > self.capacity:
                self._latest.popitem(last=False)

    def latest(self, name: str) -> Refusal | None:
        """Return source `name`'s latest refusal, or None."""
        with self._lock:
            return self._latest.get(name)


def _error_of(body: bytes) -> tuple[str, str]:
    try:
        error = json.loads(body)
        return str(error.get("error", ""))[:100], str(error.get("detail", ""))[:_DETAIL_CHARS]
    except (ValueError, AttributeError):
        return "", ""


class RecordRefusals:
    """Watch the answers of `/drains/NAME` and record the refused ones in `refusals`."""

    def __init__(self, app: ASGIApp, refusals: Refusals) -> None:
        self.app = app
        self.refusals = refusals

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; note its status, and its error body when it was refused."""
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        status = 0

        # Kept to the least per request (an accepted batch only has its status looked at): this
        # runs on every drain request, the hot path.
        async def watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif status >= 400 and message["type"] == "http.response.body":
                self._record(scope["path"][len(PREFIX) :], status, message.get("body", b""))
                status = 0  # the first body chunk holds the whole error: record it once
            await send(message)

        await self.app(scope, receive, watching)

    def _record(self, name: str, status: int, body: bytes) -> None:
        if SOURCE_NAME.match(name):
            code, detail = _error_of(bytes(body))
            self.refusals.record(name, Refusal(utcnow(), status, code, detail))
