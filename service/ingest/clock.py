"""Log time for events that carry none: the time of the last timed line of the same source.

Platforms print a traceback's lines without a timestamp (Render's log view, gunicorn's stderr),
so an event without a time of its own happened just after the last line that had one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from datetime import datetime

from service.ingest.records import Event


class LogClock:
    """Remembers the latest log time seen per source and lends it to untimed events."""

    def __init__(self) -> None:
        self._latest: dict[str, datetime] = {}

    def stamp(self, events: Iterable[Event]) -> Iterator[Event]:
        """Yield the events, untimed ones given the last log time of their source."""
        for event in events:
            own = _last_time(event)
            if own is not None:
                self._latest[event.source] = own
                yield event
                continue
            carried = self._latest.get(event.source)
            if carried is None:
                yield event
                continue
            first = dataclasses.replace(event.records[0], time=carried)
            yield dataclasses.replace(event, records=(first, *event.records[1:]))


def _last_time(event: Event) -> datetime | None:
    for record in reversed(event.records):
        if record.time is not None:
            return record.time
    return None
