"""Render an incident's `OutageReport`, or an outage's `OutageStory`, to markdown through
`templates/reports/`, with text-safe filters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlmodel import Session

from service.models import Incident, Outage
from service.outages.rules import CauseRule
from service.reports import evidence, markdown, timefmt
from service.reports.build import OutageReport, build_report
from service.reports.headline import title
from service.reports.outage import OutageStory, build_outage_story, headline, outage_title
from service.signatures.model import Signature


def report_environment(templates_dir: Path) -> Environment:
    """Return the Jinja environment for markdown reports (log text goes through the filters)."""
    env = Environment(
        loader=FileSystemLoader(templates_dir / "reports"),
        autoescape=False,  # noqa: S701 - markdown output; log text is fenced or escaped by filters
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        fence=markdown.fence,
        code=markdown.code,
        md=markdown.escape,
        cell=markdown.cell,
        stamp=timefmt.stamp,
        clock=timefmt.clock,
        worker_pids=evidence.worker_pids,
        instance_words=evidence.instance_words,
    )
    return env


def render_markdown(report: OutageReport, env: Environment) -> str:
    """Return the report as markdown."""
    level = report.severity.level if report.severity else report.incident.severity
    return env.get_template("incident.md.j2").render(
        report=report, incident=report.incident, embedded=False, title=title(report, level)
    )


def render_outage_markdown(story: OutageStory, env: Environment) -> str:
    """Return the outage's report: an outage of one incident is told by that incident's report."""
    if story.single:
        return render_markdown(story.cause, env)
    return env.get_template("outage.md.j2").render(
        story=story,
        outage=story.outage,
        report=story.cause,
        incident=story.cause.incident,
        headline=headline(story),
        title=outage_title(story),
        embedded=True,
    )


def outage_markdown(
    session: Session,
    outage: Outage,
    signatures: Mapping[str, Signature],
    rules: Sequence[CauseRule],
    *,
    public_url: str,
    env: Environment,
) -> str:
    """Build and render the markdown report of one outage."""
    story = build_outage_story(session, outage, signatures, rules, public_url=public_url)
    return render_outage_markdown(story, env)


def incident_markdown(
    session: Session,
    incident: Incident,
    signatures: Mapping[str, Signature],
    *,
    public_url: str,
    env: Environment,
) -> str:
    """Build and render the markdown outage report of one incident."""
    return render_markdown(build_report(session, incident, signatures, public_url=public_url), env)
