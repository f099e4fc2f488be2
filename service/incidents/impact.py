"""An incident's impact in requests, counted in log order: from its first hit to its recovery,
what the source answered (health checks and platform probes left out), per endpoint, from how
many clients, and what came after its last hit. A failing endpoint answering 2xx again is a
recovery the log shows. Counts gather in memory and are written once per batch."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from service.db import upsert_rows
from service.ingest.access import Access
from service.models import Incident, IncidentImpact, IncidentRequest
from service.settings import Settings

# A failing endpoint answering 2xx is a recovery after a deploy went live since the last hit, or
# when every request of the incident's window had failed (the app was down). Otherwise it must
# answer 2xx this many times in a row (no failure of a failing endpoint, no hit between): an
# intermittent failure (one code path of an endpoint) answers 2xx now and then all along.
RECOVERY_STREAK = 10
# A failed request logged this soon after a hit is the hit's own (Flask logs the traceback, then
# the 500): the counts as they stood then end the window of an incident its quiet period resolves.
HIT_MARGIN = timedelta(seconds=5)
MAX_ENDPOINTS = 500
MAX_CLIENTS = 1000

_Key = tuple[str, str]


@dataclass(frozen=True)
class Probes:
    """Requests that are no one's traffic: health checks by path, platform probes by agent."""

    paths: tuple[str, ...] = ("/health", "/healthz")
    agents: tuple[str, ...] = ("Render/1.0", "kube-probe")

    def match(self, access: Access) -> bool:
        """Return True if the request is a health check or a platform probe."""
        path = access.path
        for probe in self.paths:
            if path.endswith(probe) and (len(path) == len(probe) or probe.startswith("/")):
                return True
        agent = access.agent
        return bool(agent) and any(probe in agent for probe in self.agents)


def probes_from(settings: Settings) -> Probes:
    """Return the probes the settings name."""
    return Probes(paths=settings.probe_path_list, agents=settings.probe_agent_list)


@dataclass
class _Counts:
    requests: int = 0
    failed: int = 0
    endpoints: dict[_Key, list[int]] = field(default_factory=dict)

    def add(self, key: _Key, failed: bool) -> None:
        self.requests += 1
        self.failed += failed
        counts = self.endpoints.get(key)
        if counts is None:
            if len(self.endpoints) >= MAX_ENDPOINTS:
                return
            counts = self.endpoints[key] = [0, 0]
        counts[0] += 1
        counts[1] += failed

    def copy(self, keys: set[_Key] | None = None) -> _Counts:
        """Return a copy that keeps the counts of these endpoints only (None: of all)."""
        endpoints = self.endpoints
        if keys is None:
            kept = {key: list(counts) for key, counts in endpoints.items()}
        else:
            kept = {key: list(endpoints[key]) for key in keys if key in endpoints}
        return _Counts(self.requests, self.failed, kept)


@dataclass
class _Tally:
    """Requests of one source not counted in its windows yet, in the order they came: what a
    window does with a request depends only on the window, never on the other requests."""

    requests: int = 0
    failed: int = 0
    succeeded: int = 0
    # In the order each endpoint and client first came: a window that fills up while counting
    # them keeps the same ones as counting request by request would.
    endpoints: dict[_Key, list[int]] = field(default_factory=dict)
    clients: dict[str, None] = field(default_factory=dict)
    last: datetime | None = None

    def add(self, when: datetime, access: Access, key: _Key) -> None:
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
    counts: _Counts = field(default_factory=_Counts)
    clients: set[str] = field(default_factory=set)
    failing: set[_Key] = field(default_factory=set)
    answered_after: int = 0
    failing_after: int = 0
    streak: int = 0
    # When the streak of 2xx answers began, and the counts then: a streak that proves the
    # recovery ends the window where it began.
    streak_from: datetime | None = None
    at_streak: _Counts | None = None
    streak_answer: str = ""  # the answer that began the streak: "POST /x answered 200"
    # The first deploy live after the last hit, and the counts as they stood then: a deploy
    # that resolves the incident ends its window when it went live.
    live_at: datetime | None = None
    at_live: _Counts | None = None
    # The counts at the last hit (and the failed requests logged with it), and when that was: an
    # incident resolved by its quiet period ends its window at its last failure, not after it.
    at_hit: _Counts | None = None
    hit_to: datetime | None = None
    counted_to: datetime | None = None
    end: datetime | None = None
    written: _Counts = field(default_factory=_Counts)

    def count(self, when: datetime, access: Access, key: _Key) -> None:
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

    def absorb(self, tally: _Tally) -> None:
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
class _Group:
    """The open windows of one source that count a request of this moment, and the requests
    they have not counted yet. A request at a failing endpoint of one of them, or at a time
    some window's quiet period decides differently, is counted window by window instead."""

    windows: list[tuple[int, Window]]
    failing: frozenset[_Key]
    # The earliest end of their quiet periods, and the latest of the windows left out.
    until: datetime | None
    since: datetime | None
    # Until when a failed request is one logged with a window's hit (`HIT_MARGIN`).
    with_hits: datetime | None
    tally: _Tally = field(default_factory=_Tally)

    def takes(self, when: datetime, access: Access, key: _Key) -> bool:
        return (
            key not in self.failing
            and (self.until is None or when <= self.until)
            and (self.since is None or when > self.since)
            and not (access.failed and self.with_hits is not None and when <= self.with_hits)
        )


