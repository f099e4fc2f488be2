"""A browser's CORS error and a server's 5xx within seconds of each other: the server error is
what broke, and the browser reported it as CORS because the error response lacked CORS headers
(seed 000). The CORS incident's timeline says so, naming the request that failed."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session

from service.ingest.access import Access
from service.models import Incident, TimelineEntry

CORS_SIGNATURE = "http.cors-blocked"
WINDOW = timedelta(seconds=10)


MAX_RECENT = 2000
"""The most recent moments kept per kind: a burst in one second cannot grow memory without end."""


@dataclass
class MaskedErrors:
    """Recent server errors and CORS hits of every source, paired when close in log time."""

    # Bounded by count too: lines that all carry one log time are never old enough to forget.
    failures: deque[tuple[datetime, str, Access]] = field(
        default_factory=lambda: deque(maxlen=MAX_RECENT)
    )
    cors_hits: deque[tuple[datetime, int]] = field(default_factory=lambda: deque(maxlen=MAX_RECENT))
    paired: set[tuple[int, datetime, str]] = field(default_factory=set)
    notes: list[tuple[int, datetime, str]] = field(default_factory=list)

    def copy(self) -> MaskedErrors:
        """Return a copy that shares nothing this one may still change."""
        return MaskedErrors(
            deque(self.failures, maxlen=MAX_RECENT),
            deque(self.cors_hits, maxlen=MAX_RECENT),
            set(self.paired),
            list(self.notes),
        )

    def failure(self, when: datetime, source: str, access: Access) -> None:
        """Remember a server error; pair it with CORS errors seen just before it."""
        self._forget(when)
        self.failures.append((when, source, access))
        for time, incident_id in self.cors_hits:
            if abs(when - time) <= WINDOW:
                self._pair(incident_id, when, source, access)

    def cors(self, when: datetime, incident_id: int) -> None:
        """Remember a CORS hit; pair it with server errors seen just before it."""
        self._forget(when)
        self.cors_hits.append((when, incident_id))
        for time, source, access in self.failures:
            if abs(when - time) <= WINDOW:
                self._pair(incident_id, time, source, access)

    def write(self, session: Session) -> None:
        """Put the pairings found since the last write on the CORS incidents' timelines."""
        for incident_id, time, text in self.notes:
            incident = session.get(Incident, incident_id)
            if incident is not None:
                session.add(
                    TimelineEntry(
                        source=incident.source,
                        incident_id=incident_id,
                        time=time,
                        kind="masked-server-error",
                        text=text,
                    )
                )
        self.notes.clear()

    def _pair(self, incident_id: int, time: datetime, source: str, access: Access) -> None:
        key = (incident_id, time, f"{source} {access.method} {access.path}")
        if key in self.paired:
            return
        self.paired.add(key)
        self.notes.append(
            (
                incident_id,
                time,
                f"{access.status} on {source} for {access.method} {access.path}: the server error "
                "behind the CORS error (error responses without CORS headers look like CORS "
                "failures to a browser)",
            )
        )

    def _forget(self, now: datetime) -> None:
        for entries in (self.failures, self.cors_hits):
            while entries and entries[0][0] < now - WINDOW:
                entries.popleft()
        if len(self.paired) > 10_000:
            self.paired.clear()
