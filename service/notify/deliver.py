"""Delivery: a background thread that sends the incident outbox to the webhook (CONTRACT §6).
Slack and email hear of outages instead (`paging`).

Rows are claimed with a lease, sent outside any transaction, and their outcome recorded after:
safe with several processes on one database, and at-least-once when one dies mid-send.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from service import __version__
from service.db import session_scope, utcnow
from service.incidents.queries import incident_json
from service.metrics import Metrics
from service.models import Incident, Notification
from service.notify.outcome import (
    ERROR_CHARS,
    FAILED,
    OFF,
    PENDING,
    record_round,
    status,
)
from service.settings import Settings
from service.worker import Worker

log = logging.getLogger("drainwatch.notify")

TARGETS = ("webhook",)
TIMEOUT_SECONDS = 10.0
LEASE = timedelta(seconds=60)
BATCH_SIZE = 10
MAX_ATTEMPTS = 12

Post = Callable[[str, bytes, Mapping[str, str], float], int]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the `Drainwatch-Signature` value: `t=<unix seconds>,v1=<hex HMAC-SHA256>`."""
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_payload(event: str, incident: Incident, public_url: str) -> dict[str, Any]:
    """Return the webhook document: the event and the incident with its link."""
    url = f"{public_url.rstrip('/')}/incidents/{incident.id}"
    return {"event": event, "incident": {**incident_json(incident), "url": url}}


