"""Deploys: Render's `==>` markers and Heroku's release and dyno-state lines, recorded per source.

An incident knows the deploy it began after, and the deploy after which it fell silent. A marker
whose time was lent by the lines around it (no time of its own) says so on its timeline entry,
"about HH:MM:SS"; `borrowed_times` reads that back for the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from service.models import Deploy, Incident, TimelineEntry
from service.transactions import remembered


@dataclass(frozen=True, slots=True)
class Marker:
    """One deploy marker line: what stage it announces, on which platform, for which version."""

    stage: str
    platform: str
    version: str = ""


_MARKERS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"^==> Cloning from \S+"), "build", "render"),
    (re.compile(r"^==> Checking out commit (?P<version>[0-9a-f]{7,40})"), "build", "render"),
    (re.compile(r"^==> Deploying\.\.\."), "deploying", "render"),
    (re.compile(r"^==> Your service is live"), "live", "render"),
    (
        re.compile(
            r"^==> (?:Build failed|Pre-deploy (?:has )?failed|Exited with status [1-9]"
            r"|Port scan timeout reached)"
        ),
        "failed",
        "render",
    ),
    (re.compile(r"^Release (?P<version>v\d+) created by "), "deploying", "heroku"),
    (re.compile(r"^Deploy (?P<version>[0-9a-f]{7,40}) by "), "build", "heroku"),
    (re.compile(r"^State changed from starting to up"), "live", "heroku"),
    (re.compile(r"^State changed from (?:starting|up) to crashed"), "failed", "heroku"),
)


# A timeline entry of a marker whose time was lent starts so; a marker line never does.
ABOUT = "about "
# The stages whose marker gives a deploy its start.
_STARTS = ("build", "deploying")


# How every marker line starts: a line without one of these is none.
MARKER_STARTS = ("==> ", "Release v", "Deploy ", "State changed from ")


def deploy_marker(message: str) -> Marker | None:
    """Return the deploy marker a log message is, or None (cheap for ordinary lines)."""
    if not message.startswith(MARKER_STARTS):
        return None
    for pattern, stage, platform in _MARKERS:
        match = pattern.match(message)
        if match:
            version = match.groupdict().get("version") or ""
            return Marker(stage=stage, platform=platform, version=version[:12])
    return None


def latest_deploy(session: Session, source: str) -> Deploy | None:
    """Return the source's most recent deploy (asked once per source in a transaction: only
    `record_marker` makes deploys, and it says when it made one)."""
    latest = _latest(session)
    if source not in latest:
        statement = select(Deploy).where(Deploy.source == source).order_by(col(Deploy.id).desc())
        latest[source] = session.exec(statement.limit(1)).first()
    return latest[source]


def _latest(session: Session) -> dict[str, Deploy | None]:
    return remembered(session, "latest deploys", dict)


def record_marker(
    session: Session,
    source: str,
    marker: Marker,
    *,
    time: datetime | None,
    text: str,
    approx: bool = False,
) -> Deploy | None:
    """Advance the source's current deploy with this marker, or start a new one.

    A deploy moves building -> deploying -> live or failed. A marker that cannot continue the
    current deploy starts a new one; a crash after going live, or a crash loop's further exits,
    change nothing (the incidents of those crashes tell that story). Only a build or deploying
    marker gives the start: a deploy first seen going live or failing started at a time the log
    does not give. `approx` says `time` was lent by the lines around the marker.
    """
    current = latest_deploy(session, source)
    state = current.status if current is not None and current.platform == marker.platform else None
    # Heroku's dyno states: within a release they tell how it went; outside one a dyno restarting
    # (daily cycling) or crashing is not a deploy, and records nothing.
    heroku_dyno_state = marker.platform == "heroku" and marker.stage in ("live", "failed")
    if heroku_dyno_state and state not in ("building", "deploying"):
        return None
    if marker.stage == "failed" and state in ("live", "failed"):
        assert current is not None
        return current
    starts_new = (
        state is None
        or (marker.stage == "build" and state != "building")
        or (marker.stage == "deploying" and state not in ("building",))
        or (marker.stage in ("live", "failed") and state not in ("building", "deploying"))
    )
    if starts_new:
        start = time if marker.stage in _STARTS else None
        current = Deploy(
            source=source, platform=marker.platform, started_at=start, status="building"
        )
        _latest(session)[source] = current
    assert current is not None
    current.version = current.version or marker.version
    current.status = {"build": "building", "deploying": "deploying"}.get(marker.stage, marker.stage)
    if marker.stage == "live":
        current.live_at = time
    elif marker.stage == "failed":
        current.failed_at = time
    current.detail = text[:500]
    session.add(current)
    # A new deploy needs its id now (incidents and unsettled markers refer to it); a change of
    # a known one goes out with the next flush, before any query could read it.
    if current.id is None:
        session.flush()
    kind = f"deploy-{marker.stage}"
    if approx and time is not None:
        text = f"{ABOUT}{time:%H:%M:%S} (the line has no time of its own): {text}"
    session.add(TimelineEntry(source=source, time=time, kind=kind, text=text[:2000]))
    return current


@dataclass(frozen=True)
class Unsettled:
    """A marker recorded without a time because the timed line after it was not in its batch:
    the time it may borrow (the timed line before it) once the next batch bounds it."""

    deploy_id: int
    stage: str
    lent: datetime
    entry_id: int


def unsettled_marker(
    session: Session, deploy: Deploy | None, marker: Marker, lent: datetime | None
) -> Unsettled | None:
    """Return what settling a marker recorded without a time will need, if it can be settled."""
    if deploy is None or deploy.id is None or lent is None:
        return None
    statement = (
        select(TimelineEntry)
        .where(
            TimelineEntry.source == deploy.source,
            col(TimelineEntry.incident_id).is_(None),
            TimelineEntry.kind == f"deploy-{marker.stage}",
            col(TimelineEntry.time).is_(None),
        )
        .order_by(col(TimelineEntry.id).desc())
    )
    entry = session.exec(statement.limit(1)).first()
    if entry is None or entry.id is None:
        return None
    return Unsettled(deploy.id, marker.stage, lent, entry.id)


def settle_marker(session: Session, unsettled: Unsettled) -> None:
    """Give a marker recorded without a time the time it borrows, now that the timed line after
    it came close enough: what a batch holding both lines would have given it (`about`)."""
    deploy = session.get(Deploy, unsettled.deploy_id)
    entry = session.get(TimelineEntry, unsettled.entry_id)
    if deploy is None or entry is None or entry.time is not None:
        return
    time = unsettled.lent
    if unsettled.stage == "live" and deploy.live_at is None:
        deploy.live_at = time
    elif unsettled.stage == "failed" and deploy.failed_at is None:
        deploy.failed_at = time
    elif unsettled.stage in _STARTS and deploy.started_at is None:
        deploy.started_at = time
    entry.time = time
    entry.text = f"{ABOUT}{time:%H:%M:%S} (the line has no time of its own): {entry.text}"[:2000]
    session.add(deploy)
    session.add(entry)


def borrowed_times(session: Session, deploy: Deploy) -> frozenset[str]:
    """Return which of the deploy's times ("started", "live", "failed") were lent, not logged."""
    fields = {"started": deploy.started_at, "live": deploy.live_at, "failed": deploy.failed_at}
    times = [time for time in fields.values() if time is not None]
    if not times:
        return frozenset()
    statement = select(TimelineEntry.kind, TimelineEntry.time).where(
        TimelineEntry.source == deploy.source,
        col(TimelineEntry.incident_id).is_(None),
        col(TimelineEntry.kind).startswith("deploy-"),
        col(TimelineEntry.time).in_(times),
        col(TimelineEntry.text).startswith(ABOUT),
    )
    lent = {(kind.removeprefix("deploy-"), time) for kind, time in session.exec(statement).all()}
    stages = {"started": _STARTS, "live": ("live",), "failed": ("failed",)}
    return frozenset(
        name
        for name, time in fields.items()
        if time is not None and any((stage, time) in lent for stage in stages[name])
    )


