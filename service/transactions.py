"""What one unit of work keeps for the length of its transaction: rows it looked up once
(sources, active incidents), every row it loaded (the session's identity map holds rows only
while something else does: a row read again would be loaded again), and counts it gathered to
write once, just before it commits.

Kept in `session.info` and forgotten when the outermost transaction ends, committed or rolled
back: a lookup remembered there is true only while that transaction (and its row locks) lasts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction

_MEMORY = "drainwatch.transaction"
_WRITERS = "drainwatch.before_commit"
_T = TypeVar("_T")


def remembered(session: OrmSession, name: str, factory: Callable[[], _T]) -> _T:
    """Return what this transaction keeps under `name`, made by `factory` on first use."""
    memory: dict[str, Any] = session.info.setdefault(_MEMORY, {})
    if name not in memory:
        memory[name] = factory()
    kept: _T = memory[name]
    return kept


def write_before_commit(
    session: OrmSession, name: str, write: Callable[[OrmSession], None]
) -> None:
    """Have `write(session)` run once just before this transaction commits (not a savepoint)."""
    writers: dict[str, Callable[[OrmSession], None]] = session.info.setdefault(_WRITERS, {})
    writers.setdefault(name, write)


@event.listens_for(OrmSession, "before_commit")
def _write_gathered(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return
    writers: dict[str, Callable[[OrmSession], None]] = session.info.pop(_WRITERS, {})
    for write in writers.values():
        write(session)


@event.listens_for(OrmSession, "loaded_as_persistent")
def _hold(session: OrmSession, instance: object) -> None:
    remembered(session, "loaded rows", _rows).append(instance)


def _rows() -> list[object]:
    return []


@event.listens_for(OrmSession, "after_transaction_end")
def _forget(session: OrmSession, transaction: SessionTransaction) -> None:
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_MEMORY, None)
        session.info.pop(_WRITERS, None)
