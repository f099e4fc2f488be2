"""What an outage message says, built once from the outage report when the message is first
claimed, and kept for its retries: the outage, its severity, the report's lead and markdown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Environment
from sqlmodel import Session

from service.models import Outage
from service.outages.queries import outage_json
from service.outages.rules import CauseRule
from service.reports.headline import incident_headline
from service.reports.outage import build_outage_story, headline, level
from service.reports.render import render_outage_markdown
from service.signatures.model import Signature


def outage_payload(
    session: Session,
    outage: Outage,
    event: str,
    reason: str,
    *,
    signatures: Mapping[str, Signature],
    rules: Sequence[CauseRule],
    public_url: str,
    env: Environment,
) -> dict[str, Any]:
    """Return the document a message of this outage event is made from (JSON-ready)."""
    story = build_outage_story(session, outage, signatures, rules, public_url=public_url)
    if story.single:
        lead = incident_headline(story.cause)
        assessed = story.cause.severity
        severity = assessed.level if assessed else story.cause.incident.severity
    else:
        lead, severity = headline(story), level(story)
    return {
        "event": event,
        "reason": reason,
        "outage": {**outage_json(session, outage), "url": story.url},
        "title": outage.title,
        "severity": severity,
        "duration": story.duration,
        "lead": list(lead),
        "report": render_outage_markdown(story, env),
    }
