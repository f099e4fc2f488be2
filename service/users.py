"""Users and logins: scrypt password hashes, login sessions stored as token hashes."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, select

from service.models import LoginSession, User

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
SESSION_LIFETIME = timedelta(days=7)


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of `password` in a self-describing string."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    encoded = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${encoded[0]}${encoded[1]}"


def verify_password(password: str, stored: str) -> bool:
    """Return True when `password` matches the stored hash, compared in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


def authenticate(session: Session, username: str, password: str) -> User | None:
    """Return the user whose credentials these are, or None."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        verify_password(password, _dummy_hash())
        return None
    return user if verify_password(password, user.password_hash) else None


def ensure_admin(
    session: Session, username: str, password: str | None, *, now: datetime
) -> str | None:
    """Create or update the first user; return a generated password when one had to be made."""
    user = session.exec(select(User).where(User.username == username)).first()
    if password is not None:
        if user is None:
            user = User(username=username, password_hash="", created_at=now)
        if not verify_password(password, user.password_hash):
            user.password_hash = hash_password(password)
        session.add(user)
        session.flush()
        return None
    if user is not None or session.exec(select(User).limit(1)).first() is not None:
        return None
    generated = secrets.token_urlsafe(18)
    session.add(User(username=username, password_hash=hash_password(generated), created_at=now))
    session.flush()
    return generated


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_login(session: Session, user: User, *, now: datetime) -> str:
    """Create a login session for `user` and return the cookie token."""
    assert user.id is not None
    token = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    session.flush()
    return token


def user_for_token(session: Session, token: str, *, now: datetime) -> User | None:
    """Return the user a live login token belongs to, or None."""
    login = session.exec(
        select(LoginSession).where(LoginSession.token_hash == _token_hash(token))
    ).first()
    if login is None or login.expires_at <= now:
        return None
    return session.get(User, login.user_id)


def end_login(session: Session, token: str) -> None:
    """Forget a login token."""
    login = session.exec(
        select(LoginSession).where(LoginSession.token_hash == _token_hash(token))
    ).first()
    if login is not None:
        session.delete(login)
        session.flush()


@functools.cache
def _dummy_hash() -> str:
    # Checking a password against a throwaway hash keeps unknown usernames as slow as known ones.
    return hash_password(secrets.token_urlsafe(16))
