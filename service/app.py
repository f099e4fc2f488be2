"""The app factory: builds the runtime from settings, wires routes, errors and headers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from time import monotonic
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from service import __version__
from service.db import create_db_engine
from service.dbsetup import DatabaseSetup
from service.errors import ApiError
from service.listener import SyslogListener, tls_context
from service.logconfig import LOG_FORMAT, configure_logging
from service.metrics import Metrics
from service.models import Outage
from service.notify.deliver import Dispatcher
from service.notify.paging import Pager
from service.notify.payload import outage_payload
from service.processor import Processor, processor_for
from service.pull.render import RenderPoller, pullers_from_settings
from service.ratelimit import RateLimiter
from service.remote_processor import RemoteProcessor
from service.reports.render import report_environment
from service.runtime import Runtime, SignatureBook
from service.settings import Settings
from service.signatures.reload import Reloader, install_sighup
from service.sources import check_source_name
from service.spool.channel import Channel
from service.spool.store import Spool
from service.supervisor import processor_child
from service.web import (
    api,
    drains,
    health,
    incident_pages,
    loki,
    otlp,
    outage_pages,
    pages,
    playground,
    source_pages,
    user_pages,
)
from service.web.accesslog import install_access_log_filter
from service.web.breaker import DatabaseBreaker, is_refusal
from service.web.deps import LoginRequired
from service.web.errorpages import error_page, wants_html
from service.web.guard import install_guards
from service.web.intake import INGEST_PREFIXES
from service.web.refusals import RecordRefusals, Refusals
from service.web.security import SecurityHeaders
from service.web.tokens import TokenCache
from service.worker import Worker, database_unavailable, failure_reason

__all__ = ["LOG_FORMAT", "configure_logging", "create_app"]
log = logging.getLogger("drainwatch")
# Seconds a client is told to wait (Retry-After) while the database cannot be reached.
DATABASE_RETRY_AFTER = 5


PROCESSOR_MODES = ("thread", "process", "none")
"""Where the processor runs: a thread of this process, a child process this process supervises
(`drainwatch process`), or elsewhere (another process on the same spool directory)."""


def build_runtime(
    settings: Settings, *, processor_mode: str = "thread", log_level: str = "info"
) -> Runtime:
    """Open the database (migrated), the spool and the signatures; do not start threads yet."""
    if processor_mode not in PROCESSOR_MODES:
        raise ValueError(f"processor mode {processor_mode!r}: one of {', '.join(PROCESSOR_MODES)}")
    engine = create_db_engine(
        settings.database_url, deadline_seconds=settings.database_deadline_seconds
    )
    setup = DatabaseSetup(engine, settings)
    setup.first_attempt()
    book = SignatureBook(settings)
    spool = Spool(settings.spool_dir, max_bytes=settings.spool_max_bytes)
    processor: Processor | RemoteProcessor
    if processor_mode == "thread":
        processor = processor_for(
            settings,
            engine=engine,
            spool=spool,
            matcher=lambda: book.matcher,
            prepared=setup.ready.is_set,
        )
    else:
        child = processor_child(log_level) if processor_mode == "process" else None
        processor = RemoteProcessor(Channel(spool.path), child=child)
        book.on_reload = processor.patterns_reloaded
    metrics = Metrics()
    pullers = pullers_from_settings(settings, spool)
    puller = None
    if pullers:
        puller = Worker(
            "drainwatch-render-pull",
            RenderPoller(pullers).step,
            interval_seconds=settings.render_poll_seconds,
            max_backoff_seconds=max(settings.render_poll_seconds, 300.0),
            meanwhile="logs stay on Render until the next pull",
        )
    report_env = report_environment(settings.templates_dir)

    def describe(session: Session, outage: Outage, event: str, reason: str) -> dict[str, Any]:
        return outage_payload(
            session,
            outage,
            event,
            reason,
            signatures=book.by_id,
            rules=book.matcher.outage_rules,
            public_url=settings.public_url,
            env=report_env,
        )

    return Runtime(
        settings=settings,
        engine=engine,
        book=book,
        spool=spool,
        processor=processor,
        setup=setup,
        dispatcher=Dispatcher(engine, settings, metrics=metrics),
        pager=Pager(engine, settings, describe, metrics=metrics),
        metrics=metrics,
        report_env=report_env,
        limiter=RateLimiter(settings.rate_limit_lines, settings.rate_limit_burst),
        puller=puller,
    )


def syslog_listener(runtime: Runtime) -> SyslogListener | None:
    """Return the syslog listener the settings ask for, if any."""
    settings = runtime.settings
    if settings.syslog_port is None:
        return None
    tls = None
    if settings.tls_cert is not None and settings.tls_key is not None:
        tls = tls_context(settings.tls_cert, settings.tls_key)
    return SyslogListener(
        runtime,
        host=settings.syslog_host,
        port=settings.syslog_port,
        source=check_source_name(settings.syslog_source),
        tls=tls,
    )


def create_app(
    settings: Settings | None = None,
    *,
    start_processor: bool = True,
    processor_mode: str = "thread",
    primary: bool = True,
    log_level: str = "info",
) -> FastAPI:
    """Return the drainwatch ASGI app for these settings.

    `processor_mode` is one of `PROCESSOR_MODES`. Of several web processes on one spool, only the
    `primary` one runs the syslog listener, the Render puller and the notification dispatcher.
    """
    settings = settings or Settings()
    runtime = build_runtime(settings, processor_mode=processor_mode, log_level=log_level)
    tokens = TokenCache()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.setup.start()  # only while the database could not be set up at start-up
        tokens.load_quietly(runtime.engine)
        if start_processor:
            runtime.processor.start()
            if primary:  # its outbox is a table: it waits for the database to be set up
                runtime.setup.when_ready(runtime.dispatcher.start)
                runtime.setup.when_ready(runtime.pager.start)
            if runtime.puller is not None and primary:
                runtime.puller.start()
        listener = runtime.listener = syslog_listener(runtime) if primary else None
        if listener is not None:
            await listener.start()
        # `kill -HUP <pid>` reloads the signature files; a set that fails validation is refused.
        uninstall_sighup = install_sighup(Reloader(runtime.book.reload))
        runtime.started.set()
        try:
            yield
        finally:
            uninstall_sighup()
            if listener is not None:
                await listener.stop()
            if runtime.puller is not None:
                runtime.puller.stop()
            runtime.setup.stop()
            runtime.processor.stop(settings.shutdown_timeout_seconds)
            runtime.dispatcher.stop()
            runtime.pager.stop()
            runtime.close_tally()
            runtime.spool.close()
            runtime.engine.dispose()

    app = FastAPI(title="drainwatch", version=__version__, lifespan=lifespan)
    app.state.runtime = runtime
    app.state.tokens = tokens
    app.state.breaker = DatabaseBreaker()
    app.state.templates = pages.page_templates(settings.templates_dir)
    app.mount("/static", StaticFiles(directory=settings.templates_dir / "static"), name="static")
    for module in (health, drains, otlp, loki, api, pages, incident_pages, outage_pages):
        app.include_router(module.router)
    for module in (source_pages, user_pages, playground):
        app.include_router(module.router)
    _install_error_handlers(app)
    install_access_log_filter()
    install_guards(app)
    app.state.refusals = Refusals()
    app.add_middleware(RecordRefusals, refusals=app.state.refusals)
    # Outermost, so the guards' own answers (a refused form's page) carry the headers too.
    _install_headers(app)
    return app


def _error(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    def count(request: Request, code: str) -> None:
        if request.url.path.startswith(INGEST_PREFIXES):
            request.app.state.runtime.metrics.requests_rejected.labels(error=code).inc()

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> Response:
        count(request, error.code)
        if wants_html(request.url.path, request.headers):
            return error_page(
                request, error.status, error.detail, code=error.code, headers=error.headers
            )
        return _error(error.status, error.code, error.detail, error.headers)

    @app.exception_handler(LoginRequired)
    async def login_required(_request: Request, error: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(error.next_path)}", status_code=303)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        count(request, "invalid_request")
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in error.errors()
        )
        if wants_html(request.url.path, request.headers):
            return error_page(request, 422, problems or "the request is not valid")
        return _error(422, "invalid_request", problems or "the request is not valid")

    async def database_down(request: Request, error: Exception) -> Response:
        # Until the database is set up (it could not be reached at start-up), its tables may
        # not exist yet: whatever a query meets then is the database not being there yet.
        if not database_unavailable(error) and request.app.state.runtime.setup.ready.is_set():
            raise error
        started = getattr(request.state, "database_since", None)
        if started is not None and not is_refusal(error):
            # After a long wait, the next requests answer 503 without waiting (web/breaker.py).
            request.app.state.breaker.failed(monotonic() - started)
        reason = failure_reason(error)
        log.warning(
            "%s %s answered 503: the database is unavailable (%s)",
            request.method,
            request.url.path,
            reason,
        )
        if _wants_json(request):
            count(request, "unavailable")
            return _error(
                503,
                "unavailable",
                f"the database is unavailable ({reason}); try again shortly",
                {"Retry-After": str(DATABASE_RETRY_AFTER)},
            )
        return pages.unavailable_page(request, reason, DATABASE_RETRY_AFTER)

    # Registered on the base class, so whichever route or dependency met the outage (a query, a
    # login check, a commit) answers 503 and no route needs its own handling.
    app.add_exception_handler(SQLAlchemyError, database_down)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        count(request, code)
        if wants_html(request.url.path, request.headers):
            detail = (
                f"No page of drainwatch is at {request.url.path}."
                if error.status_code == 404
                else str(error.detail)
            )
            return error_page(
                request, error.status_code, detail, code=code, headers=dict(error.headers or {})
            )
        return _error(error.status_code, code, str(error.detail), dict(error.headers or {}))


def _wants_json(request: Request) -> bool:
    """Return True for the JSON API and ingest; dashboard pages answer with HTML."""
    path = request.url.path
    return path.startswith(("/api/", "/metrics", "/healthz", *INGEST_PREFIXES))


def _install_headers(app: FastAPI) -> None:
    app.add_middleware(SecurityHeaders)
