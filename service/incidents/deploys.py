"""Deploys: Render's `==>` markers and Heroku's release and dyno-state lines, recorded per source.

An incident knows the deploy it began after, and the deploy after which it fell silent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from service.models import Deploy, TimelineEntry

STALE_DEPLOY = timedelta(hours=2)


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
        re.compile(r"^==> (?:Build failed|Pre-deploy has failed|Exited with status [1-9])"),
        "failed",
        "render",
    ),
    (re.compile(r"^Release (?P<version>v\d+) created by "), "deploying", "heroku"),
    (re.compile(r"^Deploy (?P<version>[0-9a-f]{7,40}) by "), "deploying", "heroku"),
    (re.compile(r"^State changed from starting to up"), "live", "heroku"),
    (re.compile(r"^State changed from (?:starting|up) to crashed"), "failed", "heroku"),
)


def deploy_marker(message: str) -> Marker | None:
    """Return the deploy marker a log message is, or None (cheap for ordinary lines)."""
    if not (message.startswith(("==> ", "Release v", "Deploy ", "State changed from "))):
        return None
    for pattern, stage, platform in _MARKERS:
        match = pattern.match(message)
        if match:
            version = match.groupdict().get("version") or ""
            return Marker(stage=stage, platform=platform, version=version[:12])
    return None


def latest_deploy(session: Session, source: str) -> Deploy | None:
    """Return the source's most recent deploy."""
    statement = select(Deploy).where(Deploy.source == source).order_by(col(Deploy.id).desc())
    return session.exec(statement).first()


def record_marker(
    session: Session, source: str, marker: Marker, *, time: datetime | None, text: str
) -> Deploy:
    """Advance the source's current deploy with this marker, or start a new deploy."""
    current = latest_deploy(session, source)
    if marker.stage in ("build", "deploying"):
        if not _continues(current, marker, time):
            current = Deploy(source=source, platform=marker.platform, started_at=time)
        assert current is not None
        current.version = current.version or marker.version
    elif current is None or current.status != "deploying":
        # A platform line on its own (`==> Your service is live` after a restart) still counts.
        if marker.stage == "failed" and current is not None and current.status == "live":
            return current
        current = Deploy(source=source, platform=marker.platform, started_at=time)
    if marker.stage == "live":
        current.status, current.live_at = "live", time
    elif marker.stage == "failed":
        current.status, current.failed_at = "failed", time
    current.detail = text[:500]
    session.add(current)
    session.flush()
    session.add(
        TimelineEntry(source=source, time=time, kind=f"deploy-{marker.stage}", text=text[:2000])
    )
    return current


def _continues(current: Deploy | None, marker: Marker, time: datetime | None) -> bool:
    if current is None or current.status != "deploying" or current.platform != marker.platform:
        return False
    if marker.platform == "heroku" and marker.version and current.version:
        return False
    if time is None or current.started_at is None:
        return True
    return time - current.started_at < STALE_DEPLOY


def deploy_before(session: Session, source: str, when: datetime | None) -> Deploy | None:
    """Return the last deploy of `source` that went live (or started) at or before `when`."""
    if when is None:
        return None
    statement = (
        select(Deploy)
        .where(Deploy.source == source, col(Deploy.started_at) <= when)
        .order_by(col(Deploy.started_at).desc(), col(Deploy.id).desc())
    )
    return session.exec(statement).first()


def live_deploy_after(session: Session, source: str, when: datetime) -> Deploy | None:
    """Return the first deploy of `source` that went live after `when`."""
    statement = (
        select(Deploy)
        .where(Deploy.source == source, Deploy.status == "live", col(Deploy.live_at) > when)
        .order_by(col(Deploy.live_at))
    )
    return session.exec(statement).first()
