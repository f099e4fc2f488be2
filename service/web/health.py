"""`GET /healthz` (no login): the process, the database and the spool, answered within seconds."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from service.incidents.quarantine import quarantine_counts
from service.runtime import Runtime
from service.web.deps import RuntimeDep

router = APIRouter(tags=["health"])
DATABASE_CHECK_SECONDS = 2.0


def _ping(runtime: Runtime) -> str:
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return f"down: {type(error).__name__}"
    return "ok"


@router.get("/healthz")
async def healthz(runtime: RuntimeDep) -> JSONResponse:
    """Report the service, database and spool state; never wait on the database for long."""
    try:
        database = await asyncio.wait_for(
            asyncio.to_thread(_ping, runtime), timeout=DATABASE_CHECK_SECONDS
        )
    except TimeoutError:
        database = "down: no answer in time"
    body: dict[str, Any] = {
        "status": "ok",
        "database": database,
        "spool_bytes": runtime.spool.size_bytes,
        "spool_lines": sum(runtime.spool.pending_lines().values()),
        "processor_error": runtime.processor.last_error or None,
        "spool_damage": runtime.spool.damage or None,
        "signatures": len(runtime.book.signatures),
    }
    return JSONResponse(body)


@router.get("/metrics")
def metrics(runtime: RuntimeDep) -> Response:
    """Return the Prometheus metrics."""
    runtime.metrics.spool_bytes.set(runtime.spool.size_bytes)
    runtime.metrics.signatures_disabled.set(len(runtime.book.matcher.disabled))
    runtime.metrics.spool_damaged.set(1 if runtime.spool.damage else 0)
    try:
        with Session(runtime.engine) as session:
            for source, count in quarantine_counts(session).items():
                runtime.metrics.lines_quarantined.labels(source=source).set(count)
    except SQLAlchemyError:
        pass  # the database is down: the last counts stay, the rest of the metrics still answer
    return Response(runtime.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
