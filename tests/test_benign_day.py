"""A generated day of healthy traffic in every format drainwatch reads raises no incident.

The generator is seeded: the same lines every run. It mixes formats (Heroku router and app lines,
gunicorn, uvicorn access, Python logging, Render deploys) and the words that fool naive matchers:
error, timeout, disconnect, exception, failed, killed, refused, in lines that report nothing wrong.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.cli import main

PATHS = [
    "/api/v1/items",
    "/api/v1/orders/1187",
    "/health",
    "/api/v1/auth/me",
    "/static/app.js",
    "/api/v1/search?q=timeout",
]
WORDY_INFO = [
    "Retrying is disabled for idempotent errors (max_retries=0)",
    "Request timeout set to 30s for outbound calls",
    "Client disconnected before the response finished streaming (normal for SSE)",
    "Exception handler registered for ValidationError",
    "Cache miss rate 2.1% (0 failed lookups)",
    "Background job finished: 0 errors, 0 warnings, 1423 rows",
    "Connection pool stats: size=5 checked_out=1 overflow=0 timeout=30",
    "Feature flag 'strict_errors' evaluated to False",
    "See https://sqlalche.me/e/20/xd2s for why handlers use AsyncSession",
    "Health check passed in 12ms (database ok, redis ok)",
    "Killed stale websocket subscriber ws_id=7f2a after 300s idle",
    "User login failed validation: password too short (returned 422)",
    "Rate limiter refused 0 requests in the last minute",
]


def healthy_day(lines: int = 20_000, seed: int = 20250919) -> str:
    rng = random.Random(seed)
    t = datetime(2025, 9, 19, 0, 0, tzinfo=UTC)
    out: list[str] = []
    while len(out) < lines:
        t += timedelta(milliseconds=rng.randrange(50, 9000))
        iso = t.isoformat(timespec="microseconds")
        roll = rng.random()
        path = rng.choice(PATHS)
        status = rng.choice([200, 200, 200, 201, 204, 301, 304, 404])
        if roll < 0.30:
            out.append(
                f'{iso} heroku[router]: at=info method=GET path="{path}" host=api.example.com '
                f'request_id={rng.getrandbits(64):x} fwd="10.1.{rng.randrange(255)}.{rng.randrange(255)}" '
                f"dyno=web.{rng.randrange(1, 3)} connect=0ms service={rng.randrange(2, 900)}ms status={status} bytes={rng.randrange(100, 9000)} protocol=https"
            )
        elif roll < 0.55:
            out.append(
                f'INFO:     10.0.{rng.randrange(9)}.{rng.randrange(255)}:0 - "GET {path} HTTP/1.1" {status} OK'
            )
        elif roll < 0.80:
            out.append(
                f"{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d} - app.{rng.choice(['main', 'jobs', 'auth'])} - INFO - {rng.choice(WORDY_INFO)}"
            )
        elif roll < 0.90:
            out.append(
                f"{iso} app[web.{rng.randrange(1, 3)}]: {t:%Y-%m-%d %H:%M:%S} INFO handled {path} in {rng.randrange(2, 300)}ms"
            )
        elif roll < 0.97:
            out.append(
                f"[{t:%Y-%m-%d %H:%M:%S} +0000] [{rng.randrange(20, 40)}] [INFO] Booting worker with pid: {rng.randrange(20, 40)}"
            )
        else:
            out.extend(
                [
                    f"{iso} ==> Deploying...",
                    f"{iso} ==> Running 'gunicorn app.main:app -k uvicorn.workers.UvicornWorker'",
                    f"{iso} ==> Your service is live 🎉",
                ]
            )
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def day_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("benign") / "healthy-day.log"
    path.write_text(healthy_day())
    return path


def test_a_healthy_day_raises_no_incident(
    day_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", str(day_log), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["lines"] >= 20_000
    assert result["incidents"] == []
