"""The tables: sources, incidents, the events that hit them, timeline entries, users, sessions.

The schema itself is owned by the Alembic migrations in `service/migrations/`; a test keeps the
two in agreement.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime

# `pending`: a threshold or absence rule still waiting; kept and counted, never shown.
VISIBLE_STATUSES = ("open", "acknowledged", "resolved")
UNRESOLVED_STATUSES = ("open", "acknowledged")
# Every status but `resolved`: a fingerprint has at most one incident in these.
ACTIVE_STATUSES = ("pending", *UNRESOLVED_STATUSES)


class Source(SQLModel, table=True):
    """A named log stream, with its hashed ingest token and line counters."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)
    token_hash: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime)
    lines_received: int = 0
    lines_processed: int = 0
    lines_quarantined: int = 0
    last_line_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_log_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The log time of the latest request answered below 500 that was no health check or probe:
    # traffic flowed until then (a deploy resolves an incident only if it did after going live).
    last_answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The absence rules' start lines still waiting for their awaited line (`incidents.absence`),
    # written in the transaction of the lines that started them, like the lines' counts.
    waits: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )


class IncidentBase(SQLModel):
    """The fields every incident view shares."""

    signature: str = Field(max_length=200, index=True)
    title: str = Field(max_length=500)
    severity: str = Field(max_length=20)
    status: str = Field(default="open", max_length=20, index=True)
    source: str = Field(max_length=100, foreign_key="source.name", index=True)
    first_seen: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_seen: datetime | None = Field(default=None, sa_type=UTCDateTime)
    occurrences: int = 0
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # `exact` once any hit saw the failure itself; `inferred` while every hit read it from weaker
    # evidence (a traceback cut before its exception line).
    confidence: str = Field(default="exact", max_length=10)
    # The outage this incident is part of (`Outage`); set once the incident is visible.
    outage_id: int | None = Field(default=None, foreign_key="outage.id", index=True)


class Incident(IncidentBase, table=True):
    """One failure, grouped by fingerprint, with a lifecycle: open -> acknowledged -> resolved."""

    __table_args__ = (
        Index(
            "uq_incident_active_fingerprint",
            "fingerprint",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        # What the processor asks every step, whatever a source's history holds: its active
        # incidents (by status) and the incidents near a new one in time (by last hit).
        Index("ix_incident_source_status", "source", "status"),
        Index("ix_incident_source_last_seen", "source", "last_seen"),
    )

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(max_length=64, index=True)
    opened_at: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolution: str = Field(default="", max_length=40)
    # Indexed: deleting a discarded pending incident checks that none points to it.
    previous_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    note: str = Field(default="", sa_type=Text)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    owner: str = Field(default="", max_length=200)
    business_impact: str = Field(default="", sa_type=Text)
    fix_commit: str = Field(default="", max_length=200)
    # The operator's action items (`service.incidents.actions.ActionItem` as JSON); until some are
    # set, a report suggests its own from the signature.
    action_items: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    deploy_id: int | None = Field(default=None, foreign_key="deploy.id")
    resolved_by_deploy_id: int | None = Field(default=None, foreign_key="deploy.id")


class Outage(SQLModel, table=True):
    """Incidents of one source that tell one story: a cause and the failures it brought, joined
    by the cause rules in `patterns/outages.toml`. Every visible incident belongs to one; an
    incident nothing joins is an outage of its own. Open while any of its incidents is."""

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=100, foreign_key="source.name", index=True)
    title: str = Field(max_length=500)
    status: str = Field(default="open", max_length=20, index=True)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_seen: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # The incident the outage's story starts from (the cause side of the rule that joined it).
    cause_id: int | None = None
    # What its messages (`OutageNotification`) have told so far: "" (nothing yet), `open` or
    # `resolved`; the highest severity told; when the still-open escalation was written.
    notified_status: str = Field(default="", max_length=20)
    notified_severity: str = Field(default="", max_length=20)
    still_open_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Deploy(SQLModel, table=True):
    """A deploy or release of a source, assembled from the platform's markers in its log."""

    # The sweep asks for the deploys that went live after an incident's last hit.
    __table_args__ = (Index("ix_deploy_source_live_at", "source", "live_at"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=100, foreign_key="source.name", index=True)
    platform: str = Field(max_length=20)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    live_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default="deploying", max_length=20)
    version: str = Field(default="", max_length=200)
    detail: str = Field(default="", sa_type=Text)


class IncidentPublic(IncidentBase):
    """An incident as the JSON API shows it."""

    id: int


class IncidentEvent(SQLModel, table=True):
    """One event (a line, or a whole traceback) that hit an incident, redacted, kept whole."""

    __tablename__ = "incident_event"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    received_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    instance: str = Field(default="", max_length=200)
    role: str = Field(default="open", max_length=10)
    text: str = Field(sa_type=Text)
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class IncidentMinute(SQLModel, table=True):
    """Hits of an incident per minute of log time: the evidence that outlives purged events."""

    __tablename__ = "incident_minute"

    incident_id: int = Field(foreign_key="incident.id", primary_key=True)
    minute: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    hits: int = 0


