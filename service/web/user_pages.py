"""The `/users` page, for admins: add a user, reset a password, remove a user (never the last
admin). A refused post shows the page again with what was typed (never a password) and why."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from service.accounts import (
    USERNAME,
    AccountError,
    add_user,
    list_users,
    remove_user,
    set_password,
)
from service.db import utcnow
from service.models import User
from service.web.deps import PageUser, SessionDep

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)
ADMIN_ONLY = "Only an admin can manage users."


def _page(
    request: Request,
    session: Session,
    user: User,
    *,
    status: int = 200,
    error: str = "",
    notice: str = "",
    typed: dict[str, Any] | None = None,
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    context = {
        "user": user,
        "users": list_users(session) if user.is_admin else [],
        "error": error,
        "notice": notice,
        "typed": typed or {"name": "", "admin": False},
    }
    return templates.TemplateResponse(request, "users.html.j2", context, status_code=status)


@router.get("/users")
def users_page(request: Request, session: SessionDep, user: PageUser) -> HTMLResponse:
    """List the users, with the forms to manage them (admins only)."""
    if not user.is_admin:
        return _page(request, session, user, status=403, error=ADMIN_ONLY)
    return _page(request, session, user, notice=_notice(request))


@router.post("/users", response_model=None)
def create_user(
    request: Request,
    session: SessionDep,
    user: PageUser,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    admin: Annotated[str, Form()] = "",
) -> Response:
    """Add a user."""
    name, is_admin = name.strip(), admin == "yes"
    typed = {"name": name, "admin": is_admin}
    if not user.is_admin:
        return _page(request, session, user, status=403, error=ADMIN_ONLY, typed=typed)
    try:
        add_user(session, name, password, admin=is_admin, now=utcnow())
    except AccountError as error:
        session.rollback()
        return _page(request, session, user, status=400, error=str(error), typed=typed)
    session.commit()
    return _done("added", name)


@router.post("/users/{name}/password", response_model=None)
def reset_password(
    name: str,
    request: Request,
    session: SessionDep,
    user: PageUser,
    password: Annotated[str, Form()] = "",
) -> Response:
    """Set a user's password; their logins end (an admin resetting their own logs in again)."""
    if not user.is_admin:
        return _page(request, session, user, status=403, error=ADMIN_ONLY)
    try:
        set_password(session, name, password)
    except AccountError as error:
        session.rollback()
        return _page(request, session, user, status=400, error=f"{name}: {error}")
    session.commit()
    return _done("password", name)


@router.post("/users/{name}/remove", response_model=None)
def delete_user(name: str, request: Request, session: SessionDep, user: PageUser) -> Response:
    """Remove a user and end their logins; the last admin stays."""
    if not user.is_admin:
        return _page(request, session, user, status=403, error=ADMIN_ONLY)
    try:
        remove_user(session, name)
    except AccountError as error:
        session.rollback()
        return _page(request, session, user, status=409, error=str(error))
    session.commit()
    return _done("removed", name)


_NOTICES = {
    "added": "User {name} added.",
    "password": "Password of {name} changed; their logins have ended.",
    "removed": "User {name} removed.",
}


def _done(what: str, name: str) -> RedirectResponse:
    """Go back to the page (a reload posts nothing twice), which says what was done."""
    return RedirectResponse("/users?" + urlencode({"done": what, "name": name}), status_code=303)


def _notice(request: Request) -> str:
    # Only drainwatch's own sentences, about a name that can be a user's: a crafted link
    # cannot put words of its own into the page.
    template = _NOTICES.get(request.query_params.get("done", ""))
    name = request.query_params.get("name", "")
    return template.format(name=name) if template and USERNAME.match(name) else ""
