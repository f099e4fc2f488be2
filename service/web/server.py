"""The uvicorn server `drainwatch serve` runs: slow clients cut off, and a shutdown that ends.

uvicorn's keep-alive timeout only covers the idle time between requests and restarts on every byte,
so a client trickling its request headers would hold its connection for ever: each connection gets
a deadline for its headers instead. SIGTERM stops accepting, lets in-flight requests finish for
a grace period, runs the app's shutdown (the processor's flush), and the process exits within
`shutdown_timeout_seconds` whatever clients or threads do.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from types import FrameType
from typing import Any

import uvicorn

from service.settings import Settings

log = logging.getLogger("drainwatch.server")

# Of the shutdown budget, what the app's own shutdown (the processor's flush) and the interpreter's
# exit keep for themselves; the rest is the grace for in-flight requests.
_APP_SHUTDOWN_SECONDS = 4.0
# Idle keep-alive connections are closed after this; Heroku's router reuses them within seconds.
_KEEP_ALIVE_SECONDS = 5


class _HeaderDeadline(asyncio.Protocol):
    """A connection must send each request's headers within `header_timeout` of being ready.

    Armed when the connection opens and when a response completes; a connection on which no new
    request began by then is closed.
    """

    header_timeout: float = 10.0
    cycle: Any
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    _deadline: asyncio.TimerHandle | None = None
    _cycle_at_arm: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        # A pipelined request already under way has its own deadline when its response completes.
        if self.cycle is not None and not self.cycle.response_complete:
            return
        self._cycle_at_arm = self.cycle
        self._deadline = self.loop.call_later(self.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.cycle is self._cycle_at_arm and not self.transport.is_closing():
            log.debug(
                "closed a connection that sent no request headers in %s s", self.header_timeout
            )
            self.transport.close()


def _protocol_class(header_timeout: float) -> type[asyncio.Protocol]:
    """Return uvicorn's HTTP protocol (httptools if installed, as uvicorn picks) with deadlines."""
    base: type[asyncio.Protocol]
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol

    def on_response_complete(self: Any) -> None:
        base.on_response_complete(self)
        self._arm()

    return type(
        f"Deadline{base.__name__}",
        (_HeaderDeadline, base),
        {"header_timeout": header_timeout, "on_response_complete": on_response_complete},
    )


class BoundedServer(uvicorn.Server):
    """A uvicorn server whose shutdown, once signalled, ends the process within `exit_within` s."""

    def __init__(self, config: uvicorn.Config, *, exit_within: float) -> None:
        super().__init__(config)
        self.exit_within = exit_within
        self._watchdog: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._watchdog is None:
            self._watchdog = threading.Timer(self.exit_within, self._exit_now)
            self._watchdog.daemon = True
            self._watchdog.start()

    def _exit_now(self) -> None:
        # What was acknowledged is in the spool: ending here is as safe as a crash, and bounded.
        log.error("shutdown took over %s s; exiting without waiting further", self.exit_within)
        logging.shutdown()
        os._exit(1)


def build_server(
    app: Any, settings: Settings, *, host: str, port: int, log_level: str
) -> BoundedServer:
    """Return the server for `app` with drainwatch's timeouts."""
    budget = settings.shutdown_timeout_seconds
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        http=_protocol_class(settings.header_timeout_seconds),
        timeout_keep_alive=_KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=max(1, int(budget - _APP_SHUTDOWN_SECONDS)),
    )
    return BoundedServer(config, exit_within=budget)
