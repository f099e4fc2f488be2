"""The ingest tokens of known sources, by hash, kept in memory so that senders with a source's own
token go on being answered 202 (into the spool) while the database is down.

The database stays the truth: every request looks its token up there first and corrects the
cache with what it finds (a rotated token replaces the old one, a removed one is forgotten); the
cache is filled at start-up and reloaded whole, at most every `refresh_seconds`, while the
database answers. Only when the lookup fails, or has not answered within `LOOKUP_SECONDS`, does
the cache decide. A token the cache cannot
vouch for during an outage is not called wrong (it may have been issued or rotated by another
process since the last reload): it gets 503 with Retry-After, so the sender tries again later
instead of dropping the batch as a 401 would make it do.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as LookupTimeout
from typing import TypeVar

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from service.models import Source
from service.sources import get_source, hash_token, token_matches

log = logging.getLogger("drainwatch.tokens")
REFRESH_SECONDS = 30.0
# After a failed lookup, requests go straight to the cache for this long: a database that hangs
# (a dropped network, not a refused connection) would otherwise hold every ingest request.
RECHECK_SECONDS = 2.0
# A lookup the database has not answered by then is left to finish on its own (the database
# deadline ends it) and the cache decides: a hanging database never holds a sender for long.
LOOKUP_SECONDS = 2.0
T = TypeVar("T")


class TokenUnchecked(Exception):
    """The database is down and the cache cannot vouch for the token."""


class TokenCache:
    """Source name → token hash (and back), as last seen in the database; thread-safe."""

    def __init__(
        self,
        *,
        refresh_seconds: float = REFRESH_SECONDS,
        recheck_seconds: float = RECHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.refresh_seconds = refresh_seconds
        self.recheck_seconds = recheck_seconds
        self._down_until = 0.0
        self._clock = clock
        self._lock = threading.Lock()
        self._by_name: dict[str, str] = {}
        self._by_hash: dict[str, str] = {}
        self._loaded_at: float | None = None
        self._lookups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="drainwatch-token")

    def ask(self, lookup: Callable[[], T], *, timeout: float = LOOKUP_SECONDS) -> T | None:
        """Run a database lookup for at most `timeout` s; None (and the database marked down)
        when it fails or has not answered by then."""
        future = self._lookups.submit(lookup)
        try:
            return future.result(timeout=timeout)
        except (SQLAlchemyError, LookupTimeout):
            self.mark_down()
            return None

    async def ask_async(
        self, lookup: Callable[[], T], *, timeout: float = LOOKUP_SECONDS
    ) -> T | None:
        """`ask` for a caller on the event loop: the lookup runs in the cache's own threads."""
        future = asyncio.wrap_future(self._lookups.submit(lookup))
        try:
            return await asyncio.wait_for(future, timeout)
        except (SQLAlchemyError, TimeoutError):
            self.mark_down()
            return None

    def load(self, session: Session) -> int:
        """Replace the whole cache with every source token in the database; return how many."""
        rows = session.exec(select(Source.name, Source.token_hash)).all()
        by_name = {name: token_hash for name, token_hash in rows if token_hash}
        with self._lock:
            self._by_name = by_name
            self._by_hash = {token_hash: name for name, token_hash in by_name.items()}
            self._loaded_at = self._clock()
        return len(by_name)

    def load_quietly(self, engine: Engine) -> None:
        """Fill the cache if the database answers; a database down at start-up is no error."""
        try:
            with Session(engine) as session:
                self.load(session)
        except SQLAlchemyError as error:
            log.warning("source tokens not cached yet, the database is unavailable: %s", error)

    def refresh_if_due(self, session: Session) -> None:
        """Reload the whole cache when the last load is older than `refresh_seconds`."""
        loaded_at = self._loaded_at
        if loaded_at is None or self._clock() - loaded_at >= self.refresh_seconds:
            self.load(session)

    def note(self, name: str, token_hash: str | None) -> None:
        """Record what the database just said about one source's token (None: it has none)."""
        with self._lock:
            old = self._by_name.pop(name, None)
            if old is not None and self._by_hash.get(old) == name:
                del self._by_hash[old]
            if token_hash:
                self._by_name[name] = token_hash
                self._by_hash[token_hash] = name

    def forget(self, token: str) -> None:
        """Forget a token the database no longer knows."""
        with self._lock:
            name = self._by_hash.pop(hash_token(token), None)
            if name is not None:
                self._by_name.pop(name, None)

    def mark_down(self) -> None:
        """Note a failed lookup: skip the database for the next `recheck_seconds`."""
        self._down_until = self._clock() + self.recheck_seconds

    def skip_database(self, *, database_down: bool) -> bool:
        """Return True when a lookup should not even try the database just now."""
        return database_down or self._clock() < self._down_until

    def hash_of(self, name: str) -> str | None:
        """Return the cached token hash of source `name`, or None."""
        with self._lock:
            return self._by_name.get(name)

    def source_of(self, token: str) -> str | None:
        """Return the source whose cached token is `token`, or None."""
        with self._lock:
            return self._by_hash.get(hash_token(token))


