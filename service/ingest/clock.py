"""Log time for events that carry none: the time of the last timed line of the same source,
lent with what bounds it.

Platforms print a traceback's lines and Render its `==>` lines without a timestamp. Such an event
happened after the last timed line of its source and before the next one: when both are in the
same stream (one batch, one scan chunk) and at most `BOUND` apart, the time is `ABOUT` right.
Otherwise it is only a lower bound (`AFTER`): good enough to count and order a hit, not to say
when a deploy started (a deploy with an unknown start beats one that started before it did).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta

import msgspec

from service.ingest.records import ABOUT, AFTER, Event

# Three minutes: a quiet service logs a timed line (a health check, a request) at least that often,
# and "about" a time two minutes early still places a deploy between the right hits.
BOUND = timedelta(seconds=180)
# Events held while waiting for the timed line after them; past this the rest go untimed.
MAX_WAITING = 5000


@dataclasses.dataclass(slots=True)
class _Waiting:
    index: int
    event: Event
    lent: datetime | None = None  # the time the event borrows from the timed line before it
    open: bool = False  # still waiting for the timed line after it
    bounded: bool = False  # the timed line after it came, close enough


class LogClock:
    """Remembers the latest log time seen per source and lends it to untimed events."""

    def __init__(self) -> None:
        self._latest: dict[str, datetime] = {}

    def checkpoint(self) -> dict[str, datetime]:
        """Return what `restore` needs to bring the clock back to this moment."""
        return dict(self._latest)

    def restore(self, checkpoint: dict[str, datetime]) -> None:
        """Bring the clock back to a checkpoint."""
        self._latest = dict(checkpoint)

    def stamp(self, events: Iterable[Event]) -> Iterator[Event]:
        """Yield the events in order, untimed ones given the last log time of their source."""
        for _, event in self.stamp_wanted(events):
            yield event

    def stamp_wanted(
        self, events: Iterable[Event], wanted: Sequence[bool] | None = None
    ) -> Iterator[tuple[int, Event]]:
        """Yield (index, event) as `stamp` yields events, lending a time only to the untimed
        events `wanted` says need one: the others come at once, ahead of any event still
        waiting for the timed line after it (they carry no time to order them by)."""
        waiting: list[_Waiting] = []
        unbounded = 0  # how many of them still wait for a timed line after them
        latest = self._latest
        for index, event in enumerate(events):
            records = event.records
            source = records[0].source
            # Most events are one line: its time is the event's first and last.
            own = records[0].time if len(records) == 1 else event.time
            if own is not None:
                if unbounded:
                    unbounded -= _bound(waiting, source, own)
                latest[source] = own if len(records) == 1 else (_last_time(event) or own)
            elif wanted is not None and not wanted[index]:
                yield index, event
                continue
            previous = latest.get(source) if own is None else None
            if previous is None and not waiting:
                yield index, event
                continue
            waiting.append(_Waiting(index, event, previous, open=previous is not None))
            unbounded += previous is not None
            if not unbounded or len(waiting) >= MAX_WAITING:
                yield from _release(waiting)
                waiting, unbounded = [], 0
        yield from _release(waiting)


def _bound(waiting: list[_Waiting], source: str, after: datetime) -> int:
    """Close the waits of `source` with the time after them; return how many were closed."""
    closed = 0
    for item in waiting:
        if item.open and item.event.source == source:
            item.open = False
            closed += 1
            item.bounded = item.lent is not None and abs(after - item.lent) <= BOUND
    return closed


def _release(waiting: list[_Waiting]) -> Iterator[tuple[int, Event]]:
    for item in waiting:
        if item.lent is None:
            yield item.index, item.event
        else:
            yield item.index, lend(item.event, item.lent, ABOUT if item.bounded else AFTER)


def lend(event: Event, time: datetime, how: str) -> Event:
    """Return the event with `time` lent to its first record (`how`: `ABOUT` or `AFTER`)."""
    first = msgspec.structs.replace(event.records[0], time=time, time_lent=how)
    return msgspec.structs.replace(event, records=(first, *event.records[1:]))


def _last_time(event: Event) -> datetime | None:
    for record in reversed(event.records):
        if record.time is not None:
            return record.time
    return None
