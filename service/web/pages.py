"""The dashboard: overview, incidents, the outage-report page, signatures, sources, login."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from time import monotonic
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markupsafe import Markup
from pydantic import ValidationError

from service.db import utcnow
from service.errors import ApiError
from service.incidents.actions import format_lines, parse_lines
from service.incidents.gaps import recent_gaps
from service.incidents.operator import IncidentUpdate, TransitionError, update_incident
from service.incidents.quarantine import quarantine_json, recent_quarantine
from service.incidents.queries import list_incidents, notifications_of
from service.outages.queries import list_outages, outage_json
from service.reports import timefmt
from service.reports.build import build_report
from service.reports.headline import title
from service.users import (
    LoginThrottle,
    LoginThrottled,
    authenticate_throttled,
    csrf_token,
    end_login,
    start_login,
)
from service.web.api import load_incident
from service.web.charts import bar_chart, hits_per_minute
from service.web.counts import source_counters
from service.web.deps import (
    SESSION_COOKIE,
    PageUser,
    RuntimeDep,
    SessionDep,
    client_address,
    retry_after,
)
from service.web.guard import page_csrf_token

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


def page_templates(templates_dir: Path) -> Jinja2Templates:
    """Return the HTML templates with autoescape on and the page filters registered."""
    templates = Jinja2Templates(directory=templates_dir / "pages")
    templates.env.autoescape = True
    templates.env.filters.update(
        stamp=timefmt.stamp,
        clock=timefmt.clock,
        since=_since,
        seconds=_seconds,
        markdown=lambda text: Markup(_markdown.render(text)),  # noqa: S704 - raw HTML disabled
        inline=lambda text: Markup(_markdown.renderInline(text)),  # noqa: S704 - raw HTML disabled
    )
    templates.env.globals["csrf_token"] = page_csrf_token
    return templates


def unavailable_page(request: Request, reason: str, retry_after: int) -> HTMLResponse:
    """Return the 503 page shown while the database cannot be reached."""
    response = _render(
        request, "unavailable.html.j2", user=None, reason=reason, retry_after=retry_after
    )
    response.status_code = 503
    response.headers["Retry-After"] = str(retry_after)
    return response


def _seconds(value: int | None) -> str:
    """Show a duration in whole seconds of the JSON views as the pages show durations."""
    return timefmt.duration(timedelta(seconds=value) if value is not None else None)


def _since(value: str | None) -> str:
    """Show an RFC 3339 time of the JSON views as the pages show times ("never" for none)."""
    return timefmt.stamp(datetime.fromisoformat(value)) if value else "never"


def _render(request: Request, name: str, **context: Any) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, context)


@router.get("/")
def overview(
    request: Request, session: SessionDep, runtime: RuntimeDep, user: PageUser
) -> HTMLResponse:
    """Show open incidents by severity, the open outages, the latest incidents, the sources."""
    open_incidents = list_incidents(session, status="open")
    severities = {
        s: sum(1 for i in open_incidents if i.severity == s)
        for s in ("critical", "high", "medium", "low")
    }
    return _render(
        request,
        "overview.html.j2",
        user=user,
        severities=severities,
        open_incidents=open_incidents[:20],
        open_outages=[
            outage_json(session, o) for o in list_outages(session, status="open", limit=10)
        ],
        recent=list_incidents(session, limit=10),
        sources=list(source_counters(session, runtime.spool).values()),
    )


@router.get("/incidents")
def incidents_page(
    request: Request,
    session: SessionDep,
    user: PageUser,
    status: str | None = None,
    source: str | None = None,
    signature: str | None = None,
) -> HTMLResponse:
    """List incidents with filters."""
    status = status if status in ("open", "acknowledged", "resolved") else None
    found = list_incidents(
        session, status=status, source=source or None, signature=signature or None
    )
    return _render(
        request,
        "incidents.html.j2",
        user=user,
        incidents=found,
        filters={"status": status or "", "source": source or "", "signature": signature or ""},
    )


@router.get("/incidents/{incident_id}")
def incident_page(
    incident_id: int, request: Request, session: SessionDep, runtime: RuntimeDep, user: PageUser
) -> HTMLResponse:
    """Show the outage report of one incident."""
    incident = load_incident(session, incident_id)
    report = build_report(
        session, incident, runtime.book.by_id, public_url=runtime.settings.public_url
    )
    chart = bar_chart(hits_per_minute(report.minutes), "hits per minute")
    assert incident.id is not None
    return _render(
        request,
        "incident.html.j2",
        user=user,
        report=report,
        incident=incident,
        chart=chart,
        notifications=notifications_of(session, incident.id),
        title=title(report, report.severity.level if report.severity else incident.severity),
        action_lines=format_lines(report.actions),
    )


@router.post("/incidents/{incident_id}/update", response_model=None)
def incident_form(
    incident_id: int,
    request: Request,
    session: SessionDep,
    user: PageUser,
    status: Annotated[str, Form()] = "",
    owner: Annotated[str | None, Form()] = None,
    fix_commit: Annotated[str | None, Form()] = None,
    business_impact: Annotated[str | None, Form()] = None,
    note: Annotated[str | None, Form()] = None,
    action_items: Annotated[str | None, Form()] = None,
    action_items_shown: Annotated[str, Form()] = "",
) -> Response:
    """Apply the incident page's form, then show the page again."""
    _same_origin(request)
    # The box shows the suggested items until the operator has their own: an untouched box
    # keeps them suggestions.
    edited = action_items is not None and parse_lines(action_items) != parse_lines(
        action_items_shown
    )
    try:
        change = IncidentUpdate(
            action_items=parse_lines(action_items or "") if edited else None,
            status=status or None,
            owner=owner,
            fix_commit=fix_commit,
            business_impact=business_impact,
            note=note,
        )
        update_incident(
            session, load_incident(session, incident_id), change, user=user.username, now=utcnow()
        )
    except (ValidationError, TransitionError) as error:
        raise ApiError(422, "invalid_request", str(error).splitlines()[0]) from error
    session.commit()
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)


