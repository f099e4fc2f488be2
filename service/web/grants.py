"""Ingest tokens: what a presented token opens, checked on the event loop.

The global token is compared in place; a source's own token is looked up in the database in the
token cache's threads (`service.web.tokens`), its cache deciding while the database is down.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.errors import ApiError
from service.runtime import Runtime
from service.sources import SourceNameError, check_source_name
from service.web.deps import RuntimeDep, basic_credentials
from service.web.tokens import (
    TokenUnchecked,
    source_for_token_async,
    token_cache,
    token_opens_source_async,
)


@dataclass(frozen=True, slots=True)
class Grant:
    """What a presented ingest token opens: every source (`source` None), or one source."""

    source: str | None


def presented_token(request: Request) -> str | None:
    """Return the ingest token from Bearer, Basic password or `?token=`, whichever came."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    credentials = basic_credentials(request)
    if credentials is not None and credentials[1]:
        return credentials[1]
    return request.query_params.get("token") or None


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", detail)


def _database_down() -> ApiError:
    return ApiError(
        503,
        "unavailable",
        "the token cannot be checked while the database is down",
        headers={"Retry-After": "5"},
    )


def _required_token(request: Request) -> str:
    token = presented_token(request)
    if token is None:
        raise _unauthorized("send the ingest token as Bearer, Basic password or ?token=")
    return token


def _is_global(token: str, runtime: Runtime) -> bool:
    expected = runtime.settings.ingest_token
    return bool(expected) and hmac.compare_digest(token.encode(), str(expected).encode())


async def authorize_source(source: str, request: Request, runtime: RuntimeDep) -> str:
    """Return the source named in the URL when the token is valid for it; else 400 or 401."""
    try:
        check_source_name(source)
    except SourceNameError as error:
        raise ApiError(400, "bad_source", str(error)) from error
    token = _required_token(request)
    if _is_global(token, runtime):
        return source
    try:
        valid = await token_opens_source_async(
            token_cache(request),
            runtime.engine,
            source,
            token,
            database_down=runtime.processor.state.database_down,
        )
    except TokenUnchecked as error:
        raise _database_down() from error
    if not valid:
        raise _unauthorized("the ingest token is not valid for this source")
    return source


async def authorize_any(request: Request, runtime: RuntimeDep) -> Grant:
    """Return what the token opens, for routes whose payload names its sources; else 401.

    The global token lets the payload's labels choose the source; a source's own token sends
    everything to that source, whatever the labels say.
    """
    token = _required_token(request)
    if _is_global(token, runtime):
        return Grant(None)
    try:
        name = await source_for_token_async(
            token_cache(request),
            runtime.engine,
            token,
            database_down=runtime.processor.state.database_down,
        )
    except TokenUnchecked as error:
        raise _database_down() from error
    if name is None:
        raise _unauthorized("the ingest token is not valid for any source")
    return Grant(name)


AnyGrant = Annotated[Grant, Depends(authorize_any)]
