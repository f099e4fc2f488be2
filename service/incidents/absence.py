"""Absence rules' waits: the line an absence rule waits after (`Waiting for application
startup.`) is held as a wait, not as an incident row. Only when its deadline passes, its awaited
line comes late, a direct hit joins it, or another incident is about to be numbered after it,
does it become the pending incident it would have been from its start line on; a healthy
start-up, completed in time, costs no row at all.

A source's waits are kept in its row (`Source.waits`), written in the transaction of the lines
that changed them: a crash loses none, and processors sharing a database (each holds a source's
row while it stores that source's lines) see the same waits.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from service.incidents.deploys import blame, deploy_before
from service.incidents.impact import Impacts
from service.incidents.store import (
    add_incident,
    count_minute,
    discard,
    extend,
    find_active,
    find_latest_resolved,
    in_words,
    promote,
    resolve,
    store_event,
)
from service.models import Deploy, Incident, IncidentEvent
from service.signatures.model import Hit, Signature
from service.sources import get_source
from service.transactions import remembered, write_before_commit

log = logging.getLogger("drainwatch.incidents")


@dataclass
class Wait:
    """An absence rule's start line waiting for its awaited line: what its incident needs."""

    signature: str
    title: str
    severity: str
    fingerprint: str
    source: str
    opened_at: datetime
    fields: dict[str, str]
    confidence: str
    # The deploy recorded last before the start line (the one its incident may blame).
    deploy_id: int | None
    # The start line, the incident's first event: log time, arrival, instance, text.
    time: datetime | None
    received_at: datetime | None
    instance: str
    text: str
    # Where it stands among the waits of a transaction (not stored): incidents are numbered so.
    rank: tuple[int, float, str] = field(default=(0, 0.0, ""), compare=False)

    @property
    def started(self) -> datetime | None:
        """Return when it started: the start line's log time, else its arrival."""
        return self.time if self.time is not None else self.received_at

    @property
    def key(self) -> int:
        """Return the number its impact window is kept under until it has an incident's id:
        negative (no incident has such an id), and the same for the same wait in any process."""
        name = f"{self.fingerprint}|{self.started}".encode()
        return -1 - int.from_bytes(hashlib.blake2b(name, digest_size=7).digest(), "big")

    def to_json(self) -> dict[str, Any]:
        """Return the wait as its source's row keeps it."""
        return {
            "signature": self.signature,
            "title": self.title,
            "severity": self.severity,
            "fingerprint": self.fingerprint,
            "opened_at": self.opened_at.isoformat(),
            "fields": dict(self.fields),
            "confidence": self.confidence,
            "deploy_id": self.deploy_id,
            "time": _iso(self.time),
            "received_at": _iso(self.received_at),
            "instance": self.instance,
            "text": self.text,
        }

    @classmethod
    def from_json(cls, source: str, data: Mapping[str, Any]) -> Wait:
        """Return the wait a source's row keeps as `data`."""
        opened_at = _time(data["opened_at"])
        assert opened_at is not None
        return cls(
            signature=data["signature"],
            title=data["title"],
            severity=data["severity"],
            fingerprint=data["fingerprint"],
            source=source,
            opened_at=opened_at,
            fields=dict(data["fields"]),
            confidence=data["confidence"],
            deploy_id=data["deploy_id"],
            time=_time(data["time"]),
            received_at=_time(data["received_at"]),
            instance=data["instance"],
            text=data["text"],
        )


@dataclass
class _Book:
    """The waits of the sources a transaction looked at, by source and fingerprint."""

    waits: dict[str, dict[str, Wait]] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    impacts: Impacts | None = None
    created: int = 0


def _book(session: OrmSession) -> _Book:
    return remembered(session, "absence waits", _Book)


def bind_windows(session: Session, impacts: Impacts) -> None:
    """Have the waits of this transaction keep their impact windows in `impacts`."""
    _book(session).impacts = impacts


def load_waits(session: Session, sources: Iterable[str]) -> None:
    """Read the waits of these sources from their rows, once a transaction; forget the windows
    of waits that are gone (another process ended them)."""
    book = _book(session)
    for name in sorted(set(sources) - set(book.waits)):
        waits = _waits_of(session, name)
        if book.impacts is not None:
            book.impacts.keep_waits(name, {wait.key for wait in waits.values()})


def _waits_of(session: Session, source: str) -> dict[str, Wait]:
    book = _book(session)
    if source not in book.waits:
        row = get_source(session, source)
        stored = _decoded(source, row.waits) if row is not None else []
        for wait in stored:
            started = wait.started.timestamp() if wait.started is not None else 0.0
            wait.rank = (0, started, wait.fingerprint)
        book.waits[source] = {wait.fingerprint: wait for wait in stored}
        if row is not None and len(stored) != len(row.waits):
            _changed(session, source)  # the row is written without what could not be read
    return book.waits[source]


def _decoded(source: str, stored: list[dict[str, Any]]) -> list[Wait]:
    """Return the waits a source's row keeps; one it cannot read is dropped, said, and never
    holds the source's lines up."""
    waits = []
    for data in stored:
        try:
            waits.append(Wait.from_json(source, data))
        except (KeyError, TypeError, ValueError) as error:
            log.warning("absence: %s: a wait that cannot be read is dropped (%r)", source, error)
    return waits


def waiting(session: Session, source: str, fingerprint_: str) -> Wait | None:
    """Return the wait of this fingerprint, if one waits."""
    return _waits_of(session, source).get(fingerprint_)