def _same_origin(request: Request) -> None:
    # The session cookie is SameSite=Lax; checking Origin as well closes the rest of CSRF.
    origin = request.headers.get("origin")
    if origin and origin.rstrip("/") != str(request.base_url).rstrip("/"):
        raise ApiError(403, "cross_origin", "form posts must come from drainwatch's own pages")


@router.get("/patterns")
def patterns_page(request: Request, runtime: RuntimeDep, user: PageUser) -> HTMLResponse:
    """List the loaded signatures."""
    return _render(
        request,
        "patterns.html.j2",
        user=user,
        signatures=runtime.book.signatures,
        disabled=runtime.processor.disabled,
        skipped=runtime.book.problems,
    )


@router.get("/sources")
def sources_page(
    request: Request, session: SessionDep, runtime: RuntimeDep, user: PageUser
) -> HTMLResponse:
    """List the sources and their counters."""
    return _render(
        request,
        "sources.html.j2",
        user=user,
        sources=list(source_counters(session, runtime.spool, tally=runtime.tally).values()),
        gaps=recent_gaps(session, None, limit=20),
        quarantined=[quarantine_json(row) for row in recent_quarantine(session, None)],
        spool_damage=runtime.spool.damage,
        public_url=runtime.settings.public_url.rstrip("/"),
    )


def _safe_next(next_path: str) -> str:
    return next_path if next_path.startswith("/") and not next_path.startswith("//") else "/"


# The login form is posted before there is a session to bind a CSRF token to, so it is bound to
# a short-lived cookie of its own (double submit): another site can make a browser post the form,
# but cannot read the cookie to compute the token, so it cannot log the browser in as somebody else.
LOGIN_COOKIE = "drainwatch_login"
_LOGIN_COOKIE_AGE = 3600


def _login_page(
    request: Request, next_path: str, error: str = "", status: int = 200, fresh: bool = False
) -> HTMLResponse:
    """Render the login form with the token of its cookie (a new cookie when `fresh` or none)."""
    binding = request.cookies.get(LOGIN_COOKIE, "")
    minted = fresh or not binding
    if minted:
        binding = secrets.token_urlsafe(32)
    response = _render(
        request,
        "login.html.j2",
        user=None,
        next=_safe_next(next_path),
        error=error,
        login_token=csrf_token(binding),
    )
    response.status_code = status
    if minted:
        response.set_cookie(
            LOGIN_COOKIE,
            binding,
            httponly=True,
            samesite="strict",
            path="/login",
            secure=request.app.state.runtime.settings.public_url.startswith("https://"),
            max_age=_LOGIN_COOKIE_AGE,
        )
    return response


def _login_form_is_ours(request: Request, presented: str) -> bool:
    binding = request.cookies.get(LOGIN_COOKIE, "")
    return bool(binding and presented) and hmac.compare_digest(presented, csrf_token(binding))


@router.get("/login")
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    """Show the login form."""
    return _login_page(request, next)


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
    form_token: Annotated[str, Form(alias="csrf_token")] = "",
) -> Response:
    """Check credentials; on success set the session cookie and go where the user was headed."""
    if not _login_form_is_ours(request, form_token):
        return _login_page(
            request,
            next,
            error="This login form has expired or did not come from drainwatch: log in again.",
            status=403,
            fresh=True,
        )
    throttle: LoginThrottle = request.app.state.login_throttle
    try:
        user = authenticate_throttled(
            session, throttle, username, password, address=client_address(request), now=monotonic()
        )
    except LoginThrottled as error:
        response = _login_page(
            request, next, error=f"Too many failed logins: try again in {retry_after(error)} s."
        )
        response.status_code = 429
        response.headers["Retry-After"] = retry_after(error)
        return response
    if user is None:
        return _login_page(request, next, error="Wrong user name or password.", status=401)
    token = start_login(session, user, now=utcnow())
    session.commit()
    redirect = RedirectResponse(_safe_next(next), status_code=303)
    redirect.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=runtime.settings.public_url.startswith("https://"),
        max_age=7 * 24 * 3600,
    )
    redirect.delete_cookie(LOGIN_COOKIE, path="/login")
    return redirect


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> RedirectResponse:
    """End the login session."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        end_login(session, token)
        session.commit()
    redirect = RedirectResponse("/login", status_code=303)
    redirect.delete_cookie(SESSION_COOKIE)
    return redirect
