"""An incident's impact in requests, counted in log order: from its first hit to its recovery,
what the source answered (health checks and platform probes left out), per endpoint, from how
many clients, and what came after its last hit. A failing endpoint answering 2xx again is a
recovery the log shows. Counts gather in memory and are written once per batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from service.db import add_counts
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

    def copy(self, keys: set[_Key]) -> _Counts:
        """Return a copy that keeps the counts of these endpoints only."""
        endpoints = {key: list(self.endpoints[key]) for key in keys if key in self.endpoints}
        return _Counts(self.requests, self.failed, endpoints)


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
        self.at_hit = self.counts.copy(set(self.counts.endpoints))
        self.hit_to = max(when, self.hit_to) if self.hit_to is not None else when


# Deploys per source whose first answer is remembered (the sweep asks about recent ones).
MAX_DEPLOYS = 20


@dataclass
class Impacts:
    """The windows of the incidents intake has seen hits of, and each source's last answer."""

    probes: Probes = field(default_factory=Probes)
    windows: dict[int, Window] = field(default_factory=dict)
    open: dict[str, dict[int, Window]] = field(default_factory=dict)
    answered: dict[str, datetime] = field(default_factory=dict)
    # Per source and deploy live time: the first request answered after it (None: none yet).
    first_answers: dict[str, dict[datetime, datetime | None]] = field(default_factory=dict)

    def first_answer(
        self, source: str, live: datetime, incident_id: int | None = None
    ) -> tuple[bool, datetime | None]:
        """Return whether intake saw the deploy go live, and the first answer after it that can
        prove the incident fixed. An incident whose failures were requests to known endpoints is
        proven fixed only by one of them answering again (a recovery of its own), never by other
        endpoints answering: so (True, None) for it."""
        answers = self.first_answers.get(source, {})
        window = self.windows.get(incident_id) if incident_id is not None else None
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
        window = self.windows.get(incident_id)
        if window is not None and first:
            self.open.get(window.source, {}).pop(incident_id, None)
            del self.windows[incident_id]
            window = None
        if window is not None:
            # A hit after its window closed (a recovery the lifecycle did not take) reopens it.
            window.end = None
            window.last_hit = max(window.last_hit, when)
            window.answered_after = window.failing_after = window.streak = 0
            window.live_at = window.at_live = window.streak_from = window.at_streak = None
            window.mark_hit(when)
            self.open.setdefault(source, {})[incident_id] = window
            return False
        window = Window(
            source=source, last_hit=when, quiet=quiet, counted_to=when, by_endpoint=by_endpoint
        )
        window.mark_hit(when)
        self.windows[incident_id] = window
        self.open.setdefault(source, {})[incident_id] = window
        return True

    def credit(self, incident_id: int, access: Access) -> None:
        """Mark an endpoint failing for the incident (its failures were logged next to hits)."""
        window = self.windows.get(incident_id)
        if window is not None and window.end is None:
            window.failing.add((access.method, access.path[:300]))

    def count_before(self, incident_id: int, when: datetime, access: Access) -> None:
        """Count in a new window a failed request logged just before its first hit."""
        window = self.windows.get(incident_id)
        if window is not None and window.end is None and not self.probes.match(access):
            window.count(when, access, (access.method, access.path[:300]))

    def request(
        self, source: str, when: datetime, access: Access
    ) -> list[tuple[int, str, datetime]]:
        """Count a request in the open windows of its source; return the incidents it shows
        recovered, each with the words that tell the recovery and when it was."""
        if self.probes.match(access):
            return []
        if not access.failed:
            self.answered[source] = when
            for live, first in self.first_answers.get(source, {}).items():
                if first is None and when >= live:
                    self.first_answers[source][live] = when
        windows = self.open.get(source)
        if not windows:
            return []
        key = (access.method, access.path[:300])
        answer = f"{access.method} {access.path} answered {access.status}"
        recovered = []
        for incident_id, window in list(windows.items()):
            if window.quiet is not None and when > window.last_hit + window.quiet:
                # Past its quiet period: resolved by it or by a deploy, never by what follows.
                continue
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
        for window in self.open.get(source, {}).values():
            # Strictly after the last hit, as the sweep picks the deploy that may end it.
            if window.live_at is None and window.last_hit < when:
                window.live_at = when
                window.at_live = window.counts.copy(window.failing)

    def close(self, incident_id: int, at: datetime | None, resolution: str = "") -> None:
        """End an incident's window at its resolution (a deploy's: when it went live; a quiet
        period's: at its last failure)."""
        window = self.windows.get(incident_id)
        if window is None or window.end is not None:
            return
        if at is not None and window.at_live is not None and at == window.live_at:
            window.counts = window.at_live
            window.counted_to = at
        elif resolution == "quiet" and window.at_hit is not None:
            window.counts = window.at_hit
            window.counted_to = window.hit_to
        window.end = at or window.counted_to or window.last_hit
        self.open.get(window.source, {}).pop(incident_id, None)

    def write(self, session: Session) -> None:
        """Write what the windows counted since the last write; forget the closed ones."""
        if not self.windows:
            return
        ids = sorted(self.windows)
        statement = select(
            Incident.id, Incident.status, Incident.resolved_at, Incident.resolution
        ).where(col(Incident.id).in_(ids))
        known = {row[0]: (row[1], row[2], row[3]) for row in session.exec(statement).all()}
        for incident_id in ids:
            window = self.windows[incident_id]
            if incident_id not in known:
                # A pending incident discarded: nothing of it is kept.
                self.close(incident_id, None)
                del self.windows[incident_id]
                continue
            status, resolved_at, resolution = known[incident_id]
            if status == "pending":
                continue
            if status == "resolved":
                # Resolved elsewhere (by hand): its window ends at its log time.
                self.close(incident_id, resolved_at, resolution or "")
            _write_window(session, incident_id, window)
            if window.end is not None:
                del self.windows[incident_id]


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


def _write_window(session: Session, incident_id: int, window: Window) -> None:
    counts, written = window.counts, window.written
    values = {
        "incident_id": incident_id,
        "requests": counts.requests - written.requests,
        "failed": counts.failed - written.failed,
        "clients": len(window.clients),
        "answered_after": window.answered_after,
        "failing_after": window.failing_after,
        "counted_to": window.counted_to,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = IncidentImpact.__table__  # type: ignore[attr-defined]
    statement = insert(table).values(**values)
    added = {name: table.c[name] + statement.excluded[name] for name in ("requests", "failed")}
    kept = ("clients", "answered_after", "failing_after", "counted_to")
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["incident_id"],
            set_={**added, **{name: statement.excluded[name] for name in kept}},
        )
    )
    for key in sorted(window.failing):
        now = counts.endpoints.get(key, [0, 0])
        before = written.endpoints.get(key, [0, 0])
        if now != before:
            row = {"incident_id": incident_id, "method": key[0], "path": key[1]}
            delta = {"requests": now[0] - before[0], "failed": now[1] - before[1]}
            add_counts(session, IncidentRequest, row, delta)
    endpoints = {
        key: list(counts.endpoints[key]) for key in window.failing if key in counts.endpoints
    }
    window.written = _Counts(counts.requests, counts.failed, endpoints)
