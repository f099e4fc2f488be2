"""Gather an outage's incidents into one story: what broke first, what it brought, the deploys
and the timeline of all of them, and the full report of the incident the story starts from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from service.incidents.deploys import borrowed_times
from service.incidents.queries import timeline_entries
from service.models import Deploy, Incident, Outage, TimelineEntry
from service.outages.grouping import failure_end, members, outage_duration, span_of
from service.outages.queries import busiest_impact
from service.outages.rules import CauseRule, story_between
from service.reports.build import OutageReport, build_report
from service.reports.evidence import TimelineRow, deploys_between, merged_timeline
from service.reports.headline import (
    HOW,
    broke_line,
    impact_line,
    since_line,
    status_line,
    step_line,
    title,
)
from service.reports.impact import Impact, gather_impact, log_end
from service.reports.markdown import prose
from service.reports.timefmt import clock, duration
from service.signatures.model import SEVERITIES, Signature


@dataclass(frozen=True)
class Member:
    """One incident of the outage and its part in the story."""

    incident: Incident
    role: str  # `cause`, or `effect` (brought by another incident of the outage)
    story: str  # the rule's story that tied it in; empty for the cause


@dataclass(frozen=True)
class OutageStory:
    """Everything an outage report says."""

    outage: Outage
    members: tuple[Member, ...]
    cause: OutageReport
    stories: tuple[str, ...]
    deploys: tuple[Deploy, ...]
    timeline: tuple[TimelineRow, ...]
    duration: str
    occurrences: int
    url: str
    # The request counts of the member whose window saw the most requests, and that member.
    requests: Impact | None = None
    requests_of: Incident | None = None
    # Per deploy id, which of its times ("started", "live", "failed") were lent: "about".
    about: Mapping[int, frozenset[str]] = field(default_factory=dict)

    @property
    def single(self) -> bool:
        """Return True when the outage is one incident: its report is the incident's own."""
        return len(self.members) == 1


def build_outage_story(
    session: Session,
    outage: Outage,
    signatures: Mapping[str, Signature],
    rules: Sequence[CauseRule],
    *,
    public_url: str,
) -> OutageStory:
    """Collect the evidence of one outage into its story."""
    assert outage.id is not None
    incidents = members(session, outage.id)
    cause = next((i for i in incidents if i.id == outage.cause_id), incidents[0])
    told = [
        Member(cause, "cause", ""),
        *(_member(session, rules, cause, incidents, i) for i in incidents if i is not cause),
    ]
    stories = tuple(dict.fromkeys(m.story for m in told if m.story))
    busiest = busiest_impact(session, incidents, cause.id)
    counted = next((i for i in incidents if busiest and i.id == busiest.incident_id), None)
    deploys = _deploys(session, outage, incidents)
    about = {d.id: borrowed_times(session, d) for d in deploys if d.id}
    return OutageStory(
        outage=outage,
        members=tuple(told),
        cause=build_report(session, cause, signatures, public_url=public_url),
        stories=stories,
        deploys=tuple(deploys),
        timeline=_timeline(session, incidents, deploys, about),
        duration=duration(outage_duration(outage, incidents, log_end(session, cause))),
        occurrences=sum(i.occurrences for i in incidents),
        url=f"{public_url.rstrip('/')}/outages/{outage.id}",
        requests=gather_impact(session, counted, log_end(session, counted)) if counted else None,
        requests_of=counted,
        about=about,
    )


def _member(
    session: Session,
    rules: Sequence[CauseRule],
    cause: Incident,
    incidents: Sequence[Incident],
    incident: Incident,
) -> Member:
    """Return how the incident came into the story: the rule tying it to the cause, else to any
    other incident of the outage (a chain: the crash, the failed deploy, the 5xx)."""
    for other in (cause, *(i for i in incidents if i is not cause and i is not incident)):
        found = story_between(rules, span_of(session, other), span_of(session, incident))
        if found is not None:
            return Member(incident, "effect", found[0].story)
    return Member(incident, "effect", "")


def _window(outage: Outage, incidents: Sequence[Incident]) -> tuple[datetime, datetime] | None:
    if outage.started_at is None:
        return None
    ends = [i.resolved_at or i.last_seen for i in incidents]
    end = max((e for e in ends if e is not None), default=outage.started_at)
    return outage.started_at, end


