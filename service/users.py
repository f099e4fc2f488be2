"""Users and logins: scrypt password hashes, login sessions stored as token hashes, CSRF tokens
bound to a login session, and the throttle on failed logins."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
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
        user.is_admin = True
        session.add(user)
        session.flush()
        return None
    if user is not None or session.exec(select(User).limit(1)).first() is not None:
        return None
    generated = secrets.token_urlsafe(18)
    session.add(
        User(
            username=username,
            password_hash=hash_password(generated),
            created_at=now,
            is_admin=True,
        )
    )
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


def csrf_token(session_token: str) -> str:
    """Return the CSRF token of a login session: only a holder of its cookie can compute it."""
    return hmac.new(session_token.encode("utf-8"), b"drainwatch csrf", hashlib.sha256).hexdigest()


class LoginThrottled(Exception):
    """Too many failed logins for this user or from this address; retry after `retry_after` s."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed logins; retry in {retry_after:.0f} s")
        self.retry_after = retry_after


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class LoginThrottle:
    """Failed logins counted per user name and per client address, with exponential lock-outs.

    The first `free` failures of a key cost nothing; each later one locks the key for twice as
    long as the one before (1 s, 2 s, 4 s ... up to `longest`). While a key is locked even the
    right password is refused, so guessing at any speed gains a handful of tries a minute. A
    success clears both keys; keys idle for `forget` seconds are dropped, and at most `capacity`
    keys are kept (the longest idle go first), so the table stays bounded whatever is sent.
    """

    def __init__(
        self,
        *,
        free: int = 5,
        longest: float = 300.0,
        forget: float = 3600.0,
        capacity: int = 10_000,
    ) -> None:
        self.free = free
        self.longest = longest
        self.forget = forget
        self.capacity = capacity
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, _Failures] = OrderedDict()

    @staticmethod
    def keys(username: str, address: str) -> tuple[str, str]:
        """Return the throttle keys of a login attempt."""
        return f"user:{username.casefold()[:200]}", f"addr:{address}"

    def wait(self, keys: tuple[str, ...], now: float) -> float:
        """Return how many seconds the attempt must wait (0 when it may go ahead)."""
        with self._lock:
            return max((self._locked_for(key, now) for key in keys), default=0.0)

    def failed(self, keys: tuple[str, ...], now: float) -> None:
        """Count a failed attempt against every key."""
        with self._lock:
            for key in keys:
                entry = self._keys.pop(key, None)
                if entry is None or now - entry.last > self.forget:
                    entry = _Failures(0, now)
                entry.count += 1
                entry.last = now
                self._keys[key] = entry
            while len(self._keys) > self.capacity:
                self._keys.popitem(last=False)

    def succeeded(self, keys: tuple[str, ...]) -> None:
        """Clear the keys of a successful login."""
        with self._lock:
            for key in keys:
                self._keys.pop(key, None)

    def _locked_for(self, key: str, now: float) -> float:
        entry = self._keys.get(key)
        if entry is None or entry.count < self.free:
            return 0.0
        lock = min(self.longest, 2.0 ** (entry.count - self.free))
        return max(0.0, entry.last + lock - now)


def authenticate_throttled(
    session: Session,
    throttle: LoginThrottle,
    username: str,
    password: str,
    *,
    address: str,
    now: float,
) -> User | None:
    """Return the user whose credentials these are, or None; raise `LoginThrottled` when locked.

    A locked attempt is refused before the password is checked, and does not count.
    """
    keys = throttle.keys(username, address)
    wait = throttle.wait(keys, now)
    if wait > 0:
        raise LoginThrottled(wait)
    user = authenticate(session, username, password)
    if user is None:
        throttle.failed(keys, now)
    else:
        throttle.succeeded(keys)
    return user