def encode(document: Mapping[str, Any]) -> bytes:
    """Return a document as compact UTF-8 JSON, the same bytes for the same document."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def webhook_body(event: str, incident: Incident, public_url: str) -> bytes:
    """Return the webhook body for an event of this incident, as compact JSON."""
    return encode(webhook_payload(event, incident, public_url))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other non-2xx: the receiver's URL is the one configured."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


def post_json(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
    """POST `body` to an http(s) URL; return the status, raising OSError when nothing answers."""
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError("the URL is not http or https")
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        with error:
            return error.code


@dataclass(frozen=True)
class Claim:
    """A notification this dispatcher holds until `lease_until`, with the targets to tell."""

    id: int
    event: str
    payload: dict[str, Any]
    targets: tuple[str, ...]
    lease_until: datetime


class Dispatcher:
    """Sends due notifications; several dispatchers may share one database."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utcnow,
        post: Post = post_json,
        jitter: Callable[[], float] = random.random,
        interval_seconds: float = 1.0,
        batch_size: int = BATCH_SIZE,
        lease: timedelta = LEASE,
        max_attempts: int = MAX_ATTEMPTS,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.post = post
        self.jitter = jitter
        self.interval_seconds = interval_seconds
        self.batch_size = batch_size
        self.lease = lease
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.last_error = ""
        self._worker = Worker(
            "drainwatch-notify",
            self._step,
            interval_seconds=interval_seconds,
            max_backoff_seconds=30.0,
            meanwhile="notifications wait",
        )
        self._lock = threading.Lock()

    def urls(self) -> dict[str, str]:
        """Return the configured targets and their URLs."""
        url = self.settings.webhook_url
        return {"webhook": url} if url else {}

    def run_once(self) -> int:
        """Claim the due notifications, send them and record the outcome; return how many."""
        with self._lock:
            self.last_error = ""
            handled, claims = self._claim(self.clock())
            # Each claim may take a timeout per target; one whose lease could run out mid-send
            # is left for the next claim rather than risk another process sending it as well.
            budget = timedelta(seconds=self.timeout * len(TARGETS))
            for claim in claims:
                if self.clock() + budget >= claim.lease_until:
                    break
                self._deliver(claim)
            return handled

    def _claim(self, now: datetime) -> tuple[int, list[Claim]]:
        urls = self.urls()
        lease_until = now + self.lease
        handled, claims = 0, []
        with session_scope(self.engine) as session:
            due = session.exec(
                select(Notification)
                .where(col(Notification.next_attempt_at) <= now, _any_pending())
                .order_by(col(Notification.id))
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            for row in due:
                assert row.id is not None
                changes, pending = self._prepare(session, row, urls, now)
                if pending:
                    changes["next_attempt_at"] = lease_until
                # The guard makes the claim hold even where FOR UPDATE is a no-op (SQLite).
                won = session.exec(
                    update(Notification)
                    .where(col(Notification.id) == row.id, col(Notification.next_attempt_at) <= now)
                    .values(**changes)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if not won:
                    continue
                handled += 1
                if pending:
                    payload = changes.get("payload", row.payload)
                    claims.append(Claim(row.id, row.event, payload, pending, lease_until))
            if self.metrics is not None:
                waiting = session.exec(select(func.count()).where(_any_pending())).one()
                self.metrics.notifications_pending.set(waiting)
        return handled, claims

    def _prepare(
        self, session: Session, row: Notification, urls: Mapping[str, str], now: datetime
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        """Return the changes a due row needs before sending (targets off, payload built) and
        the targets still to tell."""
        changes: dict[str, Any] = {}
        for target in TARGETS:
            if status(row, target) == PENDING and target not in urls:
                changes[f"{target}_status"] = OFF
        pending = tuple(t for t in TARGETS if changes.get(f"{t}_status", status(row, t)) == PENDING)
        if pending and not row.payload:
            incident = session.get(Incident, row.incident_id)
            if incident is None:
                for target in pending:
                    changes[f"{target}_status"] = FAILED
                changes["last_error"] = f"incident #{row.incident_id} no longer exists"
                pending = ()
            else:
                changes["payload"] = webhook_payload(row.event, incident, self.settings.public_url)
        if not pending:
            changes["delivered_at"] = now
        return changes, pending

    def _deliver(self, claim: Claim) -> None:
        errors = {target: self._send(target, claim) for target in claim.targets}
        try:
            self._record(claim, errors, self.clock())
        except SQLAlchemyError as error:
            # Sent but not recorded: sent again once the lease runs out (at-least-once).
            self.last_error = f"{type(error).__name__}: {error}".splitlines()[0]
            log.warning("notification %s: outcome not recorded: %s", claim.id, self.last_error)

    def _send(self, target: str, claim: Claim) -> str | None:
        """Send one claim to one target; return None when delivered, else a short error."""
        url = self.urls().get(target)
        if url is None:
            return "not configured any more"
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"drainwatch/{__version__}",
            "Drainwatch-Event": claim.event,
            "Drainwatch-Delivery": str(claim.id),
        }
        body = encode(claim.payload)
        if self.settings.webhook_secret:
            stamp = int(self.clock().timestamp())
            headers["Drainwatch-Signature"] = sign(self.settings.webhook_secret, stamp, body)
        try:
            status = self.post(url, body, headers, self.timeout)
        except Exception as error:  # a network failure, or anything else: retried the same way
            return f"{type(error).__name__}: {error}"[:ERROR_CHARS]
        return None if 200 <= status < 300 else f"HTTP {status}"

    def _record(self, claim: Claim, errors: Mapping[str, str | None], now: datetime) -> None:
        with session_scope(self.engine) as session:
            row = session.get(Notification, claim.id, with_for_update=True)
            if row is None or row.next_attempt_at != claim.lease_until:
                return  # purged, or its lease ran out and another dispatcher holds it now
            retrying = record_round(
                row,
                errors,
                targets=TARGETS,
                now=now,
                max_attempts=self.max_attempts,
                jitter=self.jitter,
                metrics=self.metrics,
            )
            if retrying:
                log.warning(
                    "notification %s (%s) attempt %s failed, retrying at %s: %s",
                    row.id,
                    row.event,
                    row.attempts,
                    row.next_attempt_at.isoformat(),
                    row.last_error,
                )
            elif any(error is not None for error in errors.values()):
                log.error("notification %s (%s) given up: %s", row.id, row.event, row.last_error)
            session.add(row)

    def _step(self) -> int:
        try:
            return self.run_once()
        except SQLAlchemyError as error:
            self.last_error = f"{type(error).__name__}: {error}".splitlines()[0]
            raise

    def start(self) -> None:
        """Start the background thread."""
        self._worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop once the notification in hand is recorded."""
        self._worker.stop(timeout)


def _any_pending() -> Any:
    return col(Notification.webhook_status) == PENDING
