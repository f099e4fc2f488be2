"""What a browser is shown when drainwatch refuses it: error pages in the dashboard's layout, and
a refused form shown again with what was typed. The JSON API and the ingest routes keep their
JSON answers (CONTRACT §4); only a request for a page that accepts HTML gets a page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import Headers
from starlette.requests import Request

from service.web.deps import SESSION_COOKIE
from service.web.intake import INGEST_PREFIXES

JSON_PREFIXES = ("/api/", "/metrics", "/healthz", "/docs", "/redoc", "/openapi.json")
# The scope key under which a refused form post, shown again on its page, travels to that page.
REFUSED_KEY = "drainwatch.refused_form"
# Fields of drainwatch's forms that are no part of what a person typed.
HIDDEN_FIELDS = frozenset({"csrf_token", "return_to"})
_TITLES = {
    400: "This request could not be read",
    401: "Log in to see this page",
    403: "drainwatch refused this",
    404: "There is nothing here",
    405: "This address does not take that method",
    409: "This conflicts with what is already there",
    413: "This is too large",
    422: "drainwatch could not accept this",
    429: "Too many attempts",
}


@dataclass(frozen=True, slots=True)
class RefusedForm:
    """A form post that was refused: why, and the fields as they were typed."""

    status: int
    detail: str
    values: Mapping[str, str]


def wants_html(path: str, headers: Headers) -> bool:
    """Return True for a browser asking for a page; the API, ingest and metrics answer JSON."""
    if path.startswith((*JSON_PREFIXES, *INGEST_PREFIXES)):
        return False
    return "text/html" in headers.get("accept", "")


def refused_form(request: Request) -> RefusedForm | None:
    """Return the refused post this page is shown again for, if it is."""
    found = request.scope.get(REFUSED_KEY)
    return found if isinstance(found, RefusedForm) else None


def safe_local_path(path: str) -> str | None:
    """Return `path` when it is a path of this site (no scheme, host or `//`), else None."""
    if path.startswith("/") and not path.startswith(("//", "/\\")) and "\\" not in path:
        return path
    return None


def typed_values(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Return what a person typed into a form: its fields without the hidden machinery, and
    without passwords, which are never written into a page (they are typed again)."""
    return {
        name: value
        for name, value in pairs
        if name not in HIDDEN_FIELDS and "password" not in name.lower()
    }


def error_page(
    request: Request,
    status: int,
    detail: str,
    *,
    code: str = "",
    headers: Mapping[str, str] | None = None,
    context: Mapping[str, Any] | None = None,
) -> HTMLResponse:
    """Return an error page in the dashboard's layout, with the status it answers."""
    templates: Jinja2Templates = request.app.state.templates
    response = templates.TemplateResponse(
        request,
        "error.html.j2",
        {
            "user": None,
            "signed_in": SESSION_COOKIE in request.cookies,
            "status": status,
            "code": code,
            "heading": _TITLES.get(status, "Something went wrong"),
            "detail": detail,
            **(context or {}),
        },
        status_code=status,
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