def _deploys(session: Session, outage: Outage, incidents: Sequence[Incident]) -> list[Deploy]:
    """Return the deploys of the outage: those placed in its window by their times, and those
    the log gives no time for between the first deploy an incident came after and the one after
    the last (deploy ids follow the order of the log)."""
    window = _window(outage, incidents)
    found = {d.id: d for d in (deploys_between(session, outage.source, *window) if window else [])}
    ids = [i.deploy_id for i in incidents if i.deploy_id is not None]
    ids += [i.resolved_by_deploy_id for i in incidents if i.resolved_by_deploy_id is not None]
    if ids:
        statement = (
            select(Deploy)
            .where(Deploy.source == outage.source, col(Deploy.id) >= min(ids))
            .order_by(col(Deploy.id))
        )
        for deploy in session.exec(statement.limit(len(set(ids)) + 50)):
            assert deploy.id is not None
            if deploy.id > max(ids):
                found.setdefault(deploy.id, deploy)  # the next deploy, which may have ended it
                break
            found.setdefault(deploy.id, deploy)
    return sorted(found.values(), key=lambda d: d.id or 0)


def _timeline(
    session: Session,
    incidents: Sequence[Incident],
    deploys: Sequence[Deploy],
    about: Mapping[int, frozenset[str]],
) -> tuple[TimelineRow, ...]:
    entries = []
    for incident in incidents:
        assert incident.id is not None
        for entry in timeline_entries(session, incident.id):
            # A transient copy (never added to the session) that names the incident.
            text = f"#{incident.id} {incident.signature}: {entry.text}"
            entries.append(
                TimelineEntry(source=entry.source, time=entry.time, kind=entry.kind, text=text)
            )
    return merged_timeline(entries, deploys, (), about)


def level(story: OutageStory) -> str:
    """Return the outage's severity: the highest of its cause's, as its evidence gives it, and
    of the incidents it brought."""
    levels = [m.incident.severity for m in story.members if m.role == "effect"]
    if story.cause.severity is not None:
        levels.append(story.cause.severity.level)
    known = [lvl for lvl in levels if lvl in SEVERITIES]
    return min(known, key=SEVERITIES.index) if known else story.cause.incident.severity


def outage_title(story: OutageStory) -> str:
    """Return the outage report's H1 text: its level, what broke where, how many incidents."""
    return title(story.cause, level(story), more=len(story.members) - 1)


def headline(story: OutageStory) -> tuple[str, ...]:
    """Return the report's first lines: what broke, since when, the impact, the status, the first
    step of the fix (markdown, log text escaped)."""
    outage = story.outage
    resolved = outage.status == "resolved"
    if resolved:
        status = f"**Status:** resolved at {clock(outage.ended_at)}{_ended_by(story)}."
    else:
        open_ids = ", ".join(
            f"#{m.incident.id}" for m in story.members if m.incident.status != "resolved"
        )
        status = status_line(False, None, "", f"{open_ids} not resolved yet")
    lines = [
        broke_line(story.cause, [m.incident for m in story.members if m.role == "effect"]),
        since_line(
            outage.started_at,
            outage.ended_at if resolved else None,
            story.duration if resolved else f"{story.duration} so far (to the end of the log)",
        ),
        impact_line(
            story.requests,
            occurrences=story.occurrences,
            incidents=len(story.members),
            instances=story.cause.instances,
            of=f", the window of #{story.requests_of.id}" if story.requests_of else "",
        ),
        status,
        step_line(story.cause),
    ]
    return tuple(line for line in lines if line)


def _ended_by(story: OutageStory) -> str:
    """Return how the incident that ended last ended, in the words of its timeline."""
    ended = [m.incident for m in story.members if failure_end(m.incident) is not None]
    if not ended:
        return ""
    last = max(ended, key=lambda i: (failure_end(i) or i.first_seen, i.id or 0))
    prefix = f"#{last.id} {last.signature}: "
    said = [
        row.text.removeprefix(prefix)
        for row in story.timeline
        if row.kind == "resolved" and row.text.startswith(prefix)
    ]
    how = said[-1] if said else HOW.get(last.resolution, last.resolution)
    who = "" if len(story.members) == 1 else f", when #{last.id} ended"
    return f"{who} ({prose(how)})"
