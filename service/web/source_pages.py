"""The dashboard's source pages: every source with its counters and last error, one source with
its drain URL and sender configurations, and (for admins) creating a source, rotating and
revoking its token. A new token is shown once, in the answer to the post that made it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlmodel import Session, col, func, select

from service.db import utcnow
from service.errors import ApiError
from service.incidents.gaps import recent_gaps
from service.incidents.quarantine import quarantine_json, recent_quarantine
from service.incidents.queries import list_sources, rfc3339
from service.incidents.tallies import incident_count
from service.models import QuarantinedRecord, Source, User
from service.runtime import Runtime
from service.sources import (
    SourceExists,
    SourceMissing,
    SourceNameError,
    add_source,
    get_source,
    revoke_token,
    rotate_token,
)
from service.web.counts import source_counters
from service.web.deps import PageUser, RuntimeDep, SessionDep
from service.web.drain_configs import base_url, drain_url, sender_configs
from service.web.refusals import Refusals
from service.web.tokens import token_cache

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)
ADMIN_ONLY = "Only an admin can create sources or change their tokens; ask one, or log in as one."


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, context, status_code=status)


def _refusals(request: Request) -> Refusals:
    refusals: Refusals = request.app.state.refusals
    return refusals


def _latest_quarantine(session: Session) -> dict[str, QuarantinedRecord]:
    """Return each source's latest quarantined record, in two statements whatever the count."""
    latest = select(func.max(QuarantinedRecord.id)).group_by(col(QuarantinedRecord.source))
    rows = session.exec(select(QuarantinedRecord).where(col(QuarantinedRecord.id).in_(latest)))
    return {row.source: row for row in rows}


def _last_error(
    name: str, quarantined: QuarantinedRecord | None, refusals: Refusals
) -> dict[str, Any] | None:
    """Return the newer of the source's last refused request and its last quarantined line."""
    found: list[tuple[datetime, str]] = []
    refusal = refusals.latest(name)
    if refusal is not None:
        text = f"{refusal.status} {refusal.code}: {refusal.detail}".strip()
        found.append((refusal.at, f"drain request refused: {text}"))
    if quarantined is not None:
        found.append((quarantined.quarantined_at, f"line quarantined: {quarantined.reason}"))
    if not found:
        return None
    at, text = max(found, key=lambda item: item[0])
    return {"at": rfc3339(at), "text": text}


def source_rows(session: Session, runtime: Runtime, refusals: Refusals) -> list[dict[str, Any]]:
    """Return every source's counters, spool depth, last log time and last error."""
    counters = source_counters(session, runtime.spool, tally=runtime.tally)
    stored = {source.name: source for source in list_sources(session)}
    quarantined = _latest_quarantine(session)
    rows = []
    for name, row in counters.items():
        source = stored.get(name)
        rows.append(
            {
                **row,
                "last_log_time": rfc3339(source.last_log_time) if source else None,
                "last_error": _last_error(name, quarantined.get(name), refusals),
            }
        )
    return rows


def _list_page(
    request: Request,
    session: Session,
    runtime: Runtime,
    user: User,
    *,
    status: int = 200,
    typed: str = "",
    error: str = "",
) -> HTMLResponse:
    base = base_url(request, runtime.settings)
    return _render(
        request,
        "sources.html.j2",
        status,
        user=user,
        sources=source_rows(session, runtime, _refusals(request)),
        gaps=recent_gaps(session, None, limit=20),
        quarantined=[quarantine_json(row) for row in recent_quarantine(session, None)],
        spool_damage=runtime.spool.damage,
        public_url=base,
        example_url=drain_url(base, typed or "NAME"),
        typed=typed,
        error=error,
    )


