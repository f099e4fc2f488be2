"""A realistic, seeded log corpus for the engine benchmark: platform and app lines, ~0.5% failures.

Benign lines come in the shapes drainwatch ingests (gunicorn, uvicorn access, Python logging,
Heroku router and app, Render `==>`, JSON lines); failures are the bundled signatures' own
examples, multi-line tracebacks kept whole; near misses are mixed into the benign traffic.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

PATHS = (
    "/health",
    "/api/v1/leads?page=2&status=new",
    "/api/v1/auth/me",
    "/api/whatsapp/status",
    "/webhooks/twilio/voice/status",
    "/api/v1/competitors?limit=25",
    "/static/js/main.3f9c2a1b.js",
    "/api/calls?limit=20",
)
METHODS = ("GET", "GET", "GET", "POST", "PUT", "OPTIONS")
STATUSES = ("200", "200", "200", "200", "201", "204", "301", "304", "401", "404")
LOGGERS = (
    "app.services.sync",
    "app.api.leads",
    "server.services.whatsapp",
    "app.core.database",
    "app.auth.deps",
    "server.webhooks",
    "celery.worker",
)
MESSAGES = (
    "synced {n} contacts in {f}s (batch={b}, cursor={h})",
    "Token validated for auth0|{h} (user_id={n}, role=admin)",
    "[WHATSAPP_SESSION] 📱 Check #{n}: Found 0 stale sessions",
    "Snapshot served from cache (org_id={b}, rows={n}, age={n}s)",
    "[TWILIO] Call CA{h} status=completed duration={n}s",
    "Cache miss for key leads:{b}:{n}; refreshed in {f}s",
    "Job lead_sync finished: {n} new, {b} updated, 0 failed",
    "Sending webhook to https://hooks.example.com/{h} attempt=1",
)
AGENTS = ("Render/1.0", "Mozilla/5.0 (X11; Linux x86_64) Chrome/141.0", "TwilioProxy/1.1")
RENDER = (
    "==> Deploying...",
    "==> Build successful 🎉",
    "==> Your service is live 🎉",
    "==> Running 'gunicorn app.main:app -k uvicorn.workers.UvicornWorker -w 2 --timeout 120'",
    "==> Detected service running on port 10000",
    "==> Docs on specifying a Python version: https://render.com/docs/python-version",
)
# A worker's life as gunicorn and uvicorn log it, in order: (logged by the master, text).
GUNICORN = (
    (True, "Booting worker with pid: {p}"),
    (False, "Started server process [{p}]"),
    (False, "Waiting for application startup."),
    (False, "Application startup complete."),
)
GUNICORN_END = ((True, "Handling signal: term"), (False, "Worker exiting (pid: {p})"))
MASTER_PID = 5


class _Lines:
    """Benign line makers sharing one seeded random source and a slowly advancing log clock."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.start = datetime(2025, 10, 9, 7, 40, tzinfo=UTC)
        self.ms = 0
        self._second = -1
        self._stamps: tuple[str, str, str] = ("", "", "")
        self._pid = MASTER_PID

    def tick(self) -> tuple[str, str, str]:
        """Advance the clock; return (`2025-10-09 07:40:01`, ISO prefix, access-log time)."""
        self.ms += int(self.rng.random() * 300) + 1
        second = self.ms // 1000
        if second != self._second:
            self._second = second
            t = self.start + timedelta(seconds=second)
            self._stamps = (
                f"{t:%Y-%m-%d %H:%M:%S}",
                f"{t:%Y-%m-%dT%H:%M:%S}",
                f"{t:%d/%b/%Y:%H:%M:%S}",
            )
        return self._stamps

    def num(self, top: int) -> int:
        return int(self.rng.random() * top)

    def ip(self) -> str:
        n = self.num
        return f"10.{n(256)}.{n(256)}.{n(254) + 1}"

    def message(self) -> str:
        r, n = self.rng, self.num
        return r.choice(MESSAGES).format(
            n=n(99999), f=f"{r.random() * 3:.3f}", b=n(40), h=f"{r.getrandbits(48):012x}"
        )

    def gunicorn(self) -> str:
        """A worker's boot, its lines together as a real server logs them (a new pid each
        time): a start-up that begins completes, and now and then a worker is stopped later."""
        self._pid += 1
        life = GUNICORN + (GUNICORN_END if self.rng.random() < 0.2 else ())
        lines = []
        for master, text in life:
            plain = self.tick()[0]
            pid = MASTER_PID if master else self._pid
            lines.append(f"[{plain} +0000] [{pid}] [INFO] {text.format(p=self._pid)}")
        return "\n".join(lines)

    def uvicorn_access(self) -> str:
        r = self.rng
        return (
            f'INFO:     {self.ip()}:{self.num(60000) + 1024} - "{r.choice(METHODS)} '
            f'{r.choice(PATHS)} HTTP/1.1" {r.choice(STATUSES)} OK'
        )

    def python_logging(self) -> str:
        plain = self.tick()[0]
        r = self.rng
        level = r.choice(("INFO", "INFO", "INFO", "DEBUG", "WARNING"))
        return f"{plain},{self.ms % 1000:03d} - {r.choice(LOGGERS)} - {level} - {self.message()}"

    def gunicorn_access(self) -> str:
        plain, _iso, access = self.tick()
        r = self.rng
        return (
            f"{plain},{self.ms % 1000:03d} - gunicorn.access - INFO - {self.ip()} - - "
            f'[{access} +0000] "{r.choice(METHODS)} {r.choice(PATHS)} HTTP/1.1" '
            f'{r.choice(STATUSES)} {self.num(9000)} "-" "{r.choice(AGENTS)}"'
        )

    def heroku_router(self) -> str:
        iso = self.tick()[1]
        r, n = self.rng, self.num
        return (
            f"{iso}.{self.ms % 1000:03d}+00:00 heroku[router]: at=info method={r.choice(METHODS)} "
            f'path="{r.choice(PATHS)}" request_id={r.getrandbits(32):08x} dyno=web.{n(3) + 1} '
            f"service={n(900)}ms status={r.choice(STATUSES)} bytes={n(9000)}"
        )

    def heroku_app(self) -> str:
        iso = self.tick()[1]
        return f"{iso}.{self.ms % 1000:03d}+00:00 app[web.{self.num(3) + 1}]: {self.message()}"

    def render(self) -> str:
        return self.rng.choice(RENDER)

    def json_line(self) -> str:
        iso = self.tick()[1]
        record = {
            "timestamp": f"{iso}.{self.ms % 1000:03d}Z",
            "level": "info",
            "logger": self.rng.choice(LOGGERS),
            "message": self.message(),
        }
        return json.dumps(record, ensure_ascii=False)

    def makers(self) -> list[tuple[Callable[[], str], int]]:
        return [
            (self.gunicorn, 1),
            (self.uvicorn_access, 18),
            (self.python_logging, 25),
            (self.gunicorn_access, 16),
            (self.heroku_router, 14),
            (self.heroku_app, 10),
            (self.render, 1),
            (self.json_line, 12),
        ]


