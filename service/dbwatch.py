"""A deadline on every round trip to PostgreSQL, kept on the client side.

A server that is reachable but never answers (a frozen host, a stalled disk, a proxy that stopped
forwarding) keeps a connection's socket open and acknowledged, so neither the connect timeout
nor TCP keepalives ever fire, and a page request or the processor would wait for ever. Every
statement and every pool pre-ping is therefore registered with a deadline; a watcher thread
shuts down the socket of one that outlives it. The driver then fails the call with an
`OperationalError`, which the pages answer as a 503 and the processor treats as an outage.

A server-side `statement_timeout` would not do: a frozen server cannot enforce it, and a
pgbouncer in front refuses the startup option that would set it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from time import monotonic
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger("drainwatch.database")

# A ping does no work: one unanswered for this long means the server is not answering at all.
PING_SECONDS = 3.0
# Execution option that gives a connection's statements a deadline of their own, in seconds, or
# none at all (None): schema migrations and the retention purge may run long on a big database.
DEADLINE = "drainwatch_deadline_seconds"


class StatementWatch:
    """Cut the connection of any statement or ping that runs longer than `limit` seconds."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.cut_count = 0
        self._running: dict[int, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def install(self, engine: Engine) -> None:
        """Watch every statement of `engine` and its pool's pre-pings."""
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "handle_error", self._failed)
        ping: Callable[[Any], bool] = engine.dialect.do_ping

        def watched_ping(dbapi_connection: Any) -> bool:
            key = id(dbapi_connection)
            self.start(key, dbapi_connection, min(self.limit, PING_SECONDS))
            try:
                return ping(dbapi_connection)
            finally:
                self.end(key)

        engine.dialect.do_ping = watched_ping  # type: ignore[method-assign]

    def start(self, key: int, dbapi_connection: Any, limit: float | None = None) -> None:
        """Register a round trip on `dbapi_connection` that must end within `limit` seconds."""
        with self._lock:
            self._running[key] = (monotonic() + (limit or self.limit), dbapi_connection)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._watch, name="drainwatch-db-deadline", daemon=True
                )
                self._thread.start()

    def end(self, key: int) -> None:
        """Forget a round trip that ended (answered or failed)."""
        with self._lock:
            self._running.pop(key, None)

    def overdue(self, now: float) -> list[Any]:
        """Take the connections whose round trip is past its deadline at `now`."""
        with self._lock:
            late = [key for key, (deadline, _) in self._running.items() if deadline <= now]
            return [self._running.pop(key)[1] for key in late]

    def _before(
        self, conn: Any, cursor: Any, _statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        options = conn.get_execution_options()
        limit = options.get(DEADLINE, self.limit)
        if limit is None:
            return
        self.start(id(cursor), conn.connection.dbapi_connection, limit)

    def _after(
        self, _conn: Any, cursor: Any, _statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        self.end(id(cursor))

    def _failed(self, context: Any) -> None:
        cursor = getattr(context, "cursor", None)  # absent when a connect failed
        if cursor is not None:
            self.end(id(cursor))

    def _watch(self) -> None:
        tick = min(1.0, self.limit / 4)
        while True:
            self._wake.wait(tick)
            for dbapi_connection in self.overdue(monotonic()):
                self.cut_count += 1
                log.warning("the database did not answer in time: its connection is cut")
                cut_socket(dbapi_connection)


def cut_socket(dbapi_connection: Any) -> None:
    """Shut down a psycopg connection's socket, so that the call waiting on it fails at once."""
    try:
        fd = dbapi_connection.pgconn.socket
    except Exception:
        return
    try:
        duplicate = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    try:
        duplicate.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected any more: the waiting call has already failed
    finally:
        duplicate.close()