# Deploys per source whose first answer is remembered (the sweep asks about recent ones).
MAX_DEPLOYS = 20


@dataclass
class ImpactsCheckpoint:
    """What `Impacts.restore` returns to."""

    open: dict[str, list[int]]
    answered: dict[str, datetime]
    first_answers: dict[str, dict[datetime, datetime | None]]


@dataclass
class Impacts:
    """The windows of the incidents intake has seen hits of, and each source's last answer.

    A request most windows count alike is not counted window by window: each source's open
    windows gather the requests they all count (`_Group`) and count them at once when one of
    them is read or changed, and each batch's write goes only to the windows that changed.
    """

    probes: Probes = field(default_factory=Probes)
    _windows: dict[int, Window] = field(default_factory=dict)
    _open: dict[str, dict[int, Window]] = field(default_factory=dict)
    answered: dict[str, datetime] = field(default_factory=dict)
    # Per source and deploy live time: the first request answered after it (None: none yet).
    first_answers: dict[str, dict[datetime, datetime | None]] = field(default_factory=dict)
    _groups: dict[str, _Group] = field(default_factory=dict)
    _dirty: set[int] = field(default_factory=set)
    # While a checkpoint stands: each window as it was before this unit of work changed it
    # (None: it is new), so a failed unit of work can be undone (`restore`).
    _undo: dict[int, Window | None] | None = None

    @property
    def windows(self) -> dict[int, Window]:
        """Return every window, each with all the requests it counts so far."""
        self._count_gathered()
        return self._windows

    @property
    def open(self) -> dict[str, dict[int, Window]]:
        """Return the open windows by source, each with all the requests it counts so far."""
        self._count_gathered()
        return self._open

    def checkpoint(self) -> ImpactsCheckpoint:
        """Remember the state to return to if the unit of work that starts now fails."""
        self._count_gathered()
        self._groups.clear()
        self._undo = {}
        return ImpactsCheckpoint(
            {source: list(windows) for source, windows in self._open.items()},
            dict(self.answered),
            {source: dict(answers) for source, answers in self.first_answers.items()},
        )

    def restore(self, checkpoint: ImpactsCheckpoint) -> None:
        """Return to the state of `checkpoint`, undoing every change since."""
        for incident_id, before in (self._undo or {}).items():
            if before is None:
                self._windows.pop(incident_id, None)
            else:
                self._windows[incident_id] = before
        self._open = {
            source: {i: self._windows[i] for i in ids if i in self._windows}
            for source, ids in checkpoint.open.items()
        }
        self.answered = checkpoint.answered
        self.first_answers = checkpoint.first_answers
        self._groups.clear()
        self._dirty.clear()
        self._undo = None

    def first_answer(
        self, source: str, live: datetime, incident_id: int | None = None
    ) -> tuple[bool, datetime | None]:
        """Return whether intake saw the deploy go live, and the first answer after it that can
        prove the incident fixed. An incident whose failures were requests to known endpoints is
        proven fixed only by one of them answering again (a recovery of its own), never by other
        endpoints answering: so (True, None) for it."""
        answers = self.first_answers.get(source, {})
        window = self._windows.get(incident_id) if incident_id is not None else None
        if window is not None and window.by_endpoint and window.failing and live in answers:
            return True, None
        return live in answers, answers.get(live)

    def hit(
        self,
        source: str,
        when: datetime,
        incident_id: int,
        quiet: timedelta | None,
        *,
        by_endpoint: bool = True,
        first: bool = False,
    ) -> bool:
        """Start or extend an incident's window at a hit; return True if it starts here.
        `first`: the incident's first hit; a window under its id is a discarded pending
        incident's whose id the database gave out again (SQLite reuses ids), and is dropped."""
        window = self._windows.get(incident_id)
        self._settle(source)
        if window is not None:
            self._settle(window.source)
        self._keep(incident_id)
        self._dirty.add(incident_id)
        if window is not None and first:
            self._open.get(window.source, {}).pop(incident_id, None)
            self._groups.pop(window.source, None)
            del self._windows[incident_id]
            window = None
        if window is not None:
            # A hit after its window closed (a recovery the lifecycle did not take) reopens it.
            window.end = None
            window.last_hit = max(window.last_hit, when)
            window.answered_after = window.failing_after = window.streak = 0
            window.live_at = window.at_live = window.streak_from = window.at_streak = None
            window.mark_hit(when)
            self._open.setdefault(source, {})[incident_id] = window
            self._groups.pop(source, None)
            self._groups.pop(window.source, None)
            return False
        window = Window(
            source=source, last_hit=when, quiet=quiet, counted_to=when, by_endpoint=by_endpoint
        )
        window.mark_hit(when)
        self._windows[incident_id] = window
        self._open.setdefault(source, {})[incident_id] = window
        self._groups.pop(source, None)
        return True

    def credit(self, incident_id: int, access: Access) -> None:
        """Mark an endpoint failing for the incident (its failures were logged next to hits)."""
        window = self._windows.get(incident_id)
        if window is not None and window.end is None:
            self._settle(window.source)
            self._keep(incident_id)
            window.failing.add((access.method, access.path[:300]))
            self._dirty.add(incident_id)
            self._groups.pop(window.source, None)

    def count_before(self, incident_id: int, when: datetime, access: Access) -> None:
        """Count in a new window a failed request logged just before its first hit."""
        window = self._windows.get(incident_id)
        if window is not None and window.end is None and not self.probes.match(access):
            self._settle(window.source)
            self._keep(incident_id)
            window.count(when, access, (access.method, access.path[:300]))
            self._dirty.add(incident_id)

    def request(
        self, source: str, when: datetime, access: Access
    ) -> list[tuple[int, str, datetime]]:
        """Count a request in the open windows of its source; return the incidents it shows
        recovered, each with the words that tell the recovery and when it was."""
        if self.probes.match(access):
            return []
        if not access.failed:
            self.answered[source] = when
            answers = self.first_answers.get(source)
            if answers and None in answers.values():
                for live, first in answers.items():
                    if first is None and when >= live:
                        answers[live] = when
        windows = self._open.get(source)
        if not windows:
            return []
        key = (access.method, access.path[:300])
        group = self._groups.get(source)
        if group is None:
            group = self._groups[source] = _group(windows, when)
        if group.takes(when, access, key):
            group.tally.add(when, access, key)
            return []
        self._settle(source)
        del self._groups[source]
        return self._count_one_by_one(windows, when, access, key)

    def _count_one_by_one(
        self, windows: dict[int, Window], when: datetime, access: Access, key: _Key
    ) -> list[tuple[int, str, datetime]]:
        answer = f"{access.method} {access.path} answered {access.status}"
        recovered = []
        for incident_id, window in list(windows.items()):
            if window.quiet is not None and when > window.last_hit + window.quiet:
                # Past its quiet period: resolved by it or by a deploy, never by what follows.
                continue
            self._keep(incident_id)
            self._dirty.add(incident_id)
            if access.succeeded and window.by_endpoint and key in window.failing:
                reason = _recovery(window)
                if reason is not None:
                    # The answer that shows the recovery ends the window; it is not part of it.
                    at, text = when, f"{answer} again{reason}"
                    if window.streak and window.at_streak is not None:
                        window.counts, window.counted_to = window.at_streak, window.streak_from
                        at = window.streak_from or when
                        text = f"{window.streak_answer} again{reason}"
                    recovered.append((incident_id, text, at))
                    self.close(incident_id, at)
                    continue
            if access.succeeded and key in window.failing and not window.streak:
                window.streak_from, window.at_streak = when, window.counts.copy(window.failing)
                window.streak_answer = answer
            window.count(when, access, key)
            if access.succeeded:
                window.answered_after += 1
                if key in window.failing:
                    window.failing_after += 1
                    window.streak += 1
            elif access.failed and key in window.failing:
                window.streak = 0
        return recovered

    def deploy_live(self, source: str, when: datetime) -> None:
        """Note a deploy going live: the windows it may end keep their counts of that moment."""
        answers = self.first_answers.setdefault(source, {})
        answers.setdefault(when, None)
        while len(answers) > MAX_DEPLOYS:
            del answers[min(answers)]
        self._settle(source)
        for incident_id, window in self._open.get(source, {}).items():
            # Strictly after the last hit, as the sweep picks the deploy that may end it.
            if window.live_at is None and window.last_hit < when:
                self._keep(incident_id)
                window.live_at = when
                window.at_live = window.counts.copy(window.failing)

    def close(self, incident_id: int, at: datetime | None, resolution: str = "") -> None:
        """End an incident's window at its resolution (a deploy's: when it went live; a quiet
        period's: at its last failure)."""
        window = self._windows.get(incident_id)
        if window is None or window.end is not None:
            return
        self._settle(window.source)
        self._keep(incident_id)
        self._dirty.add(incident_id)
        if at is not None and window.at_live is not None and at == window.live_at:
            window.counts = window.at_live
            window.counted_to = at
        elif resolution == "quiet" and window.at_hit is not None:
            window.counts = window.at_hit
            window.counted_to = window.hit_to
        window.end = at or window.counted_to or window.last_hit
        self._open.get(window.source, {}).pop(incident_id, None)
        self._groups.pop(window.source, None)

    def write(self, session: Session) -> None:
        """Write what the windows counted since the last write; forget the closed ones."""
        self._count_gathered()
        if not self._windows:
            return
        ids = sorted(self._windows)
        statement = select(
            Incident.id, Incident.status, Incident.resolved_at, Incident.resolution
        ).where(col(Incident.id).in_(ids))
        known = {row[0]: (row[1], row[2], row[3]) for row in session.exec(statement).all()}
        changed: list[tuple[int, Window]] = []
        for incident_id in ids:
            window = self._windows[incident_id]
            if incident_id not in known:
                # A pending incident discarded: nothing of it is kept.
                self.close(incident_id, None)
                self._keep(incident_id)
                del self._windows[incident_id]
                self._dirty.discard(incident_id)
                continue
            status, resolved_at, resolution = known[incident_id]
            if status == "pending":
                continue  # still changed when it opens: written then
            if status == "resolved":
                # Resolved elsewhere (by hand): its window ends at its log time.
                self.close(incident_id, resolved_at, resolution or "")
            if incident_id in self._dirty:
                self._keep(incident_id)
                changed.append((incident_id, window))
                self._dirty.discard(incident_id)
            if window.end is not None:
                del self._windows[incident_id]
        _write_windows(session, changed)

    def _count_gathered(self) -> None:
        for source in list(self._groups):
            self._settle(source)

    def _settle(self, source: str) -> None:
        """Count the requests a source's windows gathered, so that they can be read or changed."""
        group = self._groups.get(source)
        if group is None or not group.tally.requests:
            return
        tally, group.tally = group.tally, _Tally()
        for incident_id, window in group.windows:
            self._keep(incident_id)
            window.absorb(tally)
            self._dirty.add(incident_id)

    def _keep(self, incident_id: int) -> None:
        if self._undo is not None and incident_id not in self._undo:
            window = self._windows.get(incident_id)
            self._undo[incident_id] = window.copy() if window is not None else None


def _group(windows: dict[int, Window], when: datetime) -> _Group:
    """Return the group of the windows that count a request at `when` (not past their quiet)."""
    members: list[tuple[int, Window]] = []
    failing: set[_Key] = set()
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
    return _Group(members, frozenset(failing), until, since, with_hits)


def _recovery(window: Window) -> str | None:
    """Return why a failing endpoint's 2xx answer is a recovery, or None if it is not one."""
    if window.live_at is not None:
        return ""  # after the deploy that went live since the last hit
    counts = window.counts
    if counts.requests and counts.requests == counts.failed:
        noun = "request" if counts.requests == 1 else "requests"
        return f", the first answer after {counts.requests} failed {noun}"
    if window.streak + 1 >= RECOVERY_STREAK:
        return (
            f" at {window.streak_from:%H:%M:%S}, and the failing endpoints answered 2xx"
            f" {window.streak + 1} times in a row from then on"
        )
    return None


def _write_windows(session: Session, windows: list[tuple[int, Window]]) -> None:
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
