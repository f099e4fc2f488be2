"""Resolving incidents by what the log shows, in log time: a failing endpoint answering again,
silence after a deploy while traffic flowed, or silence for a quiet period."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from service.incidents.absence import sweep_waits
from service.incidents.deploys import live_deploys_after
from service.incidents.store import resolve, unresolved_of
from service.incidents.waiting import sweep_pending
from service.models import UNRESOLVED_STATUSES, Deploy, Incident, Source
from service.signatures.model import Signature

DEPLOY_QUIET = timedelta(minutes=10)
DEFAULT_QUIET_MINUTES = 60


def sweep_source(
    session: Session,
    source: Source,
    signatures: Mapping[str, Signature],
    *,
    deploy_quiet: timedelta = DEPLOY_QUIET,
    first_answer: Callable[[str, datetime, int | None], tuple[bool, datetime | None]] | None = None,
) -> list[Incident]:
    """Resolve the source's incidents that its log shows have gone quiet; return them."""
    horizon = source.last_log_time
    if horizon is None:
        return []
    sweep_waits(session, source.name, signatures, horizon=horizon)
    sweep_pending(session, source.name, signatures, horizon=horizon)
    incidents = [
        (incident, incident.last_seen)
        for incident in unresolved_of(session, source.name, UNRESOLVED_STATUSES)
        if incident.last_seen is not None
    ]
    if not incidents:
        return []
    # One query for the deploys that could end any of them (this runs whenever the log clock
    # moves): the first deploy live after each incident's last hit is then found by bisection.
    deploys = live_deploys_after(session, source.name, min(seen for _, seen in incidents))
    live_times = [deploy.live_at for deploy in deploys if deploy.live_at is not None]
    resolved = []
    for incident, last_seen in incidents:
        index = bisect.bisect_right(live_times, last_seen)
        deploy = deploys[index] if index < len(live_times) else None
        signature = signatures.get(incident.signature)
        quiet = signature.quiet_minutes if signature else DEFAULT_QUIET_MINUTES
        quiet_end = last_seen + timedelta(minutes=quiet) if quiet > 0 else None
        # Silence after a deploy says something only if requests were answered after it: with
        # nothing but health checks, a failure of the app's endpoints could not have shown.
        proven = _deploy_proven(source, incident, deploy, deploy_quiet, first_answer)
        # Whichever the log showed first decides, as it would have read line by line: a scan of
        # a whole file, whose clock is far ahead, resolves as the served processor did.
        by_deploy = (
            proven is not None and proven <= horizon and (quiet_end is None or proven <= quiet_end)
        )
        if by_deploy and deploy is not None and deploy.live_at is not None:
            incident.resolved_by_deploy_id = deploy.id
            label = f" ({deploy.version})" if deploy.version else ""
            text = f"resolved by the deploy{label} live at {deploy.live_at:%H:%M:%S}; silent since"
            resolve(session, incident, at=deploy.live_at, resolution="deploy", text=text)
            resolved.append(incident)
            continue
        if quiet_end is not None and quiet_end <= horizon:
            resolve(
                session,
                incident,
                at=quiet_end,
                resolution="quiet",
                text=f"no new hits for {quiet} min",
            )
            resolved.append(incident)
    return resolved


def _deploy_proven(
    source: Source,
    incident: Incident,
    deploy: Deploy | None,
    deploy_quiet: timedelta,
    first_answer: Callable[[str, datetime, int | None], tuple[bool, datetime | None]] | None,
) -> datetime | None:
    """Return when the log proved a deploy fixed what went silent after it: `deploy_quiet` after
    it went live, once a request that could have failed was answered after it (with nothing but
    health checks, or only other endpoints than the failing ones, the failure could not have
    shown); None while it has not."""
    if deploy is None or deploy.live_at is None:
        return None
    live = deploy.live_at
    seen, first = first_answer(source.name, live, incident.id) if first_answer else (False, None)
    if not seen:
        # Intake did not see it go live (a restart since): the source's latest answer tells.
        answered = source.last_answered_at
        first = answered if answered is not None and answered > live else None
    if first is None:
        return None
    return max(live + deploy_quiet, first)


def resolve_recovered(
    session: Session, incident: Incident, *, at: datetime, text: str, live: datetime | None
) -> None:
    """Resolve an incident whose failing endpoint answered again (after a deploy, if `live`)."""
    if live is not None:
        statement = select(Deploy).where(Deploy.source == incident.source, Deploy.live_at == live)
        deploy = session.exec(statement.order_by(col(Deploy.id).desc()).limit(1)).first()
        if deploy is not None:
            incident.resolved_by_deploy_id = deploy.id
            label = f" ({deploy.version})" if deploy.version else ""
            text = f"{text}, after the deploy{label} live at {live:%H:%M:%S}"
    resolve(session, incident, at=at, resolution="recovered", text=text)