def token_cache(request: Request) -> TokenCache:
    """Return the app's token cache."""
    cache: TokenCache = request.app.state.tokens
    return cache


def token_opens_source(
    cache: TokenCache, engine: Engine, name: str, token: str, *, database_down: bool = False
) -> bool:
    """Return whether `token` is source `name`'s own; raise TokenUnchecked if nobody can tell.

    `database_down` (the processor finds it unreachable) sends the lookup to the cache at once.
    """
    answer = None
    if not cache.skip_database(database_down=database_down):
        answer = cache.ask(_source_hash_lookup(cache, engine, name))
    return _opens(cache, name, token, answer)


async def token_opens_source_async(
    cache: TokenCache, engine: Engine, name: str, token: str, *, database_down: bool = False
) -> bool:
    """`token_opens_source` for a caller on the event loop."""
    answer = None
    if not cache.skip_database(database_down=database_down):
        answer = await cache.ask_async(_source_hash_lookup(cache, engine, name))
    return _opens(cache, name, token, answer)


def _source_hash_lookup(
    cache: TokenCache, engine: Engine, name: str
) -> Callable[[], tuple[str | None]]:
    def lookup() -> tuple[str | None]:
        with Session(engine) as session:
            known = get_source(session, name)
            token_hash = known.token_hash if known is not None else None
            cache.note(name, token_hash)
            cache.refresh_if_due(session)
        return (token_hash,)

    return lookup


def _opens(cache: TokenCache, name: str, token: str, answer: tuple[str | None] | None) -> bool:
    if answer is not None:
        return token_matches(token, answer[0])
    if token_matches(token, cache.hash_of(name)):
        return True
    raise TokenUnchecked


def source_for_token(
    cache: TokenCache, engine: Engine, token: str, *, database_down: bool = False
) -> str | None:
    """Return the source whose own token is `token`, or None; raise TokenUnchecked if unknown."""
    answer = None
    if not cache.skip_database(database_down=database_down):
        answer = cache.ask(_token_source_lookup(cache, engine, token))
    return _owner(cache, token, answer)


async def source_for_token_async(
    cache: TokenCache, engine: Engine, token: str, *, database_down: bool = False
) -> str | None:
    """`source_for_token` for a caller on the event loop."""
    answer = None
    if not cache.skip_database(database_down=database_down):
        answer = await cache.ask_async(_token_source_lookup(cache, engine, token))
    return _owner(cache, token, answer)


def _token_source_lookup(
    cache: TokenCache, engine: Engine, token: str
) -> Callable[[], tuple[str | None]]:
    def lookup() -> tuple[str | None]:
        with Session(engine) as session:
            statement = select(Source.name).where(Source.token_hash == hash_token(token))
            name = session.exec(statement).first()
            if name is None:
                cache.forget(token)
            else:
                cache.note(name, hash_token(token))
            cache.refresh_if_due(session)
        return (name,)

    return lookup


def _owner(cache: TokenCache, token: str, answer: tuple[str | None] | None) -> str | None:
    if answer is not None:
        return answer[0]
    cached = cache.source_of(token)
    if cached is None:
        raise TokenUnchecked
    return cached
