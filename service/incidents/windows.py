"""One incident's requests (`Window`), and the requests the open windows of a source have not
counted yet (`Group`): per endpoint and client, bounded, counted request by request only where
a window's state decides what a request means to it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from service.ingest.access import Access

# A failed request logged this soon after a hit is the hit's own (Flask logs the traceback, then
# the 500): the counts as they stood then end the window of an incident its quiet period resolves.
HIT_MARGIN = timedelta(seconds=5)
MAX_ENDPOINTS = 500
MAX_CLIENTS = 1000

Key = tuple[str, str]


@dataclass
class Counts:
    """Requests and failed ones, in all and per endpoint (the first `MAX_ENDPOINTS` seen)."""

    requests: int = 0
    failed: int = 0
    endpoints: dict[Key, list[int]] = field(default_factory=dict)

    def add(self, key: Key, failed: bool) -> None:
        self.requests += 1
        self.failed += failed
        counts = self.endpoints.get(key)
        if counts is None:
            if len(self.endpoints) >= MAX_ENDPOINTS:
                return
            counts = self.endpoints[key] = [0, 0]
        counts[0] += 1
        counts[1] += failed

    def copy(self, keys: set[Key] | None = None) -> Counts:
        """Return a copy that keeps the counts of these endpoints only (None: of all)."""
        endpoints = self.endpoints
        if keys is None:
            kept = {key: list(counts) for key, counts in endpoints.items()}
        else:
            kept = {key: list(endpoints[key]) for key in keys if key in endpoints}
        return Counts(self.requests, self.failed, kept)


@dataclass
class Tally:
    """Requests of one source not counted in its windows yet, in the order they came: what a
    window does with a request depends only on the window, never on the other requests."""

    requests: int = 0
    failed: int = 0
    succeeded: int = 0
    # In the order each endpoint and client first came: a window that fills up while counting
    # them keeps the same ones as counting request by request would.
    endpoints: dict[Key, list[int]] = field(default_factory=dict)
    clients: dict[str, None] = field(default_factory=dict)
    last: datetime | None = None

    def add(self, when: datetime, access: Access, key: Key) -> None:
        failed = access.failed
        self.requests += 1
        self.failed += failed
        self.succeeded += access.succeeded
        counts = self.endpoints.get(key)
        if counts is None:
            counts = self.endpoints[key] = [0, 0]
        counts[0] += 1
        counts[1] += failed
        if access.client:
            self.clients[access.client] = None
        self.last = when


@dataclass
class Window:
    """One incident's requests so far, and the state of its recovery."""

    source: str
    last_hit: datetime
    quiet: timedelta | None
    # False for an incident whose signature has a recovery line of its own (a pair).
    by_endpoint: bool = True
    counts: Counts = field(default_factory=Counts)
    clients: set[str] = field(default_factory=set)
    failing: set[Key] = field(default_factory=set)
    answered_after: int = 0
    failing_after: int = 0
    streak: int = 0
    # When the streak of 2xx answers began, and the counts then: a streak that proves the
    # recovery ends the window where it began.
    streak_from: datetime | None = None
    at_streak: Counts | None = None
    streak_answer: str = ""  # the answer that began the streak: "POST /x answered 200"
    # The first deploy live after the last hit, and the counts as they stood then: a deploy
    # that resolves the incident ends its window when it went live.
    live_at: datetime | None = None
    at_live: Counts | None = None
    # The counts at the last hit (and the failed requests logged with it), and when that was: an
    # incident resolved by its quiet period ends its window at its last failure, not after it.
    at_hit: Counts | None = None
    hit_to: datetime | None = None
    counted_to: datetime | None = None
    end: datetime | None = None
    written: Counts = field(default_factory=Counts)

    def count(self, when: datetime, access: Access, key: Key) -> None:
        self.counts.add(key, access.failed)
        self.counted_to = when
        if access.client and len(self.clients) < MAX_CLIENTS:
            self.clients.add(access.client)
        if access.failed and when - self.last_hit <= HIT_MARGIN:
            self.mark_hit(when)

    def mark_hit(self, when: datetime) -> None:
        """Keep the counts as they stand at a hit (or a failed request logged with it)."""
        self.at_hit = self.counts.copy()
        self.hit_to = max(when, self.hit_to) if self.hit_to is not None else when

    def absorb(self, tally: Tally) -> None:
        """Count a tally's requests as `count` would: none of them is at a failing endpoint,
        and none is a failure logged with a hit."""
        counts = self.counts
        counts.requests += tally.requests
        counts.failed += tally.failed
        endpoints = counts.endpoints
        for key, (requests, failed) in tally.endpoints.items():
            mine = endpoints.get(key)
            if mine is None:
                if len(endpoints) >= MAX_ENDPOINTS:
                    continue
                mine = endpoints[key] = [0, 0]
            mine[0] += requests
            mine[1] += failed
        clients = self.clients
        for client in tally.clients:
            if len(clients) >= MAX_CLIENTS:
                break
            clients.add(client)
        self.counted_to = tally.last
        self.answered_after += tally.succeeded

    def copy(self) -> Window:
        """Return a copy that shares nothing this window may still change."""
        return replace(
            self,
            counts=self.counts.copy(),
            clients=set(self.clients),
            failing=set(self.failing),
            at_streak=self.at_streak.copy() if self.at_streak is not None else None,
            at_live=self.at_live.copy() if self.at_live is not None else None,
            at_hit=self.at_hit.copy() if self.at_hit is not None else None,
        )


@dataclass
class Group:
    """The open windows of one source that count a request of this moment, and the requests
    they have not counted yet. A request at a failing endpoint of one of them, or at a time
    some window's quiet period decides differently, is counted window by window instead."""

    windows: list[tuple[int, Window]]
    failing: frozenset[Key]
    # The earliest end of their quiet periods, and the latest of the windows left out.
    until: datetime | None
    since: datetime | None
    # Until when a failed request is one logged with a window's hit (`HIT_MARGIN`).
    with_hits: datetime | None
    tally: Tally = field(default_factory=Tally)

    def takes(self, when: datetime, access: Access, key: Key) -> bool:
        return (
            key not in self.failing
            and (self.until is None or when <= self.until)
            and (self.since is None or when > self.since)
            and not (access.failed and self.with_hits is not None and when <= self.with_hits)
        )


def group_windows(windows: dict[int, Window], when: datetime) -> Group:
    """Return the group of the windows that count a request at `when` (not past their quiet)."""
    members: list[tuple[int, Window]] = []
    failing: set[Key] = set()
    until: datetime | None = None
    since: datetime | None = None
    with_hits: datetime | None = None
    for incident_id, window in windows.items():
        end = window.last_hit + window.quiet if window.quiet is not None else None
        if end is not None and when > end:
            since = end if since is None else max(since, end)
            continue
        members.append((incident_id, window))
        failing.update(window.failing)
        if end is not None:
            until = end if until is None else min(until, end)
        margin = window.last_hit + HIT_MARGIN
        with_hits = margin if with_hits is None else max(with_hits, margin)
    return Group(members, frozenset(failing), until, since, with_hits)
