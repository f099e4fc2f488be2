"""Setting the database up (its migrations, the first user) when `serve` starts, or, when the
database cannot be reached then, as soon as it answers.

`serve` must start without its database: ingest goes on into the spool, and a sender that gets
no answer drops what it sends. So a database that cannot be reached at start-up is logged and
waited for: `DatabaseSetup.worker` tries again in the background with back-off, logging
`[DB_DOWN] op=setup ...` and `[DB_RECOVERED] op=setup ...` (`service.worker`). Until it is set
up, the pages and the API answer 503 and the processor stores nothing (it would find no tables).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from service.db import schema_current, session_scope, upgrade_schema, utcnow
from service.settings import Settings
from service.users import ensure_admin
from service.worker import Worker, database_unavailable, failure_reason

log = logging.getLogger("drainwatch.setup")
RETRY_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 5.0


class DatabaseSetup:
    """Migrates the database (or, with `migrate=False`, waits until another process has) and
    makes sure the first user exists; `ready` is set once both are done."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        migrate: bool = True,
        admin: bool = True,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.migrate = migrate
        self.admin = admin
        self.announce = announce or _print
        self.ready = threading.Event()
        self._then: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self.worker = Worker(
            "drainwatch-setup",
            self._step,
            interval_seconds=RETRY_SECONDS,
            max_backoff_seconds=MAX_BACKOFF_SECONDS,
            meanwhile="ingest goes on into the spool; pages answer 503",
            op="setup",
        )

    def attempt(self) -> bool:
        """Set the database up now if it answers; return whether it is set up. Raises what
        reaching it raised."""
        if self.ready.is_set():
            return True
        if self.migrate:
            upgrade_schema(self.engine)
        elif not schema_current(self.engine):
            return False
        if self.admin:
            self._ensure_admin()
        with self._lock:
            self.ready.set()
            then, self._then = self._then, []
        for action in then:
            action()
        return True

    def first_attempt(self) -> bool:
        """Try once at start-up; a database that cannot be reached is logged, not raised."""
        try:
            return self.attempt()
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.warning(
                "the database cannot be reached at start-up (%s): ingest goes on into the spool, "
                "and the database is set up as soon as it answers",
                failure_reason(error),
            )
            return False

    def when_ready(self, action: Callable[[], None]) -> None:
        """Run `action` now if the database is set up, else as soon as it is."""
        with self._lock:
            if not self.ready.is_set():
                self._then.append(action)
                return
        action()

    def start(self) -> None:
        """Keep trying in the background until the database is set up."""
        if not self.ready.is_set():
            self.worker.start()

    def stop(self) -> None:
        """Stop trying."""
        if self.worker.state.running:
            self.worker.stop(timeout=2.0)

    def _step(self) -> int:
        if self.ready.is_set():
            return 0
        if self.attempt():
            log.info("the database is set up")
            self.worker.finish()
        return 0

    def _ensure_admin(self) -> None:
        settings = self.settings
        try:
            with session_scope(self.engine) as session:
                generated = ensure_admin(
                    session, settings.admin_user, settings.admin_password, now=utcnow()
                )
        except IntegrityError:
            # Another process sharing the database created the first user at the same moment.
            with session_scope(self.engine) as session:
                generated = ensure_admin(
                    session, settings.admin_user, settings.admin_password, now=utcnow()
                )
        if generated is not None:
            self.announce(
                f"drainwatch: created user {settings.admin_user!r} with password {generated}\n"
                "drainwatch: it is stored only as a hash and will not be shown again."
            )


class DatabaseNotSetUp(Exception):
    """The database answers, but serve has not finished setting it up."""


def not_set_up() -> OperationalError:
    """Return the error a request raises before the database is set up (answered as an outage)."""
    return OperationalError(None, None, DatabaseNotSetUp("the database is being set up"))


def _print(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
