"""An incident's impact in requests, counted in log order: from its first hit to its recovery,
what the source answered (health checks and platform probes left out), per endpoint, from how
many clients, and what came after its last hit. A failing endpoint answering 2xx again is a
recovery the log shows. Counts gather in memory and are written once per batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from service.incidents.impact_rows import write_windows
from service.incidents.recovery import Probes, probes_from, recovery
from service.incidents.windows import Group, Key, Tally, Window, group_windows
from service.ingest.access import Access
from service.models import Incident

__all__ = ["MAX_DEPLOYS", "Impacts", "ImpactsCheckpoint", "Probes", "probes_from"]

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
    windows gather the requests they all count (`Group`) and count them at once when one of
    them is read or changed, and each batch's write goes only to the windows that changed.
    """

    probes: Probes = field(default_factory=Probes)
    _windows: dict[int, Window] = field(default_factory=dict)
    _open: dict[str, dict[int, Window]] = field(default_factory=dict)
    answered: dict[str, datetime] = field(default_factory=dict)
    # Per source and deploy live time: the first request answered after it (None: none yet).
    first_answers: dict[str, dict[datetime, datetime | None]] = field(default_factory=dict)
    _groups: dict[str, Group] = field(default_factory=dict)
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
            group = self._groups[source] = group_windows(windows, when)
        if group.takes(when, access, key):
            group.tally.add(when, access, key)
            return []
        self._settle(source)
        del self._groups[source]
        return self._count_one_by_one(windows, when, access, key)

    def _count_one_by_one(
        self, windows: dict[int, Window], when: datetime, access: Access, key: Key
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
                reason = recovery(window)
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

    def rekey(self, key: int, incident_id: int) -> None:
        """Keep the window a wait kept under its negative `key` under the id of the incident the
        wait became, in its place among its source's windows."""
        window = self._windows.get(key)
        if window is None:
            return
        self._settle(window.source)
        self._keep(key)
        self._keep(incident_id)
        self._windows[incident_id] = self._windows.pop(key)
        opened = self._open.get(window.source)
        if opened is not None and key in opened:
            self._open[window.source] = {
                incident_id if i == key else i: w for i, w in opened.items()
            }
        if key in self._dirty:
            self._dirty.discard(key)
            self._dirty.add(incident_id)
        self._groups.pop(window.source, None)

    def forget(self, key: int) -> None:
        """Drop the window of a wait that ended (its awaited line came in time)."""
        window = self._windows.get(key)
        if window is None:
            return
        self._settle(window.source)
        self._keep(key)
        del self._windows[key]
        self._open.get(window.source, {}).pop(key, None)
        self._dirty.discard(key)
        self._groups.pop(window.source, None)

    def keep_waits(self, source: str, keys: set[int]) -> None:
        """Drop the windows of the source's waits but those of `keys` (the others ended in
        another process)."""
        gone = [i for i, w in self._windows.items() if i < 0 and w.source == source]
        for key in gone:
            if key not in keys:
                self.forget(key)

    def write(self, session: Session) -> None:
        """Write what the windows counted since the last write; forget the closed ones."""
        self._count_gathered()
        if not self._windows:
            return
        # A wait's window (a negative key) has no row until the wait becomes an incident.
        ids = sorted(i for i in self._windows if i >= 0)
        if not ids:
            return
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
        write_windows(session, changed)

    def _count_gathered(self) -> None:
        for source in list(self._groups):
            self._settle(source)

    def _settle(self, source: str) -> None:
        """Count the requests a source's windows gathered, so that they can be read or changed."""
        group = self._groups.get(source)
        if group is None or not group.tally.requests:
            return
        tally, group.tally = group.tally, Tally()
        for incident_id, window in group.windows:
            self._keep(incident_id)
            window.absorb(tally)
            self._dirty.add(incident_id)

    def _keep(self, incident_id: int) -> None:
        if self._undo is not None and incident_id not in self._undo:
            window = self._windows.get(incident_id)
            self._undo[incident_id] = window.copy() if window is not None else None
