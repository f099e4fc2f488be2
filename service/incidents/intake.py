"""From events to stored incidents: match each event, apply each hit to the lifecycle."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session

from service.incidents.lifecycle import attach_hit
from service.ingest.clock import LogClock
from service.ingest.records import Event
from service.signatures.engine import Matcher
from service.sources import ensure_source


def apply_events(
    session: Session,
    matcher: Matcher,
    events: Iterable[Event],
    *,
    now: datetime,
    clock: LogClock | None = None,
) -> Counter[str]:
    """Match events and store their incidents; return how many records each source's events held."""
    lines: Counter[str] = Counter()
    known_sources: set[str] = set()
    for event in clock.stamp(events) if clock is not None else events:
        lines[event.source] += len(event.records)
        hit = matcher.match(event)
        if hit is None:
            continue
        if event.source not in known_sources:
            ensure_source(session, event.source, now=now)
            known_sources.add(event.source)
        attach_hit(session, hit, now=now)
    session.flush()
    return lines
