"""Error-level lines no signature explains, as `log.error-template` hits and incidents.

The template miner (`service.signatures.templates`) learns in memory; this module decides which
events reach it, keeps an incident's fingerprint when its template widens, re-learns the open
templates of a source after a restart, and notes when a template is new since the last deploy.
"""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session, col, select

from service.incidents.fingerprint import fingerprint
from service.incidents.store import add_timeline, find_active, note_active
from service.ingest.records import Event
from service.models import ACTIVE_STATUSES, Deploy, Incident
from service.signatures.model import Hit, Signature
from service.signatures.schema import Rule
from service.signatures.templates import (
    TEMPLATE_SIGNATURE,
    TemplateMiner,
    error_template,
    refusal,
)

MAX_TITLE_CHARACTERS = 200
FIRST_SEEN = "first-seen"


def template_hit(
    session: Session, miner: TemplateMiner, rule: Signature | None, event: Event, hit: Hit | None
) -> Hit | None:
    """Return the `log.error-template` hit of an unmatched error-level event, else `hit` as is.

    `hit` is the matcher's winner: None, or a `log.error-template` hit on a level written in
    the text (which a parsed header level of INFO or WARNING overrules).
    """
    if hit is not None and hit.signature.id != TEMPLATE_SIGNATURE:
        return hit
    if rule is None:
        return None
    none = rule.detection.none if isinstance(rule, Rule) else ()
    if refusal(event, none, matched=hit is not None):
        return None
    template = error_template(event.first.message)
    if not template:
        return None
    source = event.source
    if not miner.seeded(source):
        miner.seed(source, _open_templates(session, source))
    mined = miner.learn(source, template)
    if mined.previous:
        _widen(session, rule, source, mined.previous, mined.template)
    title = mined.template[:MAX_TITLE_CHARACTERS]
    return Hit(
        signature=replace(rule, title=title), event=event, fields={"template": mined.template}
    )


def note_first_seen(session: Session, incident: Incident) -> None:
    """Say on the timeline that a new template was first seen after the deploy in force."""
    if incident.occurrences != 1 or incident.deploy_id is None or incident.id is None:
        return
    earliest = session.exec(
        select(Incident)
        .where(Incident.fingerprint == incident.fingerprint)
        .order_by(col(Incident.id))
        .limit(1)
    ).first()
    # Seen before this deploy when an earlier incident of the template began before it.
    if earliest is None or earliest.deploy_id != incident.deploy_id:
        return
    deploy = session.get(Deploy, incident.deploy_id)
    if deploy is None:
        return
    if deploy.version:
        label = f"{deploy.version} ({deploy.platform})"
    elif deploy.started_at is not None:
        label = f"of {deploy.started_at:%Y-%m-%d %H:%M:%S} UTC ({deploy.platform})"
    else:
        label = f"#{deploy.id} ({deploy.platform})"
    text = f"first seen after deploy {label}"
    add_timeline(session, incident, time=incident.first_seen, kind=FIRST_SEEN, text=text)


def _open_templates(session: Session, source: str) -> list[str]:
    statement = select(Incident).where(
        Incident.source == source,
        col(Incident.status).in_(ACTIVE_STATUSES),
        Incident.signature == TEMPLATE_SIGNATURE,
    )
    found = (incident.fields.get("template") for incident in session.exec(statement))
    return [template for template in found if isinstance(template, str)]


def _widen(session: Session, rule: Signature, source: str, previous: str, template: str) -> None:
    """Carry the open incident of a template over to the wider template it became."""
    before = find_active(session, fingerprint(rule.id, (previous,), source), source=source)
    after = fingerprint(rule.id, (template,), source)
    if before is None or find_active(session, after, source=source) is not None:
        return
    note_active(session, before.fingerprint, None)
    before.fingerprint = after
    note_active(session, after, before)
    before.title = template[:MAX_TITLE_CHARACTERS]
    before.fields = {**before.fields, "template": template}
    session.add(before)
    session.flush()
