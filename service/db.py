"""The one engine factory, the session dependency, UTC datetimes, and schema migration."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel

from service.dbwatch import DEADLINE, StatementWatch

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store aware datetimes as UTC; refuse naive ones, which would be ambiguous."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return UTC-aware datetimes whatever the database gave back."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """Return the current time, UTC-aware; callers pass it down as `now`."""
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_db_engine(url: str, *, deadline_seconds: float = 10.0) -> Engine:
    """Return an engine for `url`: SQLite with WAL and foreign keys, or PostgreSQL via psycopg.

    On PostgreSQL every statement and ping gets `deadline_seconds` to be answered (`dbwatch`).
    """
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            poolclass=StaticPool if memory else None,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    # A database that hangs (paused, partitioned) must fail a connection in seconds, not hold a
    # request or the processor for ever: a connect timeout, and TCP keepalives on idle sockets.
    connect_args = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 10}
    connect_args |= {"keepalives_interval": 5, "keepalives_count": 3, "tcp_user_timeout": 15000}
    engine = create_engine(
        url,
        connect_args=connect_args,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=10,
    )
    StatementWatch(deadline_seconds).install(engine)
    return engine


def upgrade_schema(engine: Engine) -> None:
    """Apply every Alembic migration the database has not had yet."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as connection:
        # A migration may run long on a big database: it has no deadline.
        connection.execution_options(**{DEADLINE: None})
        # SQLite alters a table by copying it; with foreign keys on, dropping the old copy fails.
        # The pragma only takes effect outside a transaction, hence the commits around it.
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("a migration left rows whose foreign keys point nowhere")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """Yield a session that commits when the block succeeds and rolls back when it fails."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def migrated_engine(url: str) -> Iterator[Engine]:
    """Yield an engine on an up-to-date schema; dispose of its connections afterwards."""
    engine = create_db_engine(url)
    try:
        upgrade_schema(engine)
        yield engine
    finally:
        engine.dispose()


@contextmanager
def race_guard(session: Session) -> Iterator[bool]:
    """Run an insert that another process may race, inside a savepoint where one is needed.

    Yields True when a lost race (IntegrityError) can be caught and the row read instead. SQLite
    serialises writers on the whole file, so there is no race there and no savepoint either.
    """
    if session.get_bind().dialect.name == "sqlite":
        yield False
        return
    with session.begin_nested():
        yield True


def add_counts(
    session: Session, model: type[SQLModel], key: dict[str, Any], counts: dict[str, int]
) -> None:
    """Add to counter columns of the row with this primary key, creating it if needed, in one
    atomic statement (INSERT ... ON CONFLICT DO UPDATE on both databases)."""
    upsert_rows(session, model, tuple(key), added=tuple(counts), rows=[{**key, **counts}])


def upsert_rows(
    session: OrmSession,
    model: type[SQLModel],
    key: tuple[str, ...],
    *,
    added: tuple[str, ...] = (),
    replaced: tuple[str, ...] = (),
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """Insert rows, or on a conflict of `key` add the `added` columns to the stored ones and
    overwrite the `replaced` ones: one statement executed for all rows (executemany)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    statement = _upsert_statement(model, dialect, key, added, replaced)
    session.execute(statement, list(rows))


@lru_cache(maxsize=64)
def _upsert_statement(
    model: type[SQLModel],
    dialect: str,
    key: tuple[str, ...],
    added: tuple[str, ...],
    replaced: tuple[str, ...],
) -> Any:
    """Build an upsert once: building one (its `excluded` columns above all) costs far more than
    running it, and it is the same statement for every batch."""
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = model.__table__  # type: ignore[attr-defined]
    statement = insert(table)
    excluded = statement.excluded
    updates = {name: table.c[name] + excluded[name] for name in added}
    updates.update({name: excluded[name] for name in replaced})
    return statement.on_conflict_do_update(index_elements=list(key), set_=updates)


def schema_current(engine: Engine) -> bool:
    """Tell whether the database has had every migration (another process may be applying
    them); raises what reaching the database raises."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads()) == heads
