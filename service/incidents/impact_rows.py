"""Impact windows into their tables: what each window counted since its last write, as two
bulk upserts (`incident_impact`, `incident_request`)."""

from __future__ import annotations

from sqlmodel import Session

from service.db import upsert_rows
from service.incidents.windows import Window
from service.models import IncidentImpact, IncidentRequest


def write_windows(session: Session, windows: list[tuple[int, Window]]) -> None:
    """Add what these windows counted since their last write: two bulk upserts."""
    impacts: list[dict[str, object]] = []
    requests: list[dict[str, object]] = []
    for incident_id, window in windows:
        counts, written = window.counts, window.written
        impacts.append(
            {
                "incident_id": incident_id,
                "requests": counts.requests - written.requests,
                "failed": counts.failed - written.failed,
                "clients": len(window.clients),
                "answered_after": window.answered_after,
                "failing_after": window.failing_after,
                "counted_to": window.counted_to,
            }
        )
        for key in sorted(window.failing):
            now = counts.endpoints.get(key, [0, 0])
            before = written.endpoints.get(key, [0, 0])
            if now != before:
                requests.append(
                    {
                        "incident_id": incident_id,
                        "method": key[0],
                        "path": key[1],
                        "requests": now[0] - before[0],
                        "failed": now[1] - before[1],
                    }
                )
        window.written = counts.copy(window.failing)
    kept = ("clients", "answered_after", "failing_after", "counted_to")
    upsert_rows(
        session,
        IncidentImpact,
        ("incident_id",),
        added=("requests", "failed"),
        replaced=kept,
        rows=impacts,
    )
    upsert_rows(
        session,
        IncidentRequest,
        ("incident_id", "method", "path"),
        added=("requests", "failed"),
        rows=requests,
    )
