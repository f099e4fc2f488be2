"""The in-memory cache of source tokens that ingest falls back on while the database is down."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, create_engine
from sqlmodel import Session

from service.db import session_scope, utcnow
from service.sources import hash_token, issue_token
from service.web.tokens import TokenCache, TokenUnchecked, source_for_token, token_opens_source


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def issue(engine: Engine, name: str) -> str:
    with session_scope(engine) as session:
        return issue_token(session, name, now=utcnow())


def down(tmp_path: object) -> Engine:
    return create_engine(f"sqlite:///{tmp_path}/missing/x.db")


def test_a_token_issued_elsewhere_is_cached_by_the_next_reload(
    engine: Engine, tmp_path: object
) -> None:
    clock = Clock()
    cache = TokenCache(refresh_seconds=30.0, clock=clock)
    with Session(engine) as session:
        assert cache.load(session) == 0
    token = issue(engine, "billing")  # another process, e.g. `drainwatch source add`
    other = issue(engine, "shop")
    dead = down(tmp_path)
    clock.now = 10.0
    assert token_opens_source(cache, engine, "shop", other)
    assert cache.hash_of("billing") is None, "reloaded before refresh_seconds"
    clock.now = 31.0
    assert token_opens_source(cache, engine, "shop", other)
    assert token_opens_source(cache, dead, "billing", token)
    assert source_for_token(cache, dead, token) == "billing"
    dead.dispose()


def test_without_a_cached_token_an_outage_leaves_the_token_unchecked(tmp_path: object) -> None:
    cache = TokenCache()
    dead = down(tmp_path)
    with pytest.raises(TokenUnchecked):
        token_opens_source(cache, dead, "billing", "dw_x")
    with pytest.raises(TokenUnchecked):
        source_for_token(cache, dead, "dw_x")
    dead.dispose()


def test_the_database_answer_wins_over_the_cache(engine: Engine) -> None:
    cache = TokenCache()
    cache.note("billing", hash_token("dw_stale"))
    assert not token_opens_source(cache, engine, "billing", "dw_stale")
    assert cache.hash_of("billing") is None
    cache.note("billing", hash_token("dw_stale"))
    assert source_for_token(cache, engine, "dw_stale") is None
    assert cache.source_of("dw_stale") is None


def test_after_a_failed_lookup_the_database_is_left_alone_for_a_moment(
    engine: Engine, tmp_path: object
) -> None:
    clock = Clock()
    cache = TokenCache(recheck_seconds=2.0, clock=clock)
    token = issue(engine, "billing")
    dead = down(tmp_path)
    with pytest.raises(TokenUnchecked):
        token_opens_source(cache, dead, "billing", token)
    dead.dispose()
    # The database answers again, but a hanging one would hold every request: wait out the pause.
    with pytest.raises(TokenUnchecked):
        token_opens_source(cache, engine, "billing", token)
    clock.now = 2.5
    assert token_opens_source(cache, engine, "billing", token)
    with pytest.raises(TokenUnchecked):
        source_for_token(cache, engine, issue(engine, "shop"), database_down=True)


def test_a_lookup_the_database_does_not_answer_is_left_to_the_cache() -> None:
    cache = TokenCache(recheck_seconds=60.0)
    release = threading.Event()
    started = time.monotonic()
    assert cache.ask(lambda: release.wait(10), timeout=0.2) is None
    assert time.monotonic() - started < 2
    assert cache.skip_database(database_down=False), "the next requests go to the cache at once"
    release.set()
    assert TokenCache().ask(lambda: "answered") == "answered"
