"""Data gaps: stretches of a source's log that never reached drainwatch, drawn on its timeline.

Two kinds: the platform said it dropped lines (Heroku's `Error L10 (output buffer overflow)`), or
drainwatch itself refused a batch (a source over its rate limit, a full spool). Either way the
counts of the incidents around it are low by an unknown amount, and the report says so.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from service.models import TimelineEntry

KIND = "data-gap"
# What every line `platform_drop` reads holds.
DROP_LITERALS = ("Error L10 (output buffer overflow):",)
_L10 = re.compile(
    r"Error L10 \(output buffer overflow\):(?: drain '[^'\n]{1,200}')? (?:dropped )?"
    r"(\d{1,9}) messages(?: dropped)? since (\S{1,40}?)\.?$"
)


def platform_drop(message: str) -> str | None:
    """Return the timeline text for a line in which the platform says it dropped lines."""
    match = _L10.search(message)
    if match is None:
        return None
    dropped, since = match.groups()
    return (
        f"Heroku Logplex dropped {dropped} log lines since {since} (L10 output buffer overflow):"
        " counts around this time are low"
    )


def record_gap(session: Session, source: str, *, time: datetime | None, text: str) -> None:
    """Put a data gap on the source's timeline."""
    session.add(TimelineEntry(source=source, time=time, kind=KIND, text=text[:2000]))


def gaps_between(
    session: Session, source: str, start: datetime, end: datetime
) -> list[TimelineEntry]:
    """Return the source's data gaps from `start` to `end`, oldest first."""
    statement = (
        select(TimelineEntry)
        .where(
            TimelineEntry.source == source,
            TimelineEntry.kind == KIND,
            col(TimelineEntry.incident_id).is_(None),
            col(TimelineEntry.time) >= start,
            col(TimelineEntry.time) <= end,
        )
        .order_by(col(TimelineEntry.time), col(TimelineEntry.id))
    )
    return list(session.exec(statement).all())


def recent_gaps(session: Session, source: str | None, *, limit: int = 10) -> list[TimelineEntry]:
    """Return the latest data gaps of `source` (of every source for None), newest first."""
    statement = select(TimelineEntry).where(TimelineEntry.kind == KIND)
    if source is not None:
        statement = statement.where(TimelineEntry.source == source)
    statement = statement.order_by(col(TimelineEntry.id).desc()).limit(limit)
    return list(session.exec(statement).all())


@dataclass(slots=True)
class Refused:
    """Batches of one source refused since the last write."""

    lines: int
    batches: int
    first: datetime
    last: datetime
    reasons: frozenset[str]

    def plus(self, other: Refused) -> Refused:
        """Return both tallies as one."""
        return Refused(
            self.lines + other.lines,
            self.batches + other.batches,
            min(self.first, other.first),
            max(self.last, other.last),
            self.reasons | other.reasons,
        )


class Refusals:
    """Batches drainwatch refused, per source, until the processor writes them as data gaps."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_source: dict[str, Refused] = {}

    def note(self, source: str, lines: int, *, reason: str, at: datetime) -> None:
        """Count a refused batch of `lines` lines."""
        self.put_back({source: Refused(lines, 1, at, at, frozenset({reason}))})

    def take(self) -> dict[str, Refused]:
        """Return what was counted and start counting afresh."""
        with self._lock:
            taken, self._by_source = self._by_source, {}
        return taken

    def put_back(self, taken: dict[str, Refused]) -> None:
        """Count again what `take` returned (its session did not commit)."""
        with self._lock:
            for source, refused in taken.items():
                held = self._by_source.get(source)
                self._by_source[source] = refused if held is None else held.plus(refused)


def record_refusals(session: Session, taken: dict[str, Refused]) -> None:
    """Put each source's refused batches on its timeline as one data gap."""
    for source, held in sorted(taken.items()):
        why = " and ".join(sorted(held.reasons))
        record_gap(
            session,
            source,
            time=held.first,
            text=(
                f"drainwatch refused {held.lines} log lines in {held.batches} batches ({why})"
                f" from {held.first.isoformat()} to {held.last.isoformat()}:"
                " counts around this time are low"
            ),
        )
