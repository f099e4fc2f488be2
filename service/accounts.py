"""Managing users: add one, set a password, remove one; at least one admin always remains.

The CLI and the `/users` page both call these; they flush, the caller commits.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from service.models import LoginSession, User
from service.users import hash_password

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


class AccountError(ValueError):
    """A user change that cannot be made; the message says why, for the person asking."""


def check_username(name: str) -> str:
    """Return `name` if it can be a user name, else raise AccountError."""
    if not USERNAME.match(name):
        raise AccountError(
            "a user name is 1-100 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_password(password: str) -> str:
    """Return `password` if it is long enough (and not absurdly long), else raise AccountError."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password has at most {MAX_PASSWORD} characters")
    return password


def list_users(session: Session) -> list[User]:
    """Return every user, by name."""
    return list(session.exec(select(User).order_by(col(User.username))).all())


def find_user(session: Session, name: str) -> User | None:
    """Return the user called `name`, or None."""
    return session.exec(select(User).where(User.username == name)).first()


def add_user(session: Session, name: str, password: str, *, admin: bool, now: datetime) -> User:
    """Create a user; refuse a name that is taken."""
    check_username(name)
    check_password(password)
    if find_user(session, name) is not None:
        raise AccountError(f"user {name!r} already exists")
    user = User(username=name, password_hash=hash_password(password), created_at=now)
    user.is_admin = admin
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, name: str, password: str) -> User:
    """Give a user a new password and end their logins (a reset locks out whoever had it)."""
    check_password(password)
    user = _existing(session, name)
    user.password_hash = hash_password(password)
    session.add(user)
    _end_logins(session, user)
    session.flush()
    return user


def remove_user(session: Session, name: str) -> None:
    """Remove a user and their logins; refuse to remove the last admin."""
    user = _existing(session, name)
    # The admins' rows are locked while counted: two admins removing each other at once on
    # PostgreSQL would otherwise both see two admins and leave none.
    if user.is_admin and admin_count(session, lock=True) <= 1:
        raise AccountError(
            f"{name!r} is the last admin: make another user an admin before removing this one"
        )
    _end_logins(session, user)
    session.delete(user)
    session.flush()


def admin_count(session: Session, *, lock: bool = False) -> int:
    """Return how many admins there are; `lock` holds their rows until commit."""
    statement = select(User.id).where(col(User.is_admin).is_(True))
    return len(session.exec(statement.with_for_update() if lock else statement).all())


def _existing(session: Session, name: str) -> User:
    user = find_user(session, name)
    if user is None:
        raise AccountError(f"no user is called {name!r}")
    return user


def _end_logins(session: Session, user: User) -> None:
    session.execute(delete(LoginSession).where(col(LoginSession.user_id) == user.id))
