"""The one `Settings` class: environment variables prefixed `DRAINWATCH_`, or a `.env` file.

Built by the app factory or the CLI, never at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_ROOT = Path(__file__).resolve().parent.parent


def _bundled(name: str) -> Path:
    """Return the bundled `patterns/` or `templates/` directory beside the package."""
    for base in (BUNDLED_ROOT, Path(__file__).resolve().parent / "_data"):
        candidate = base / name
        if candidate.is_dir():
            return candidate
    return BUNDLED_ROOT / name


class Settings(BaseSettings):
    """Everything drainwatch can be told from outside its code."""

    model_config = SettingsConfigDict(
        env_prefix="DRAINWATCH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///./drainwatch.db"
    # PostgreSQL: a statement or ping the server has not answered by then has its connection cut
    # (the call fails as an outage: 503 pages, the processor backs off), never a wait for ever.
    database_deadline_seconds: float = 10.0
    ingest_token: str | None = None
    # A bearer token that opens /metrics alone, for a scraper that holds no user's password.
    metrics_token: str | None = None
    patterns_dir: Path | None = None
    spool_dir: Path = Path("./spool")
    # The address users and senders reach drainwatch at: links in reports and messages, the drain
    # URLs the pages show, Secure cookies when it is https. Unset on Render: RENDER_EXTERNAL_URL.
    public_url: str = "http://127.0.0.1:8000"
    # The proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (uvicorn's
    # --forwarded-allow-ips): a comma-separated list of addresses or networks, or "*" behind a
    # platform router such as Render's or Heroku's that every request comes through.
    forwarded_allow_ips: str = "127.0.0.1"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    slack_webhook_url: str | None = None
    # Outage messages (Slack, email): at most one per outage per interval; an outage still open
    # this long after it was seen to open escalates (0: never).
    notify_interval_minutes: float = 5.0
    notify_still_open_minutes: float = 60.0
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "drainwatch@localhost"
    smtp_to: str = ""
    # Refuse to send unless the server offers STARTTLS (it is used whenever offered).
    smtp_starttls: bool = False
    # A CA bundle to check the SMTP server's certificate with, instead of the system's.
    smtp_ca_file: Path | None = None
    admin_user: str = "admin"
    admin_password: str | None = None
    retention_days: int = 30
    syslog_host: str = "127.0.0.1"
    syslog_port: int | None = None
    syslog_source: str = "syslog"
    tls_cert: Path | None = None
    tls_key: Path | None = None

    render_api_key: str | None = None
    render_owner_id: str | None = None
    render_services: str = ""
    render_api_url: str = "https://api.render.com/v1"
    render_poll_seconds: float = 30.0

    bundled_patterns_dir: Path = Field(default_factory=lambda: _bundled("patterns"))
    templates_dir: Path = Field(default_factory=lambda: _bundled("templates"))

    max_body_bytes: int = 5 * 1024 * 1024
    max_decoded_bytes: int = 50 * 1024 * 1024
    max_lines_per_batch: int = 100_000
    max_line_bytes: int = 64 * 1024
    # Per source. Above what one `serve` process takes in at all on 2 cores (about 40,000 lines/s
    # of intake on one core, bench/intake.py): the default never refuses what could be processed.
    rate_limit_lines: float = 50_000.0
    rate_limit_burst: float = 500_000.0
    spool_max_bytes: int = 1024 * 1024 * 1024
    # A client has this long to send a request's headers, and an ingest request's body; a slow
    # one is cut off. SIGTERM exits within shutdown_timeout_seconds, whatever clients do.
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    shutdown_timeout_seconds: float = 9.0
    # malloc arenas a process may use (0: malloc's defaults left alone, 8 arenas per core) and
    # how often its free pages are handed back (0: never): a long run's RSS stays flat (memory.py).
    malloc_arena_max: int = 2
    memory_trim_seconds: float = 30.0
    traceback_gap_seconds: float = 5.0
    # Requests left out of an incident's impact: health checks by path (a path that is one of
    # these or ends with one), platform probes by user agent (a substring of it).
    probe_paths: str = "/health,/healthz"
    probe_agents: str = "Render/1.0,kube-probe"
    process_interval_seconds: float = 0.2

    @model_validator(mode="after")
    def _render_external_url(self) -> Settings:
        """On Render, default `public_url` to the service's own address (RENDER_EXTERNAL_URL)."""
        if "public_url" not in self.model_fields_set:
            external = os.environ.get("RENDER_EXTERNAL_URL", "").strip()
            if external.startswith(("https://", "http://")):
                self.public_url = external.rstrip("/")
        return self

    @property
    def render_targets(self) -> list[tuple[str, str]]:
        """Return the (service id, source name) pairs of `render_services`: `srv-a,srv-b=api`."""
        targets = []
        for item in self.render_services.split(","):
            service, _, source = item.strip().partition("=")
            if service.strip():
                targets.append((service.strip(), source.strip() or service.strip()))
        return targets

    @property
    def smtp_recipients(self) -> tuple[str, ...]:
        """Return `smtp_to` as a tuple of addresses: `a@example.com,b@example.com`."""
        return tuple(item.strip() for item in self.smtp_to.split(",") if item.strip())

    @property
    def probe_path_list(self) -> tuple[str, ...]:
        """Return `probe_paths` as a tuple of paths."""
        return tuple(item.strip() for item in self.probe_paths.split(",") if item.strip())

    @property
    def probe_agent_list(self) -> tuple[str, ...]:
        """Return `probe_agents` as a tuple of user-agent fragments."""
        return tuple(item.strip() for item in self.probe_agents.split(",") if item.strip())

    @property
    def pattern_dirs(self) -> tuple[Path, ...]:
        """Return the signature directories to load; a later one's ids replace an earlier one's."""
        if self.patterns_dir is None:
            return (self.bundled_patterns_dir,)
        return (self.bundled_patterns_dir, self.patterns_dir)