def deploy_before(session: Session, source: str, when: datetime | None) -> Deploy | None:
    """Return the deploy of `source` recorded last that did not start after `when`.

    Deploy markers often carry no time of their own (Render prints `==> Deploying...` bare), so a
    deploy without a time counts as before whatever comes after it in the log.
    """
    latest = latest_deploy(session, source)
    if latest is None or when is None or latest.started_at is None or latest.started_at <= when:
        return latest  # the one recorded last qualifies (or there is none): no need to ask
    statement = (
        select(Deploy)
        .where(Deploy.source == source)
        .where(col(Deploy.started_at).is_(None) | (col(Deploy.started_at) <= when))
        .order_by(col(Deploy.id).desc())
    )
    return session.exec(statement.limit(1)).first()


def blamed_deploy(
    session: Session, source: str, when: datetime | None, previous: Incident | None
) -> Deploy | None:
    """Return the deploy a failure first hit at `when` came after, if it may have brought it.

    A recurrence is the failure of `previous` back again: a deploy counts only if it started
    after that incident's last hit (it may have brought the failure back), never the one
    credited with ending it, nor one the failure was already there before. An incident its
    quiet period resolved was never shown fixed (nothing reached the failing code, or nothing
    failed by chance): its recurrence is the same failure, older than any deploy since.
    """
    return blame(deploy_before(session, source, when), previous)


def blame(deploy: Deploy | None, previous: Incident | None) -> Deploy | None:
    """Return `deploy`, the one recorded last before a failure's first hit, if it may have
    brought the failure; a recurrence of `previous` blames it as `blamed_deploy` tells."""
    if deploy is None or previous is None:
        return deploy
    if deploy.id == previous.resolved_by_deploy_id or previous.resolution == "quiet":
        return None
    last = previous.last_seen
    if deploy.started_at is None or last is None:
        return deploy if deploy.started_at is None and last is None else None
    return deploy if deploy.started_at > last else None


def live_deploys_after(session: Session, source: str, when: datetime) -> list[Deploy]:
    """Return the deploys of `source` that went live after `when`, in the order they did."""
    statement = (
        select(Deploy)
        .where(Deploy.source == source, Deploy.status == "live", col(Deploy.live_at) > when)
        .order_by(col(Deploy.live_at), col(Deploy.id))
    )
    return list(session.exec(statement).all())
