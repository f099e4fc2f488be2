"""The dashboard's outage pages: the list of outages, and one outage told as one story."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from service.outages.queries import list_outages, outage_json
from service.reports.outage import build_outage_story, headline, outage_title
from service.web.api import load_outage
from service.web.charts import span_chart
from service.web.deps import PageUser, RuntimeDep, SessionDep
from service.web.errorpages import refused_form
from service.web.render import render_page

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)


def _render(request: Request, name: str, **context: Any) -> HTMLResponse:
    return render_page(request, name, **context)


@router.get("/outages")
def outages_page(
    request: Request,
    session: SessionDep,
    user: PageUser,
    status: str | None = None,
    source: str | None = None,
) -> HTMLResponse:
    """List outages, newest first, with filters."""
    status = status if status in ("open", "resolved") else None
    found = list_outages(session, status=status, source=source or None)
    return _render(
        request,
        "outages.html.j2",
        user=user,
        outages=[outage_json(session, o) for o in found],
        filters={"status": status or "", "source": source or ""},
    )


@router.get("/outages/{outage_id}")
def outage_page(
    outage_id: int, request: Request, session: SessionDep, runtime: RuntimeDep, user: PageUser
) -> HTMLResponse:
    """Show one outage: what broke first, what it brought, the deploys and the timeline."""
    story = build_outage_story(
        session,
        load_outage(session, outage_id),
        runtime.book.by_id,
        runtime.book.matcher.outage_rules,
        public_url=runtime.settings.public_url,
    )
    spans = [
        (
            m.incident.id or 0,
            m.incident.first_seen,
            m.incident.last_seen,
            m.incident.status == "resolved",
        )
        for m in story.members
        if m.incident.first_seen is not None and m.incident.last_seen is not None
    ]
    unresolved = [m.incident for m in story.members if m.incident.status != "resolved"]
    cause = story.cause.incident
    acting = cause if cause.status != "resolved" else (unresolved[0] if unresolved else None)
    refused = refused_form(request)
    return _render(
        request,
        "outage.html.j2",
        user=user,
        acting=acting,
        others=[i for i in unresolved if i is not acting],
        refused=refused,
        form={"note": refused.values.get("note", "")} if refused else None,
        story=story,
        outage=story.outage,
        headline=headline(story),
        title=outage_title(story),
        chart=span_chart(spans, "incidents of the outage over time"),
    )