def generate(
    lines: int,
    *,
    failures: Sequence[str],
    near_misses: Sequence[str] = (),
    failure_rate: float = 0.005,
    near_miss_rate: float = 0.001,
    seed: int = 20251009,
) -> str:
    """Return a corpus of exactly `lines` lines joined by newlines (no trailing newline).

    `failure_rate` is the share of lines that come from `failures` (a multi-line failure counts
    all its lines), so the corpus holds about `lines * failure_rate` failure lines.
    """
    rng = random.Random(seed)  # noqa: S311 - a reproducible corpus, not a secret
    maker = _Lines(rng)
    makers, weights = zip(*maker.makers(), strict=True)
    cumulative = list(itertools.accumulate(weights))
    total = cumulative[-1]
    failure_split = [text.split("\n") for text in failures]
    miss_split = [text.split("\n") for text in near_misses]
    # Pick a failure per line slot with a probability that makes failure *lines* the given share.
    mean_failure = sum(map(len, failure_split)) / len(failure_split) if failure_split else 1.0
    failure_pick = failure_rate / mean_failure
    mean_miss = sum(map(len, miss_split)) / len(miss_split) if miss_split else 1.0
    miss_pick = failure_pick + near_miss_rate / mean_miss
    out: list[str] = []
    random_ = rng.random
    while len(out) < lines:
        roll = random_()
        if roll < failure_pick and failure_split:
            out.extend(rng.choice(failure_split))
        elif roll < miss_pick and miss_split:
            out.extend(rng.choice(miss_split))
        else:
            out.extend(makers[bisect.bisect(cumulative, random_() * total)]().split("\n"))
    return "\n".join(out[:lines])