class IncidentEndpoint(SQLModel, table=True):
    """Failed requests (5xx access or router lines) logged within seconds of an incident's hits."""

    __tablename__ = "incident_endpoint"

    incident_id: int = Field(foreign_key="incident.id", primary_key=True)
    method: str = Field(max_length=10, primary_key=True)
    path: str = Field(max_length=300, primary_key=True)
    status: int = Field(primary_key=True)
    hits: int = 0


class IncidentImpact(SQLModel, table=True):
    """The requests of an incident's window, from its first hit to its recovery (or as far as
    the log went), health checks and probes left out; and what came after its last hit."""

    __tablename__ = "incident_impact"

    incident_id: int = Field(foreign_key="incident.id", primary_key=True)
    requests: int = 0
    failed: int = 0
    # Distinct client addresses among those requests (counted up to a cap).
    clients: int = 0
    # Since the last hit: requests answered 2xx, and how many of those by a failing endpoint.
    answered_after: int = 0
    failing_after: int = 0
    counted_to: datetime | None = Field(default=None, sa_type=UTCDateTime)


class IncidentRequest(SQLModel, table=True):
    """Requests to one endpoint within an incident's window, and how many failed (5xx); kept
    for the endpoints whose failures were logged next to the incident's hits."""

    __tablename__ = "incident_request"

    incident_id: int = Field(foreign_key="incident.id", primary_key=True)
    method: str = Field(max_length=10, primary_key=True)
    path: str = Field(max_length=300, primary_key=True)
    requests: int = 0
    failed: int = 0


class TrafficMinute(SQLModel, table=True):
    """Requests and server errors of a source per minute of log time, for error rates."""

    __tablename__ = "traffic_minute"

    source: str = Field(max_length=100, foreign_key="source.name", primary_key=True)
    minute: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    requests: int = 0
    errors: int = 0


class TimelineEntry(SQLModel, table=True):
    """A moment worth drawing: an incident opened or resolved, a deploy, a note."""

    __tablename__ = "timeline_entry"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=100, foreign_key="source.name", index=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    kind: str = Field(max_length=40)
    text: str = Field(sa_type=Text)


class Notification(SQLModel, table=True):
    """An incident event to tell the webhook and Slack about: a transactional outbox row.

    Written in the transaction that changed the incident, so an event is never lost nor told twice
    for one change. Each target has its own state: `pending` (due at `next_attempt_at`), `sent`,
    `failed` (gave up after retries) or `off` (not configured when it came due).
    """

    __tablename__ = "notification"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    event: str = Field(max_length=40)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime, index=True)
    attempts: int = 0
    webhook_status: str = Field(default="pending", max_length=10)
    slack_status: str = Field(default="pending", max_length=10)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", sa_type=Text)


class OutageNotification(SQLModel, table=True):
    """An outage message for Slack and email: a transactional outbox row, like `Notification`.

    Written in the transaction that changed the outage (`outage.opened`, `outage.escalated`,
    `outage.resolved`); its payload is built when it is first claimed and kept for the retries.
    Each target's state is `pending`, `sent`, `failed`, `off` or `superseded` (a later message
    of the outage made it pointless before it was sent).
    """

    __tablename__ = "outage_notification"

    id: int | None = Field(default=None, primary_key=True)
    outage_id: int = Field(foreign_key="outage.id", index=True)
    event: str = Field(max_length=40)
    reason: str = Field(default="", max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime, index=True)
    # Set when a dispatcher first takes it: from then on it is no longer superseded, only sent.
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
    slack_status: str = Field(default="pending", max_length=12)
    email_status: str = Field(default="pending", max_length=12)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", sa_type=Text)


class User(SQLModel, table=True):
    """A dashboard and API user; only the password's scrypt hash is stored."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True, index=True)
    password_hash: str = Field(max_length=300)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Admins create, rotate and revoke sources and manage users; everyone else reads and acts
    # on incidents.
    is_admin: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})


class LoginSession(SQLModel, table=True):
    """A dashboard login; the cookie holds the token, the table only its hash."""

    __tablename__ = "login_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class AppliedBatch(SQLModel, table=True):
    """A spool batch whose lines are in the database, so a replay after a crash stores nothing."""

    __tablename__ = "applied_batch"

    key: str = Field(primary_key=True, max_length=100)
    applied_at: datetime = Field(sa_type=UTCDateTime)


class HeldRecords(SQLModel, table=True):
    """The records one spool's processor holds back (a traceback that may go on), written in the
    same transaction as the batches that carried them, so a crash loses none of them."""

    __tablename__ = "held_records"

    spool_id: str = Field(primary_key=True, max_length=64)
    body: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(sa_type=UTCDateTime)


class QuarantinedRecord(SQLModel, table=True):
    """A record the processor could not store, kept with the reason so nothing else waits on it."""

    __tablename__ = "quarantined_record"
    __table_args__ = (Index("ix_quarantined_record_source", "source"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=200)
    batch_key: str = Field(max_length=100)
    received_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    quarantined_at: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(max_length=500)
    record: str = Field(sa_column=Column(Text, nullable=False))
