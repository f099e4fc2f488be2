"""The incident page (the outage report of one incident, its lead and actions first) and the
form the person on call acts from: acknowledge, resolve, a timeline note, the operator's fields."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from service.db import utcnow
from service.errors import ApiError
from service.incidents.actions import format_lines, parse_lines
from service.incidents.operator import IncidentUpdate, TransitionError, update_incident
from service.incidents.queries import notifications_of
from service.reports.build import build_report
from service.reports.headline import title
from service.web.api import load_incident
from service.web.charts import bar_chart, hits_per_minute
from service.web.deps import PageUser, RuntimeDep, SessionDep
from service.web.errorpages import RefusedForm, refused_form, safe_local_path, wants_html
from service.web.render import render_page

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)


@router.get("/incidents/{incident_id}")
def incident_page(
    incident_id: int, request: Request, session: SessionDep, runtime: RuntimeDep, user: PageUser
) -> HTMLResponse:
    """Show the outage report of one incident (with a refused post's values, when it is one)."""
    return _incident_response(request, session, runtime, user, incident_id, refused_form(request))


def _incident_response(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    user: PageUser,
    incident_id: int,
    refused: RefusedForm | None,
) -> HTMLResponse:
    incident = load_incident(session, incident_id)
    report = build_report(
        session, incident, runtime.book.by_id, public_url=runtime.settings.public_url
    )
    chart = bar_chart(hits_per_minute(report.minutes), "hits per minute")
    assert incident.id is not None
    action_lines = format_lines(report.actions)
    form = {
        "owner": incident.owner or "",
        "fix_commit": incident.fix_commit or "",
        "business_impact": incident.business_impact or "",
        "note": "",
        "action_items": action_lines,
        **(refused.values if refused else {}),
    }
    return render_page(
        request,
        "incident.html.j2",
        user=user,
        report=report,
        incident=incident,
        chart=chart,
        notifications=notifications_of(session, incident.id),
        title=title(report, report.severity.level if report.severity else incident.severity),
        action_lines=action_lines,
        form=form,
        refused=refused,
    )


@router.post("/incidents/{incident_id}/update", response_model=None)
def incident_form(
    incident_id: int,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    user: PageUser,
    status: Annotated[str, Form()] = "",
    owner: Annotated[str | None, Form()] = None,
    fix_commit: Annotated[str | None, Form()] = None,
    business_impact: Annotated[str | None, Form()] = None,
    note: Annotated[str | None, Form()] = None,
    action_items: Annotated[str | None, Form()] = None,
    action_items_shown: Annotated[str, Form()] = "",
    return_to: Annotated[str, Form()] = "",
) -> Response:
    """Apply the incident page's form, then show the page it came from again."""
    try:
        # The box shows the suggested items until the operator has their own: an untouched box
        # keeps them suggestions.
        edited = action_items is not None and parse_lines(action_items) != parse_lines(
            action_items_shown
        )
        change = IncidentUpdate(
            action_items=parse_lines(action_items or "") if edited else None,
            status=status or None,
            owner=owner,
            fix_commit=fix_commit,
            business_impact=business_impact,
            # The note box starts empty: what is typed in it goes on the timeline once.
            note=note or None,
        )
        update_incident(
            session, load_incident(session, incident_id), change, user=user.username, now=utcnow()
        )
    except (ValidationError, TransitionError) as error:
        detail = str(error).splitlines()[0]
        if not wants_html(request.url.path, request.headers):
            raise ApiError(422, "invalid_request", detail) from error
        session.rollback()
        typed = {
            "owner": owner or "",
            "fix_commit": fix_commit or "",
            "business_impact": business_impact or "",
            "note": note or "",
            "action_items": action_items or "",
        }
        refused = RefusedForm(status=422, detail=f"Nothing was changed: {detail}.", values=typed)
        response = _incident_response(request, session, runtime, user, incident_id, refused)
        response.status_code = 422
        return response
    session.commit()
    back = safe_local_path(return_to) or f"/incidents/{incident_id}"
    return RedirectResponse(back, status_code=303)
