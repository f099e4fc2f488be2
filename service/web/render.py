"""Rendering a dashboard page: its template with the time of the request as `now`, from which
the pages' relative ages ("12 min ago") are counted."""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.requests import Request

from service.db import utcnow


def render_page(request: Request, name: str, **context: Any) -> HTMLResponse:
    """Return the page `name` rendered with `context` and `now`."""
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, {"now": utcnow(), **context})
