"""Prometheus metrics of one drainwatch process, in a registry of its own (one per app)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class Metrics:
    """The counters and gauges `/metrics` exposes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.lines_accepted = Counter(
            "drainwatch_lines_accepted",
            "Log lines accepted into the spool.",
            ["source"],
            registry=self.registry,
        )
        self.lines_rejected = Counter(
            "drainwatch_lines_rejected",
            "Log lines rejected inside accepted batches, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.requests_rejected = Counter(
            "drainwatch_ingest_rejected",
            "Ingest requests answered with an error, by error code.",
            ["error"],
            registry=self.registry,
        )
        self.times_ignored = Counter(
            "drainwatch_times_ignored",
            "Accepted lines whose own time was outside 1971-2999: kept, timed by their arrival.",
            registry=self.registry,
        )
        self.source_times_ignored = Gauge(
            "drainwatch_source_times_ignored",
            "Accepted lines whose own time was ignored, by source and reason, since the spool"
            " was created (shared by every process on the spool).",
            ["source", "reason"],
            registry=self.registry,
        )
        self.batches_duplicate = Counter(
            "drainwatch_batches_duplicate",
            "Batches whose idempotency key was seen before and so stored nothing.",
            registry=self.registry,
        )
        self.logplex_count_mismatch = Counter(
            "drainwatch_logplex_msg_count_mismatch",
            "Logplex batches whose Logplex-Msg-Count disagrees with their frames (kept anyway).",
            ["source"],
            registry=self.registry,
        )
        self.spool_bytes = Gauge(
            "drainwatch_spool_bytes",
            "Bytes of batches waiting in the spool.",
            registry=self.registry,
        )
        self.lines_quarantined = Gauge(
            "drainwatch_lines_quarantined",
            "Accepted lines the processor could not store, kept in quarantine with their reason.",
            ["source"],
            registry=self.registry,
        )
        self.spool_damaged = Gauge(
            "drainwatch_spool_damaged",
            "1 when start-up found the spool file malformed and recovered what it could.",
            registry=self.registry,
        )
        self.signatures_disabled = Gauge(
            "drainwatch_signatures_disabled",
            "Signatures disabled because a regex timed out.",
            registry=self.registry,
        )

        self.notifications = Counter(
            "drainwatch_notifications",
            "Notification deliveries by target (webhook, slack, email) and outcome"
            " (sent, retry, failed).",
            ["target", "outcome"],
            registry=self.registry,
        )
        self.notifications_pending = Gauge(
            "drainwatch_notifications_pending",
            "Notifications with a target still to be told, as last seen by the dispatcher.",
            registry=self.registry,
        )

        self.outage_notifications_pending = Gauge(
            "drainwatch_outage_notifications_pending",
            "Outage messages with a target (Slack, email) still to be told.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        """Return the metrics in Prometheus text format."""
        return generate_latest(self.registry)
