"""`GET /healthz` (no login): the process, the database, the spool and the processor, answered
within seconds; "degraded" (still 200, so a supervisor does not restart a process whose spool is
what keeps ingest going) while the database is down, the processor fails, or it lags."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from service.db import utcnow
from service.incidents.quarantine import quarantine_counts
from service.runtime import Runtime
from service.web.deps import RuntimeDep
from service.worker import WorkerState

router = APIRouter(tags=["health"])
DATABASE_CHECK_SECONDS = 2.0
# The processor lags when the oldest batch waiting in the spool is older than this.
LAG_SECONDS = 60.0


def _ping(runtime: Runtime) -> str:
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return f"down: {type(error).__name__}"
    return "ok"


def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def processor_view(state: WorkerState, oldest: datetime | None, *, now: datetime) -> dict[str, Any]:
    """Return the processor's part of /healthz: its state word, failures, lag and last error."""
    lag = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    if state.failures:
        word = "database down" if state.database_down else "failing"
    elif lag > LAG_SECONDS:
        word = "lagging"
    else:
        word = "ok"
    return {
        "state": word,
        "running": state.running,
        "failures": state.failures,
        "last_error": state.last_error or None,
        "failing_since": _stamp(state.failing_since),
        "last_success_at": _stamp(state.last_success_at),
        "lag_seconds": round(lag, 1),
    }


def health_body(runtime: Runtime, database: str, *, now: datetime) -> dict[str, Any]:
    """Return the /healthz body for a database state found by `_ping`."""
    spool = runtime.spool
    processor = processor_view(runtime.processor.state, spool.oldest_pending_at(), now=now)
    degraded = []
    if database != "ok":
        degraded.append(f"database: {database}")
    if processor["state"] != "ok":
        degraded.append(f"processor: {processor['state']}")
    return {
        "status": "degraded" if degraded else "ok",
        "degraded": degraded,
        "database": database,
        "spool_bytes": spool.size_bytes,
        "spool_lines": sum(spool.pending_lines().values()),
        "processor_error": runtime.processor.last_error or processor["last_error"],
        "processor": processor,
        "spool_damage": spool.damage or None,
        "signatures": len(runtime.book.signatures),
    }


@router.get("/healthz")
async def healthz(runtime: RuntimeDep) -> JSONResponse:
    """Report the service, database, spool and processor state; never wait long on anything."""
    try:
        database = await asyncio.wait_for(
            asyncio.to_thread(_ping, runtime), timeout=DATABASE_CHECK_SECONDS
        )
    except TimeoutError:
        database = "down: no answer in time"
    body = await asyncio.to_thread(health_body, runtime, database, now=utcnow())
    return JSONResponse(body)


@router.get("/metrics")
def metrics(runtime: RuntimeDep) -> Response:
    """Return the Prometheus metrics."""
    runtime.metrics.spool_bytes.set(runtime.spool.size_bytes)
    runtime.metrics.signatures_disabled.set(len(runtime.processor.disabled))
    runtime.metrics.spool_damaged.set(1 if runtime.spool.damage else 0)
    for source, reasons in runtime.tally.counts().items():
        for reason, count in reasons.items():
            runtime.metrics.source_times_ignored.labels(source=source, reason=reason).set(count)
    try:
        with Session(runtime.engine) as session:
            for source, count in quarantine_counts(session).items():
                runtime.metrics.lines_quarantined.labels(source=source).set(count)
    except SQLAlchemyError:
        pass  # the database is down: the last counts stay, the rest of the metrics still answer
    return Response(runtime.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