def start_wait(session: Session, hit: Hit, fingerprint_: str, *, now: datetime) -> Wait:
    """Start waiting after an absence rule's start line."""
    event, book = hit.event, _book(session)
    deploy = deploy_before(session, event.source, event.when)
    book.created += 1
    wait = Wait(
        signature=hit.signature.id,
        title=hit.signature.title,
        severity=hit.signature.severity,
        fingerprint=fingerprint_,
        source=event.source,
        opened_at=now,
        fields=dict(hit.fields),
        confidence=hit.confidence,
        deploy_id=deploy.id if deploy is not None else None,
        time=event.time,
        received_at=event.first.received_at,
        instance=event.instance,
        text=event.text,
        rank=(1, float(book.created), ""),
    )
    _waits_of(session, event.source)[fingerprint_] = wait
    _changed(session, event.source)
    return wait


def end_wait(session: Session, wait: Wait) -> None:
    """Stop waiting: the awaited line came in time (or the rule is gone)."""
    book = _book(session)
    del book.waits[wait.source][wait.fingerprint]
    _changed(session, wait.source)
    if book.impacts is not None:
        book.impacts.forget(wait.key)


def absence_hit(
    session: Session, hit: Hit, fingerprint_: str, *, now: datetime
) -> Incident | Wait | None:
    """Start waiting on an absence rule's start line, or stop waiting on its awaited line;
    return the wait or the incident it touched."""
    source = hit.event.source
    wait = waiting(session, source, fingerprint_)
    if hit.role == "start":
        if wait is not None:
            return wait
        active = find_active(session, fingerprint_, source=source)
        return active if active is not None else start_wait(session, hit, fingerprint_, now=now)
    when = hit.event.when
    window = timedelta(seconds=hit.signature.window_seconds)
    if wait is not None:
        started = wait.started
        if when is None or started is None or when <= started + window:
            end_wait(session, wait)
            return None
        number_waits(session)  # late: it opens, and the awaited line resolves it
    active = find_active(session, fingerprint_, source=source)
    if active is None:
        return None
    if active.status == "pending":
        first = active.first_seen
        if when is None or first is None or when <= first + window:
            discard(session, active)
            return None
        # Awaited, but only after the deadline (read in one batch, the sweep came too late to
        # say so): it was missing for that long, so it opens and the awaited line resolves it.
        count_minute(session, active, first)
        promote(session, active, text=f"nothing followed within {in_words(window)}")
    store_event(session, active, hit)
    extend(active, when)
    resolve(session, active, at=when or now, resolution="recovered", text=hit.event.first.message)
    return active


def number_waits(session: Session) -> list[Incident]:
    """Turn every wait of this transaction into the pending incident it has been since its
    start line, in the order they started; return them.

    Done before any other incident is created: ids tell the order failures began in, and the
    incident a wait becomes began at its start line."""
    book = _book(session)
    waits = sorted(
        (wait for by_source in book.waits.values() for wait in by_source.values()),
        key=lambda wait: wait.rank,
    )
    return [_incident_of(session, book, wait) for wait in waits]


def _incident_of(session: Session, book: _Book, wait: Wait) -> Incident:
    previous = find_latest_resolved(session, wait.fingerprint)
    deploy = session.get(Deploy, wait.deploy_id) if wait.deploy_id is not None else None
    trigger = blame(deploy, previous)
    incident = add_incident(
        session,
        Incident(
            signature=wait.signature,
            title=wait.title,
            severity=wait.severity,
            status="pending",
            source=wait.source,
            first_seen=wait.started,
            last_seen=wait.started,
            occurrences=0,
            fields=dict(wait.fields),
            confidence=wait.confidence,
            fingerprint=wait.fingerprint,
            opened_at=wait.opened_at,
            previous_id=previous.id if previous else None,
            deploy_id=trigger.id if trigger else None,
        ),
    )
    assert incident.id is not None
    session.add(
        IncidentEvent(
            incident_id=incident.id,
            time=wait.time,
            received_at=wait.received_at,
            instance=wait.instance,
            role="start",
            text=wait.text,
            fields=dict(wait.fields),
        )
    )
    del book.waits[wait.source][wait.fingerprint]
    _changed(session, wait.source)
    if book.impacts is not None:
        book.impacts.rekey(wait.key, incident.id)
    return incident


def sweep_waits(
    session: Session, source: str, signatures: Mapping[str, Signature], *, horizon: datetime
) -> None:
    """End the waits of rules gone from the library; once a wait's deadline has passed in the
    source's log, number the waits (its incident is then opened with the pending ones)."""
    due = False
    for wait in list(_waits_of(session, source).values()):
        signature = signatures.get(wait.signature)
        if signature is None or signature.kind != "absence":
            end_wait(session, wait)
            continue
        deadline = timedelta(seconds=signature.window_seconds)
        due = due or (wait.started is not None and wait.started + deadline <= horizon)
    if due:
        number_waits(session)


def _changed(session: Session, source: str) -> None:
    _book(session).changed.add(source)
    write_before_commit(session, "absence waits", _write)


def _write(session: OrmSession) -> None:
    """Keep each changed source's waits in its row, in the order they started."""
    book = _book(session)
    assert isinstance(session, Session)
    for name in sorted(book.changed):
        row = get_source(session, name)
        if row is None:
            continue
        waits = sorted(book.waits.get(name, {}).values(), key=lambda wait: wait.rank)
        kept = [wait.to_json() for wait in waits]
        if kept != row.waits:  # a start-up completed within the transaction changes nothing
            row.waits = kept
            session.add(row)
    book.changed.clear()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None
