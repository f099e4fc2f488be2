"""Sources: named log streams, their ingest tokens (stored hashed) and line counters."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from service.db import race_guard
from service.models import Source
from service.transactions import remembered

SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class SourceNameError(ValueError):
    """A source name that is empty, too long, or has characters outside [A-Za-z0-9._-]."""


class SourceExists(ValueError):
    """A source of that name already has its own token: rotating it is a separate, explicit act."""


class SourceMissing(LookupError):
    """No source has that name."""


def check_source_name(name: str) -> str:
    """Return `name` if it is a valid source name, else raise SourceNameError."""
    if not SOURCE_NAME.match(name):
        raise SourceNameError(
            "a source name is 1-100 characters of letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    return name


def hash_token(token: str) -> str:
    """Return the stored form of an ingest token (tokens are random, so SHA-256 suffices)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, token_hash: str | None) -> bool:
    """Return True when `token` hashes to `token_hash`, compared in constant time."""
    if not token_hash:
        return False
    return hmac.compare_digest(hash_token(token), token_hash)


def get_source(session: Session, name: str, *, lock: bool = False) -> Source | None:
    """Return the source called `name`, or None; `lock` holds its row until commit.

    A transaction looks a source up once: it is remembered (with its lock) until it ends.
    """
    if not SOURCE_NAME.match(name):
        return None  # no source has such a name (and a NUL is no text PostgreSQL can compare)
    known = _known(session)
    found = known.get(name)
    if found is not None and (found[1] or not lock) and found[0] in session:
        return found[0]
    statement = select(Source).where(Source.name == name)
    source = session.exec(statement.with_for_update() if lock else statement).first()
    if source is not None:
        known[name] = (source, lock)
    return source


def get_sources(session: Session, names: Iterable[str], *, lock: bool = False) -> list[Source]:
    """Return the sources of these names that exist, looked up in one statement."""
    wanted = sorted({name for name in names if SOURCE_NAME.match(name)})
    known = _known(session)
    missing = [
        name
        for name in wanted
        if not (name in known and (known[name][1] or not lock) and known[name][0] in session)
    ]
    if missing:
        statement = select(Source).where(col(Source.name).in_(missing))
        # Locked in name order, as every processor locks them: two never wait on each other.
        statement = statement.order_by(col(Source.name))
        for source in session.exec(statement.with_for_update() if lock else statement):
            known[source.name] = (source, lock)
    return [known[name][0] for name in wanted if name in known]


def ensure_source(session: Session, name: str, *, now: datetime, lock: bool = False) -> Source:
    """Return the source called `name`, creating it when it does not exist yet."""
    source = get_source(session, name, lock=lock)
    if source is not None:
        return source
    source = Source(name=check_source_name(name), created_at=now)
    try:
        with race_guard(session):
            session.add(source)
            session.flush()
    except IntegrityError:
        # Another process created it first: use theirs.
        found = get_source(session, name, lock=lock)
        if found is None:
            raise
        return found
    # Created in this transaction: no other sees it before the commit, as good as locked.
    _known(session)[name] = (source, True)
    return source


def _known(session: Session) -> dict[str, tuple[Source, bool]]:
    return remembered(session, "sources", dict)


def issue_token(session: Session, name: str, *, now: datetime) -> str:
    """Create the source if needed, give it a new ingest token, and return the token once."""
    return _new_token(session, ensure_source(session, name, now=now))


def add_source(session: Session, name: str, *, now: datetime) -> str:
    """Create a source with its own token and return the token once.

    A source that exists without a token of its own (made by the global token's first use) gets
    its first one; a source that has one is refused with `SourceExists`, as replacing the token
    under a running drain would make every batch it sends a 401.
    """
    source = ensure_source(session, check_source_name(name), now=now, lock=True)
    if source.token_hash:
        raise SourceExists(f"source {name!r} already exists and has its own token")
    return _new_token(session, source)


def rotate_token(session: Session, name: str, *, now: datetime) -> str:
    """Replace a source's token with a new one and return it once; the old one is refused."""
    source = get_source(session, name, lock=True)
    if source is None:
        raise SourceMissing(f"no source is called {name!r}")
    return _new_token(session, source)


def revoke_token(session: Session, name: str) -> Source:
    """Take a source's own token away: its lines and incidents stay, its token opens nothing."""
    source = get_source(session, name, lock=True)
    if source is None:
        raise SourceMissing(f"no source is called {name!r}")
    source.token_hash = None
    session.add(source)
    session.flush()
    return source


def _new_token(session: Session, source: Source) -> str:
    token = "dw_" + secrets.token_urlsafe(32)
    source.token_hash = hash_token(token)
    session.add(source)
    session.flush()
    return token
