"""Sources: named log streams, their ingest tokens (stored hashed) and line counters."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from service.db import race_guard
from service.models import Source

SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class SourceNameError(ValueError):
    """A source name that is empty, too long, or has characters outside [A-Za-z0-9._-]."""


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
    """Return the source called `name`, or None; `lock` holds its row until commit."""
    if not SOURCE_NAME.match(name):
        return None  # no source has such a name (and a NUL is no text PostgreSQL can compare)
    statement = select(Source).where(Source.name == name)
    return session.exec(statement.with_for_update() if lock else statement).first()


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
    return source


def issue_token(session: Session, name: str, *, now: datetime) -> str:
    """Create the source if needed, give it a new ingest token, and return the token once."""
    source = ensure_source(session, name, now=now)
    token = "dw_" + secrets.token_urlsafe(32)
    source.token_hash = hash_token(token)
    session.add(source)
    session.flush()
    return token
