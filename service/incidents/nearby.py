"""What happened close together in log time: failed requests next to an incident's hits become
its affected endpoints; requests per minute become error rates; requests from an incident's
first hit on become its impact (`impact`). Counts gather in memory and are written once per
batch."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlmodel import Session

from service.db import upsert_rows
from service.incidents.deploys import Unsettled
from service.incidents.impact import Impacts, ImpactsCheckpoint
from service.incidents.masked import CORS_SIGNATURE, MAX_RECENT, MaskedErrors
from service.ingest.access import Access
from service.ingest.clock import LogClock
from service.models import IncidentEndpoint, TrafficMinute
from service.signatures.templates import TemplateMiner

NEARBY = timedelta(seconds=5)
_T = TypeVar("_T")


@dataclass
class _Failure:
    time: datetime
    access: Access
    credited: set[int] = field(default_factory=set)


_Recent = tuple[MaskedErrors, dict[str, deque[tuple[datetime, int]]], dict[str, deque[_Failure]]]


@dataclass(frozen=True)
class Checkpoint:
    """What `IntakeState.restore` returns to."""

    clock: dict[str, datetime]
    impact: ImpactsCheckpoint
    unsettled: dict[str, list[Unsettled]]
    endpoints: Counter[tuple[int, str, str, int]]
    traffic: Counter[tuple[str, datetime, bool]]


@dataclass
class IntakeState:
    """What intake remembers between batches of one stream: the log clock and recent moments."""

    clock: LogClock = field(default_factory=LogClock)
    masked: MaskedErrors = field(default_factory=MaskedErrors)
    hits: dict[str, deque[tuple[datetime, int]]] = field(default_factory=dict)
    failures: dict[str, deque[_Failure]] = field(default_factory=dict)
    endpoints: Counter[tuple[int, str, str, int]] = field(default_factory=Counter)
    traffic: Counter[tuple[str, datetime, bool]] = field(default_factory=Counter)
    templates: TemplateMiner = field(default_factory=TemplateMiner)
    impact: Impacts = field(default_factory=Impacts)
    # Deploy markers of the last batch still waiting for the timed line after them, per source.
    unsettled: dict[str, list[Unsettled]] = field(default_factory=dict)
    # While a checkpoint stands: the recent moments as they were before they first changed.
    _saved: _Recent | None = None
    _saving: bool = False

    def checkpoint(self) -> Checkpoint:
        """Remember the state to return to if the unit of work that starts now fails.

        Cheap: the recent moments are copied only once they change; the templates learnt are
        kept whatever happens (a replay finds them, which is all it needs).
        """
        self._saved, self._saving = None, True
        return Checkpoint(
            clock=self.clock.checkpoint(),
            impact=self.impact.checkpoint(),
            unsettled={source: list(waiting) for source, waiting in self.unsettled.items()},
            endpoints=Counter(self.endpoints),
            traffic=Counter(self.traffic),
        )

    def restore(self, checkpoint: Checkpoint) -> None:
        """Return to the state of `checkpoint`, undoing every change since."""
        self.clock.restore(checkpoint.clock)
        self.impact.restore(checkpoint.impact)
        self.unsettled = checkpoint.unsettled
        self.endpoints, self.traffic = checkpoint.endpoints, checkpoint.traffic
        if self._saved is not None:
            self.masked, self.hits, self.failures = self._saved
        self._saved, self._saving = None, False

    def _changing(self) -> None:
        """Copy the recent moments before their first change under a checkpoint."""
        if not self._saving or self._saved is not None:
            return
        failures = {
            source: deque(
                (_Failure(f.time, f.access, set(f.credited)) for f in entries), maxlen=MAX_RECENT
            )
            for source, entries in self.failures.items()
        }
        hits = {source: deque(entries, maxlen=MAX_RECENT) for source, entries in self.hits.items()}
        self._saved = (self.masked.copy(), hits, failures)

    def request(
        self, source: str, when: datetime | None, access: Access
    ) -> list[tuple[int, str, datetime]]:
        """Count a request; credit a failed one to incidents hit just before it; return the
        incidents whose failing endpoint it shows recovered."""
        if when is None:
            return []
        self.traffic[(source, when.replace(second=0, microsecond=0), access.failed)] += 1
        recovered = self.impact.request(source, when, access)
        if not access.failed:
            return recovered
        self._changing()
        self.masked.failure(when, source, access)
        failure = _Failure(when, access)
        for time, incident_id in self._recent(self.hits, source, when):
            if incident_id not in failure.credited and abs(when - time) <= NEARBY:
                self._credit(failure, incident_id)
        self.failures.setdefault(source, deque(maxlen=MAX_RECENT)).append(failure)
        return recovered

    def hit(
        self,
        source: str,
        when: datetime | None,
        incident_id: int,
        signature: str = "",
        *,
        quiet: timedelta | None = None,
        shown: bool = True,
        by_endpoint: bool = True,
        first: bool = False,
    ) -> None:
        """Remember a hit and open or extend its incident's window; credit failed requests
        logged just before it to a shown incident (a pending one may yet be discarded).
        `by_endpoint`: its failing endpoints answering again may resolve it. `first`: the
        incident's first hit, so a window kept under its id belonged to a discarded one."""
        if when is None:
            return
        self._changing()
        fresh = self.impact.hit(
            source, when, incident_id, quiet, by_endpoint=by_endpoint, first=first
        )
        recent = self._recent(self.failures, source, when)
        if fresh:
            # Failures logged just before the window opened are part of the incident all the same.
            for failure in recent:
                if abs(when - failure.time) <= NEARBY:
                    self.impact.count_before(incident_id, failure.time, failure.access)
        if not shown:
            return
        if signature == CORS_SIGNATURE:
            self.masked.cors(when, incident_id)
        for failure in recent:
            if incident_id not in failure.credited and abs(when - failure.time) <= NEARBY:
                self._credit(failure, incident_id)
        self.hits.setdefault(source, deque(maxlen=MAX_RECENT)).append((when, incident_id))

    def write(self, session: Session) -> None:
        """Add the counts gathered since the last write to the database: one bulk upsert a table."""
        if self.masked.notes:
            self._changing()
        self.masked.write(session)
        self.impact.write(session)
        endpoints: Counter[tuple[int, str, str, int]] = Counter()
        for (incident_id, method, path, status), hits in self.endpoints.items():
            endpoints[(incident_id, method, path[:300], status)] += hits
        names = ("incident_id", "method", "path", "status")
        rows = [
            {**dict(zip(names, key, strict=True)), "hits": n}
            for key, n in sorted(endpoints.items())
        ]
        upsert_rows(session, IncidentEndpoint, names, added=("hits",), rows=rows)
        minutes: dict[tuple[str, datetime], list[int]] = {}
        for (source, minute, failed), count in self.traffic.items():
            counts = minutes.setdefault((source, minute), [0, 0])
            counts[0] += count
            counts[1] += count if failed else 0
        rows = [
            {"source": source, "minute": minute, "requests": requests, "errors": errors}
            for (source, minute), (requests, errors) in sorted(minutes.items())
        ]
        key = ("source", "minute")
        upsert_rows(session, TrafficMinute, key, added=("requests", "errors"), rows=rows)
        self.endpoints.clear()
        self.traffic.clear()

    def _credit(self, failure: _Failure, incident_id: int) -> None:
        failure.credited.add(incident_id)
        access = failure.access
        self.endpoints[(incident_id, access.method, access.path, access.status)] += 1
        self.impact.credit(incident_id, access)

    @staticmethod
    def _recent(table: dict[str, deque[_T]], source: str, when: datetime) -> deque[_T]:
        entries = table.setdefault(source, deque(maxlen=MAX_RECENT))
        while entries and _time(entries[0]) < when - NEARBY:
            entries.popleft()
        return entries


def _time(entry: object) -> datetime:
    if isinstance(entry, _Failure):
        return entry.time
    assert isinstance(entry, tuple)
    time: datetime = entry[0]
    return time