def _source_page(
    request: Request,
    session: Session,
    runtime: Runtime,
    user: User,
    name: str,
    *,
    status: int = 200,
    token: str | None = None,
    notice: str = "",
    error: str = "",
) -> HTMLResponse:
    rows = {row["name"]: row for row in source_rows(session, runtime, _refusals(request))}
    row = rows.get(name)
    if row is None:
        raise ApiError(404, "not_found", f"no source is called {name!r}")
    base = base_url(request, runtime.settings)
    settings = runtime.settings
    configs = sender_configs(
        base,
        name,
        token or "TOKEN",
        syslog_port=settings.syslog_port,
        syslog_source=settings.syslog_source,
    )
    response = _render(
        request,
        "source.html.j2",
        status,
        user=user,
        source=row,
        drain_url=drain_url(base, name),
        configs=configs,
        incidents=incident_count(session, source=name),
        token=token,
        notice=notice,
        error=error,
    )
    if token is not None:
        # The token is in this page only: no cache, shared or private, may keep a copy.
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/sources")
def sources_page(
    request: Request, session: SessionDep, runtime: RuntimeDep, user: PageUser
) -> HTMLResponse:
    """List the sources with their counters, spool depth and last error."""
    return _list_page(request, session, runtime, user)


@router.post("/sources")
def create_source(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    user: PageUser,
    name: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Create a source and show its token once; refuse a taken or invalid name in the page."""
    name = name.strip()
    if not user.is_admin:
        return _list_page(request, session, runtime, user, status=403, typed=name, error=ADMIN_ONLY)
    try:
        token = add_source(session, name, now=utcnow())
    except SourceNameError as error:
        session.rollback()
        return _list_page(request, session, runtime, user, status=400, typed=name, error=str(error))
    except SourceExists as error:
        session.rollback()
        message = f"{error}: to replace its token, rotate it on its page."
        return _list_page(request, session, runtime, user, status=409, typed=name, error=message)
    session.commit()
    _note_token(request, session, name)
    return _source_page(request, session, runtime, user, name, token=token)


@router.get("/sources/{name}")
def source_page(
    name: str, request: Request, session: SessionDep, runtime: RuntimeDep, user: PageUser
) -> HTMLResponse:
    """Show one source: counters, last error, drain URL and sender configurations."""
    return _source_page(request, session, runtime, user, name)


@router.post("/sources/{name}/rotate")
def rotate_source(
    name: str,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    user: PageUser,
    confirm: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Give the source a new token, shown once; the old one is refused from now on."""
    refused = _refusal_of_change(user, confirm, "rotate")
    if refused:
        return _source_page(
            request, session, runtime, user, name, status=refused[0], error=refused[1]
        )
    try:
        token = rotate_token(session, name, now=utcnow())
    except SourceMissing as error:
        raise ApiError(404, "not_found", str(error)) from error
    session.commit()
    _note_token(request, session, name)
    notice = "New token made. The previous one is refused from now on: update every sender."
    return _source_page(request, session, runtime, user, name, token=token, notice=notice)


@router.post("/sources/{name}/revoke")
def revoke_source(
    name: str,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    user: PageUser,
    confirm: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Revoke the source's token: its incidents stay, its drain is refused."""
    refused = _refusal_of_change(user, confirm, "revoke")
    if refused:
        return _source_page(
            request, session, runtime, user, name, status=refused[0], error=refused[1]
        )
    try:
        revoke_token(session, name)
    except SourceMissing as error:
        raise ApiError(404, "not_found", str(error)) from error
    session.commit()
    _note_token(request, session, name)
    notice = (
        "Token revoked: senders using it now get 401. The incidents and counters are kept; "
        "rotate to give the source a new token."
    )
    return _source_page(request, session, runtime, user, name, notice=notice)


def _refusal_of_change(user: User, confirm: str, action: str) -> tuple[int, str] | None:
    if not user.is_admin:
        return 403, ADMIN_ONLY
    if confirm != "yes":
        return 400, f"Tick the box to confirm: to {action} the token breaks every sender using it."
    return None


def _note_token(request: Request, session: Session, name: str) -> None:
    """Tell this process's token cache at once; other processes ask the database first."""
    source: Source | None = get_source(session, name)
    token_cache(request).note(name, source.token_hash if source is not None else None)
