"""The pager: a background thread that sends outage messages (`OutageNotification`) to Slack and
email, one outage's messages in order and at most one per outage per interval, and escalates
outages still open after a while.

Claimed with a lease like the incident dispatcher (`deliver`): safe with several processes on one
database, at least once when one dies mid-send; retried after 2, 4, 8... s with jitter.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, func, or_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from service import __version__
from service.db import session_scope, utcnow
from service.metrics import Metrics
from service.models import Outage, OutageNotification
from service.notify.deliver import (
    BATCH_SIZE,
    LEASE,
    MAX_ATTEMPTS,
    TIMEOUT_SECONDS,
    Post,
    encode,
    post_json,
)
from service.notify.mail import SmtpServer, outage_mail, send_mail
from service.notify.outage_outbox import still_open
from service.notify.outcome import ERROR_CHARS, FAILED, OFF, PENDING, record_round, status
from service.notify.slack import outage_blocks
from service.settings import Settings
from service.worker import Worker

log = logging.getLogger("drainwatch.notify")

TARGETS = ("slack", "email")
# Outages looked at per round for the still-open escalation.
STILL_OPEN_BATCH = 50

Describe = Callable[[Session, Outage, str, str], dict[str, Any]]
SendMail = Callable[[SmtpServer, EmailMessage, float], None]


@dataclass(frozen=True)
class PageClaim:
    """An outage message this pager holds until `lease_until`, with the targets to tell."""

    id: int
    outage_id: int
    payload: dict[str, Any]
    targets: tuple[str, ...]
    lease_until: datetime


class Pager:
    """Sends due outage messages; several pagers may share one database."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        describe: Describe,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utcnow,
        post: Post = post_json,
        mail: SendMail = send_mail,
        jitter: Callable[[], float] = random.random,
        interval_seconds: float = 1.0,
        lease: timedelta = LEASE,
        max_attempts: int = MAX_ATTEMPTS,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.describe = describe
        self.metrics = metrics
        self.clock = clock
        self.post = post
        self.mail = mail
        self.jitter = jitter
        self.lease = lease
        self.max_attempts = max_attempts
        self.timeout = timeout
        self._worker = Worker(
            "drainwatch-page",
            self.run_once,
            interval_seconds=interval_seconds,
            max_backoff_seconds=30.0,
            meanwhile="outage messages wait",
        )
        self._lock = threading.Lock()

    @property
    def interval(self) -> timedelta:
        """Return the least time between two messages of one outage."""
        return timedelta(minutes=max(self.settings.notify_interval_minutes, 0.0))

    def smtp(self) -> SmtpServer | None:
        """Return the SMTP server the settings name, or None when email is not configured."""
        settings = self.settings
        if not settings.smtp_host or not settings.smtp_recipients:
            return None
        return SmtpServer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            recipients=settings.smtp_recipients,
            user=settings.smtp_user,
            password=settings.smtp_password,
            require_starttls=settings.smtp_starttls,
            ca_file=settings.smtp_ca_file,
        )

    def configured(self) -> set[str]:
        """Return the targets the settings configure."""
        found = {"slack"} if self.settings.slack_webhook_url else set()
        return found | ({"email"} if self.smtp() is not None else set())

    def run_once(self) -> int:
        """Escalate outages still open, claim the due messages, send them and record the
        outcome; return how many messages were handled."""
        with self._lock:
            self.escalate_still_open(self.clock())
            handled, claims = self._claim(self.clock())
            budget = timedelta(seconds=self.timeout * len(TARGETS))
            for claim in claims:
                if self.clock() + budget >= claim.lease_until:
                    break  # left for the next claim rather than risk a second sender
                self._deliver(claim)
            return handled

    def escalate_still_open(self, now: datetime) -> int:
        """Write the escalation of each outage open longer than the setting says; return how
        many."""
        minutes = self.settings.notify_still_open_minutes
        if minutes <= 0:
            return 0
        cutoff = now - timedelta(minutes=minutes)
        written = 0
        with session_scope(self.engine) as session:
            found = session.exec(
                select(Outage)
                .where(
                    Outage.status == "open",
                    Outage.notified_status == "open",
                    col(Outage.still_open_at).is_(None),
                    col(Outage.created_at) <= cutoff,
                )
                .order_by(col(Outage.id))
                .limit(STILL_OPEN_BATCH)
            ).all()
            for outage in found:
                # The guard makes one pager of several write it.
                won = session.exec(
                    update(Outage)
                    .where(col(Outage.id) == outage.id, col(Outage.still_open_at).is_(None))
                    .values(still_open_at=now)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if won:
                    still_open(session, outage, minutes, now=now)
                    written += 1
        return written

    def _claim(self, now: datetime) -> tuple[int, list[PageClaim]]:
        configured = self.configured()
        lease_until = now + self.lease
        handled, claims = 0, []
        claimed_now: set[int] = set()
        with session_scope(self.engine) as session:
            due = session.exec(
                select(OutageNotification)
                .where(col(OutageNotification.next_attempt_at) <= now, _any_pending())
                .order_by(col(OutageNotification.id))
                .limit(BATCH_SIZE)
                .with_for_update(skip_locked=True)
            ).all()
            for row in due:
                changes, pending = self._prepare(session, row, configured, claimed_now, now)
                if pending:
                    changes["next_attempt_at"] = lease_until
                won = session.exec(
                    update(OutageNotification)
                    .where(
                        col(OutageNotification.id) == row.id,
                        col(OutageNotification.next_attempt_at) <= now,
                        _any_pending(),
                    )
                    .values(**changes)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if not won or ("delivered_at" not in changes and not pending):
                    continue  # lost to another pager, or put off (order, interval)
                handled += 1
                if pending:
                    assert row.id is not None
                    claimed_now.add(row.outage_id)
                    payload = changes.get("payload", row.payload)
                    claims.append(PageClaim(row.id, row.outage_id, payload, pending, lease_until))
            if self.metrics is not None:
                waiting = session.exec(
                    select(func.count()).select_from(OutageNotification).where(_any_pending())
                ).one()
                self.metrics.outage_notifications_pending.set(waiting)
        return handled, claims

    def _prepare(
        self,
        session: Session,
        row: OutageNotification,
        configured: set[str],
        claimed_now: set[int],
        now: datetime,
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        """Return the changes a due message needs and the targets to tell now; none when it
        waits (for an earlier message of its outage, or for the interval since the last)."""
        changes: dict[str, Any] = {}
        for target in TARGETS:
            if status(row, target) == PENDING and target not in configured:
                changes[f"{target}_status"] = OFF
        pending = tuple(t for t in TARGETS if changes.get(f"{t}_status", status(row, t)) == PENDING)
        if not pending:
            changes["delivered_at"] = now
            return changes, ()
        wait = self._wait_until(session, row, claimed_now, now)
        if wait is not None:
            return {"next_attempt_at": wait}, ()
        if not row.payload:
            outage = session.get(Outage, row.outage_id)
            if outage is None:
                changes.update({f"{t}_status": FAILED for t in pending})
                changes["last_error"] = f"outage #{row.outage_id} no longer exists"
                changes["delivered_at"] = now
                return changes, ()
            changes["payload"] = self._payload(session, outage, row)
        if row.claimed_at is None:
            changes["claimed_at"] = now
        return changes, pending

    def _payload(self, session: Session, outage: Outage, row: OutageNotification) -> dict[str, Any]:
        """Return the message's document; should its report fail to build, the outage alone
        (a message that says less beats one that never goes)."""
        try:
            return self.describe(session, outage, row.event, row.reason)
        except Exception:
            log.exception(
                "outage #%s: its report could not be built for message %s", outage.id, row.id
            )
        url = f"{self.settings.public_url.rstrip('/')}/outages/{outage.id}"
        return {
            "event": row.event,
            "reason": row.reason,
            "outage": {"id": outage.id, "title": outage.title, "source": outage.source, "url": url},
            "title": outage.title,
            "severity": outage.notified_severity,
            "duration": "",
            "lead": [],
            "report": "",
        }

    def _wait_until(
        self, session: Session, row: OutageNotification, claimed_now: set[int], now: datetime
    ) -> datetime | None:
        """Return when a due message may go, if not now: after the earlier messages of its
        outage are done, and an interval after the last one first sent."""
        if row.outage_id in claimed_now:
            return now + max(self.interval, timedelta(seconds=1))
        mine = col(OutageNotification.outage_id) == row.outage_id
        earlier = session.exec(
            select(func.min(col(OutageNotification.next_attempt_at))).where(
                mine, col(OutageNotification.id) < row.id, _any_pending()
            )
        ).one()
        if earlier is not None:
            # Looked at again soon: the earlier one may be in flight, due back in a second.
            return max(min(earlier, now + timedelta(seconds=5)), now + timedelta(seconds=1))
        if row.claimed_at is not None or self.interval <= timedelta():
            return None  # a retry: the interval counts from first sends
        last = session.exec(
            select(func.max(col(OutageNotification.claimed_at))).where(
                mine, col(OutageNotification.id) != row.id
            )
        ).one()
        if last is not None and now < last + self.interval:
            return last + self.interval
        return None

    def _deliver(self, claim: PageClaim) -> None:
        errors = {target: self._send(target, claim) for target in claim.targets}
        try:
            self._record(claim, errors, self.clock())
        except SQLAlchemyError as error:
            # Sent but not recorded: sent again once the lease runs out (at-least-once).
            first = f"{type(error).__name__}: {error}".splitlines()[0]
            log.warning("outage message %s: outcome not recorded: %s", claim.id, first)

    def _send(self, target: str, claim: PageClaim) -> str | None:
        """Send one claim to one target; return None when delivered, else a short error."""
        try:
            if target == "slack":
                url = self.settings.slack_webhook_url
                if not url:
                    return "not configured any more"
                headers = {
                    "Content-Type": "application/json",
                    "User-Agent": f"drainwatch/{__version__}",
                }
                status = self.post(url, encode(outage_blocks(claim.payload)), headers, self.timeout)
                return None if 200 <= status < 300 else f"HTTP {status}"
            server = self.smtp()
            if server is None:
                return "not configured any more"
            host = urlsplit(self.settings.public_url).hostname or "drainwatch"
            message_id = f"<outage-{claim.outage_id}.message-{claim.id}@{host}>"
            self.mail(
                server, outage_mail(claim.payload, server, message_id=message_id), self.timeout
            )
        except Exception as error:  # a network failure, or anything else: retried the same way
            return f"{type(error).__name__}: {error}"[:ERROR_CHARS]
        return None

    def _record(self, claim: PageClaim, errors: Mapping[str, str | None], now: datetime) -> None:
        with session_scope(self.engine) as session:
            row = session.get(OutageNotification, claim.id, with_for_update=True)
            if row is None or row.next_attempt_at != claim.lease_until:
                return  # purged, or its lease ran out and another pager holds it now
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
                    "outage message %s (%s of outage #%s) attempt %s failed, retrying at %s: %s",
                    row.id,
                    row.event,
                    row.outage_id,
                    row.attempts,
                    row.next_attempt_at.isoformat(),
                    row.last_error,
                )
            elif any(error is not None for error in errors.values()):
                log.error("outage message %s (%s) given up: %s", row.id, row.event, row.last_error)
            session.add(row)

    def start(self) -> None:
        """Start the background thread."""
        self._worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop once the message in hand is recorded."""
        self._worker.stop(timeout)


def _any_pending() -> Any:
    return or_(
        col(OutageNotification.slack_status) == PENDING,
        col(OutageNotification.email_status) == PENDING,
    )
