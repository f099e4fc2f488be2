"""Redaction: every kind of secret replaced, ordinary text untouched."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.ingest.entries import Entry, to_records
from service.ingest.headers import parse_text
from service.ingest.literals import JoinedLines, LiteralGate
from service.ingest.redact import REDACTED, lines_to_redact, redact
from tests.secret_corpus import SHAPES, Shape, key_body

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


@pytest.mark.parametrize("shape", SHAPES, ids=[shape.name for shape in SHAPES])
def test_redact_leaves_no_secret_of_the_corpus(shape: Shape) -> None:
    records = parse_text(shape.text, source="api")
    stored = "\n".join(record.message for record in records)
    assert [secret for secret in shape.secrets if secret in stored] == []


def test_secret_corpus_has_at_least_forty_shapes() -> None:
    assert len({shape.name for shape in SHAPES}) >= 40


def _key_lines() -> tuple[list[str], list[str]]:
    body = key_body("test-key", 400, 64)
    return ["-----BEGIN RSA PRIVATE KEY-----", *body, "-----END RSA PRIVATE KEY-----"], body


def test_key_block_sent_one_entry_per_line_is_redacted() -> None:
    lines, body = _key_lines()
    entries = [Entry(message=line, instance="web.1") for line in lines]
    records = to_records(entries, source="api", received_at=None)
    assert [record.message for record in records] == [
        "-----BEGIN RSA PRIVATE KEY-----",
        *[REDACTED] * len(body),
        "-----END RSA PRIVATE KEY-----",
    ]


def test_key_block_behind_log_headers_is_redacted() -> None:
    lines, body = _key_lines()
    text = "\n".join(f"2025-10-09T07:40:00.000000+00:00 app[web.1]: {line}" for line in lines)
    messages = [record.message for record in parse_text(text, source="api")]
    assert messages[1:-1] == [REDACTED] * len(body)
    assert not any(chunk in "\n".join(messages) for chunk in body)


def test_key_block_of_one_instance_leaves_other_instances_lines_alone() -> None:
    lines, body = _key_lines()
    entries: list[Entry] = []
    for line in lines:
        entries.append(Entry(message=line, instance="web.1"))
        entries.append(Entry(message="GET /health 200 ok", instance="web.2"))
    records = to_records(entries, source="api", received_at=None)
    other = [record.message for record in records if record.instance == "web.2"]
    assert other == ["GET /health 200 ok"] * len(lines)
    mine = "\n".join(record.message for record in records if record.instance == "web.1")
    assert not any(chunk in mine for chunk in body)


def test_key_body_line_without_its_begin_line_is_redacted() -> None:
    _, body = _key_lines()
    line = f"2025-10-09T07:40:00+00:00 app[web.1]: {body[3]}"
    assert redact(line) == f"2025-10-09T07:40:00+00:00 app[web.1]: {REDACTED}"


def test_lines_after_a_closed_key_block_are_kept() -> None:
    lines, _ = _key_lines()
    text = "\n".join([*lines, "Done", "worker started"])
    messages = [record.message for record in parse_text(text, source="api")]
    assert messages[-2:] == ["Done", "worker started"]


@pytest.mark.parametrize(
    "line",
    [
        "pulled sha256:4b825dc642cb6eb9a060e54bf8d69288fbee4904a1b2c3d4e5f6a7b8c9d0e1f2",
        "commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904",
        "request 123e4567-e89b-12d3-a456-426614174000 done",
        "loading /opt/render/project/src/app/api/endpoints/AuthController2",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "-----END RSA PRIVATE KEY-----",
        '[2025-09-19 12:43:15 +0000] [27] [INFO] 10.0.0.1 "POST /api/v1/auth/refresh" 500',
    ],
)
def test_redact_keeps_digests_ids_and_paths(line: str) -> None:
    assert redact(line) == line


def test_redact_gate_matches_its_fallback() -> None:
    groups = [("token", "pass"), ("://",), ("sk-",)]
    gate, fallback = LiteralGate(groups), LiteralGate(groups, hyperscan=False)
    if gate.name != "hyperscan":
        pytest.skip("hyperscan is not installed here: both gates are the fallback")
    for text in ("", "TOKEN=x", "https://a sk-b", "nothing", "pAsS \u212a"):
        assert gate.groups_in(text) == fallback.groups_in(text)


def test_the_batch_gate_finds_the_lines_of_the_per_line_gate() -> None:
    groups = [("token", "pass"), ("://",), ("sk-",)]
    lines = ["", "TOKEN=x", "nothing", "https://a sk-b", "ünïcödé pass", "é" * 50, "pAsS"]
    expected = {index for index, line in enumerate(lines) if LiteralGate(groups).groups_in(line)}
    for gate in (LiteralGate(groups), LiteralGate(groups, hyperscan=False)):
        assert gate.lines_with(JoinedLines(lines)) == expected == {1, 3, 4, 6}


_BATCH_ALPHABET = "ab:=/@ ?&\"'token password Bearer eyJ. xoxb- sk-AKIA-----BEGIN KEYé\n" + (
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)


@given(st.lists(st.text(alphabet=st.sampled_from(_BATCH_ALPHABET)), max_size=12))
def test_every_line_redact_would_change_is_found_in_one_pass(texts: list[str]) -> None:
    lines = [line for text in texts for line in text.split("\n")]
    changed = {index for index, line in enumerate(lines) if redact(line) != line}
    assert changed <= lines_to_redact(lines)


@pytest.mark.parametrize("shape", SHAPES, ids=[shape.name for shape in SHAPES])
def test_every_secret_line_of_the_corpus_is_found_in_one_pass(shape: Shape) -> None:
    lines = ["an ordinary line", *shape.text.split("\n"), "GET /health 200"]
    changed = {index for index, line in enumerate(lines) if redact(line) != line}
    assert changed
    assert changed <= lines_to_redact(lines)
    assert 0 not in lines_to_redact(lines)


def test_a_key_body_line_is_found_by_its_run_of_base64_alone() -> None:
    body = key_body("batch-key", 192, 64)  # four full lines of 64
    lines = ["GET /health 200", *body, "done"]
    assert lines_to_redact(lines) == set(range(1, len(body) + 1))
    assert all(redact(line) == REDACTED for line in body)


def test_the_batch_gate_leaves_out_trigger_words_redact_would_not_act_on() -> None:
    lines = [
        "Token validated for auth0|ecd188c780f6 (user_id=95223, role=admin)",
        "==> Docs: https://render.com/docs/python-version",
        "token = s3cr3t-value-123",
        "postgres://app:hunter2@db.internal/app",
        "token validated for jürgen",  # not ASCII: the rule's case folding is not hyperscan's
    ]
    expected = {2, 3, 4} if _gate_is_hyperscan() else {0, 2, 3, 4}
    assert lines_to_redact(lines) == expected
    assert [redact(line) == line for line in lines] == [True, True, False, False, True]


def _gate_is_hyperscan() -> bool:
    return LiteralGate([("x",)]).name == "hyperscan"
