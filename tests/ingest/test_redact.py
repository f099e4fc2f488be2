"""Redaction: every kind of secret replaced, ordinary text untouched."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.ingest.redact import REDACTED, redact

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
GITHUB_PAT = "github_pat_11ABCDEFG0" + "x" * 60
SLACK = "xoxb-1234567890-0987654321-" + "AbCdEfGhIjKlMnOpQrStUvWx"
STRIPE_LIVE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
STRIPE_TEST = "sk_test_" + "51HxYzAbCdEfGhIjKlMnOp"
STRIPE_RESTRICTED = "rk_live_" + "51HxYzAbCdEfGhIjKlMnOp"
AWS = "AKIA" + "IOSFODNN7EXAMPLE"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "Authorization: Bearer abc.def-123",
            f"Authorization: Bearer {REDACTED}",
        ),
        (
            'curl -H "Authorization: Basic dXNlcjpwYXNz" https://x',
            f'curl -H "Authorization: Basic {REDACTED}" https://x',
        ),
        (
            "headers={'authorization': 'Token 0123456789abcdef', 'accept': '*/*'}",
            f"headers={{'authorization': 'Token {REDACTED}', 'accept': '*/*'}}",
        ),
        ("Authorization: s3cr3t-value", f"Authorization: {REDACTED}"),
        ("X-Authorization: abc123", f"X-Authorization: {REDACTED}"),
        ("Proxy-Authorization: Basic Zm9vOmJhcg==", f"Proxy-Authorization: Basic {REDACTED}"),
        (
            "connecting to postgresql://app:hunter2@db.internal:5432/app",
            f"connecting to postgresql://app:{REDACTED}@db.internal:5432/app",
        ),
        (
            "url=postgresql+asyncpg://user:p@ss:w0rd@ep-cool.neon.tech/db?sslmode=require",
            f"url=postgresql+asyncpg://user:{REDACTED}@ep-cool.neon.tech/db?sslmode=require",
        ),
        ("redis://:secretpw@cache:6379/0", f"redis://:{REDACTED}@cache:6379/0"),
        (
            "POST https://drain:tok3n@drainwatch.example.com/drains/api",
            f"POST https://drain:{REDACTED}@drainwatch.example.com/drains/api",
        ),
        ("amqp://guest:guest@rabbit//", f"amqp://guest:{REDACTED}@rabbit//"),
        ("sent header bearer 0a1b2c3d4e5f6a7b8c9d", f"sent header bearer {REDACTED}"),
        (f"session={JWT}; path=/", f"session={REDACTED}; path=/"),
        (f"id_token {JWT}", f"id_token {REDACTED}"),
        (f"using key {AWS} for s3", f"using key {REDACTED} for s3"),
        (f"cloning with {GITHUB}", f"cloning with {REDACTED}"),
        (f"token {GITHUB_PAT} expires", f"token {REDACTED} expires"),
        (f"slack client {SLACK} ready", f"slack client {REDACTED} ready"),
        (
            "posting to https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX now",
            f"posting to https://hooks.slack.com/services/{REDACTED} now",
        ),
        (f"stripe.api_key set to {STRIPE_LIVE}", f"stripe.api_key set to {REDACTED}"),
        (f"charge with {STRIPE_TEST}", f"charge with {REDACTED}"),
        (f"restricted {STRIPE_RESTRICTED}", f"restricted {REDACTED}"),
        ("login password=hunter2 user=bob", f"login password={REDACTED} user=bob"),
        ("DB_PASSWORD = 'correct horse'", f"DB_PASSWORD = '{REDACTED}'"),
        ("passwd=abc&user=bob", f"passwd={REDACTED}&user=bob"),
        (
            "GET /login?user=bob&pwd=letmein HTTP/1.1",
            f"GET /login?user=bob&pwd={REDACTED} HTTP/1.1",
        ),
        ("client_secret=s3cr3tvalue", f"client_secret={REDACTED}"),
        ("GET /drains/api?token=abc123def HTTP/1.1", f"GET /drains/api?token={REDACTED} HTTP/1.1"),
        ("api_key=AbC123", f"api_key={REDACTED}"),
        ("apikey=AbC123", f"apikey={REDACTED}"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG", f"aws_secret_access_key={REDACTED}"),
        ('{"password": "hunter2", "user": "bob"}', f'{{"password": "{REDACTED}", "user": "bob"}}'),
        ('{"api_key":"AbC123"}', f'{{"api_key":"{REDACTED}"}}'),
        ("{'password': 'hunter2'}", f"{{'password': '{REDACTED}'}}"),
        ('{"password": "with \\"quote\\" inside"}', f'{{"password": "{REDACTED}"}}'),
        ("password: letmein", f"password: {REDACTED}"),
        ("refresh_token: 8f14e45fceea167a5a36dedd4bea2543", f"refresh_token: {REDACTED}"),
        ("X-Api-Key: 0123456789abcdef", f"X-Api-Key: {REDACTED}"),
    ],
)
def test_redact_replaces_secrets(line: str, expected: str) -> None:
    assert redact(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "token expired",
        "Token expired for user 42",
        "password reset page requested",
        "user entered wrong password",
        "Invalid token: expired",
        "Failed to refresh token: HTTP 401",
        "passwordless login enabled",
        "https://app.zebra.associates/callback?code=ok",
        "postgresql://db.internal:5432/app",
        "postgresql://user@db.internal/app",
        "email bob@example.com about https://example.com/page",
        "Authorization header missing",
        "Bearer token required",
        'INFO:     10.0.0.1:5234 - "GET /api/v1/auth/me HTTP/1.1" 401 Unauthorized',
        "Traceback (most recent call last):",
        '  File "/app/auth/dependencies.py", line 42, in get_current_user',
        "    token = await oauth2_scheme(request)",
        "sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called",
        "KeyError: 'password'",
        '{"password": null, "token": ""}',
        "Asia/Tokyo timezone configured",
        "the key is AKIA but too short",
        "skip sk_live_ because no key follows",
        "eyJ is how base64 JSON starts",
        "password_reset_url=https://example.com/reset",
        "token_type=bearer",
    ],
)
def test_redact_leaves_ordinary_text_alone(line: str) -> None:
    assert redact(line) == line


@pytest.mark.parametrize(
    "line",
    [
        "nothing to see here",
        "2025-09-19 12:43:14,123 - app.main - INFO - request handled in 12ms",
        "",
    ],
)
def test_redact_returns_lines_without_triggers_unchanged(line: str) -> None:
    assert redact(line) is line


@given(st.text(alphabet=st.sampled_from("ab:=/@ ?&\"'token password Bearer eyJ. xoxb-")))
def test_redact_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


@pytest.mark.parametrize(
    "line",
    [
        "eyJ-" * 16000,
        "a." * 30000 + "://",
        "x_" * 30000 + "password",
        "password=" + "a" * 60000,
        "https://" + "u:" * 20000 + "@",
        "token" * 12000 + "=",
    ],
)
def test_redact_stays_fast_on_hostile_lines(line: str) -> None:
    started = time.perf_counter()
    redact(line)
    assert time.perf_counter() - started < 1.0
