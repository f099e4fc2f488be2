"""A report's first lines, shared by the incident and the outage report: the title that says
what broke where, then what broke, since when, the impact, the status and the first fix step."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from service.models import Incident
from service.reports.evidence import instance_words, worker_pids
from service.reports.impact import Impact
from service.reports.markdown import code, prose
from service.reports.steps import first_step
from service.reports.timefmt import clock, stamp

if TYPE_CHECKING:
    from service.reports.build import OutageReport

HOW = {
    "recovered": "the log shows the recovery",
    "quiet": "no new hits came in the quiet period",
    "deploy": "a deploy after which it stayed silent",
    "manual": "resolved by hand",
}
TITLE_LIMIT = 80
_ERROR_CLAUSE = re.compile(r"(?:ERROR|FATAL|Error|error):\s+(?!.*(?:ERROR|FATAL|Error|error):\s)")


def evidence_line(report: OutageReport, limit: int = 160) -> str:
    """Return the line of the log that says best what broke: the final exception of the first
    traceback, else the last line of the first error message; shortened to `limit`."""
    if report.traceback.chain:
        kind, message = report.traceback.chain[-1]
        line = f"{kind}: {message}" if message else kind
    elif report.error_messages:
        line = report.error_messages[0].strip().rsplit("\n", 1)[-1].strip()
    else:
        return ""
    line = " ".join(line.split())
    if len(line) <= limit:
        return line
    # A long line says what went wrong at its end (`... failed: ERROR: Endpoint has been
    # disabled.`): its last error clause, when it fits, tells more than its first words.
    found = _ERROR_CLAUSE.search(line)
    if found is not None and len(line) - found.start() <= limit:
        return line[found.start() :]
    return line[: limit - 1].rstrip() + "…"


def title(report: OutageReport, level: str, *, more: int = 0) -> str:
    """Return the report's H1 text: the level, the log's own words for what broke, where."""
    quote = evidence_line(report, TITLE_LIMIT)
    said = code(quote) if quote else prose(report.incident.title)
    with_more = f", and {more} more incident{'s' if more != 1 else ''}" if more else ""
    return f"{level.capitalize()}: {said} on {code(report.incident.source)}{with_more}"


def broke_line(report: OutageReport, brought: Sequence[Incident] = ()) -> str:
    """Return the line naming the failure, quoted from the log, and what it brought."""
    incident = report.incident
    quote = evidence_line(report)
    said = f": {code(quote)}" if quote else ""
    line = f"**What broke:** {prose(incident.title)}{said} on {code(incident.source)}"
    if brought:
        line += ", and with it " + ", ".join(f"{code(named(i))} (#{i.id})" for i in brought)
    weaker = f" The diagnosis is {report.confidence_note}." if report.confidence_note else ""
    return f"{line}.{weaker}"


def named(incident: Incident) -> str:
    """Return the signature with the fields it captured: `python.name-error name=db_retry`."""
    fields = " ".join(f"{k}={v}" for k, v in sorted(incident.fields.items()))
    return f"{incident.signature} {fields}"[:120].strip()


def since_line(
    start: datetime | None,
    end: datetime | None,
    length: str,
    *,
    last_seen: datetime | None = None,
) -> str:
    """Return when it began and, ended, when it ended (or, gone quiet, when it was last seen);
    `length` as the report words it."""
    if end is not None and last_seen is not None:
        return f"**Since:** {stamp(start)}, last seen {stamp(last_seen)} ({length})."
    if end is not None:
        return f"**Since:** {stamp(start)}, until {stamp(end)} ({length})."
    return f"**Since:** {stamp(start)}; still open, {length}."


def impact_line(
    counted: Impact | None,
    *,
    occurrences: int,
    incidents: int,
    instances: Sequence[str],
    of: str = "",
) -> str:
    """Return the impact: failed requests with their window when the log counted any, and the
    matching events."""
    where = ""
    if len(instances) > 1:
        where = f", in {instance_words(instances)}" if worker_pids(instances) else ""
        where = where or f", on {instance_words(instances)}"
    noun = "incident" if incidents == 1 else "incidents"
    events = f"{occurrences} matching event{'s' if occurrences != 1 else ''}"
    events += f" in {incidents} {noun}" if incidents > 1 else ""
    if counted is None or not counted.requests:
        return f"**Impact:** {events}{where}; no request logged in its window."
    share = 100.0 * counted.failed / counted.requests
    failing = ", ".join(code(f"{e.method} {e.path}") for e in counted.endpoints[:2])
    more = len(counted.endpoints) - 2
    failing += f" and {more} more" if more > 0 else ""
    clients = counted.clients
    who = f", from {clients} client address{'es' if clients != 1 else ''}" if clients else ""
    return (
        f"**Impact:** {counted.failed} of {counted.requests} requests failed ({share:.1f} %) "
        f"{counted.window}{of}{' (' + failing + ')' if failing else ''}{who}; health checks "
        f"and probes left out; {events}{where}."
    )


def status_line(resolved: bool, ended: datetime | None, resolution: str, still: str) -> str:
    """Return the status: resolved when and how, or what is still open (`still`: what the log
    shows after the last hit, also said of an incident its quiet period resolved)."""
    if resolved and resolution == "quiet" and still:
        return f"**Status:** resolved at {clock(ended)} by its quiet period: {still}."
    if resolved:
        return f"**Status:** resolved at {clock(ended)} ({HOW.get(resolution, resolution)})."
    return f"**Status:** open: {still}."


def step_line(report: OutageReport) -> str:
    """Return the first step of the fix as a headline line, or an empty string."""
    step = first_step(report.knowledge.fix) if report.knowledge else ""
    return f"**First step:** {step}" if step else ""


def incident_headline(report: OutageReport) -> tuple[str, ...]:
    """Return the first lines of an incident's report (markdown, log text escaped)."""
    incident = report.incident
    resolved = incident.status == "resolved"
    lines = [
        broke_line(report),
        since_line(
            incident.first_seen,
            incident.resolved_at if resolved else None,
            report.duration,
            last_seen=incident.last_seen if incident.resolution == "quiet" else None,
        ),
        impact_line(
            report.impact,
            occurrences=incident.occurrences,
            incidents=1,
            instances=report.instances,
        ),
        status_line(resolved, incident.resolved_at, incident.resolution, report.impact.after),
        step_line(report),
    ]
    return tuple(line for line in lines if line)
