"""The postmortem parts of a report that the evidence decides: detection times, contributing
factors, the action items (the operator's, or suggested ones) and the lessons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from service.incidents.actions import ActionItem, stored_items
from service.reports.evidence import instance_words, worker_pids
from service.reports.markdown import code
from service.reports.timefmt import between, clock, duration

if TYPE_CHECKING:
    from service.reports.build import OutageReport

# Opening an incident long after its first hit means the log was scanned later, not detected late.
LIVE_DETECTION = timedelta(hours=1)
ACTION_LIMIT = 160
# Prevention steps a report suggests as action items; the signature holds the rest.
SUGGESTED_PREVENTION = 1


@dataclass(frozen=True)
class Detection:
    """How long it took, from the first signal: to detect, to mitigate, to recover (where known)."""

    detect: str | None
    mitigate: str | None
    mitigated_by: str
    recover: str | None


def _since(start: datetime | None, end: datetime | None) -> str | None:
    if start is None or end is None or end < start:
        return None
    return duration(between(start, end))


def detection(report: OutageReport) -> Detection:
    """Return the incident's times to detect, to mitigate and to recover."""
    incident = report.incident
    lag = incident.opened_at - incident.first_seen if incident.first_seen else None
    live = lag is not None and timedelta(0) <= lag <= LIVE_DETECTION
    mitigated_at, by = None, ""
    if report.resolved_by is not None and report.resolved_by.live_at is not None:
        mitigated_at, by = report.resolved_by.live_at, "the deploy that ended it went live"
    elif incident.acknowledged_at is not None and live:
        mitigated_at, by = incident.acknowledged_at, "acknowledged"
    recovered = incident.status == "resolved" and incident.resolution in ("recovered", "deploy")
    return Detection(
        detect=duration(lag) if live and lag is not None else None,
        mitigate=_since(incident.first_seen, mitigated_at),
        mitigated_by=by,
        recover=_since(incident.first_seen, incident.resolved_at) if recovered else None,
    )


def contributing_factors(report: OutageReport) -> tuple[str, ...]:
    """Return what the evidence shows made it worse or more likely (markdown, log text escaped)."""
    incident = report.incident
    factors = []
    if incident.previous_id:
        factors.append(f"A regression: the same failure as #{incident.previous_id} came back.")
    if len(report.instances) > 1 and worker_pids(report.instances):
        factors.append(
            f"It hit {instance_words(report.instances)}, so it is in the code they all run, "
            "not one stuck worker."
        )
    elif len(report.instances) > 1:
        factors.append(
            f"It hit {instance_words(report.instances)}, so it is in the code or the "
            "configuration they share, not one bad host."
        )
    # The incidents it came with are named in the first lines, with their outage.
    return tuple(factors)


def _short(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= ACTION_LIMIT:
        return text
    cut = text[: ACTION_LIMIT - 1].rsplit(" ", 1)[0]
    # An inline code span cut in the middle would swallow the rest of the line.
    return (cut if cut.count("`") % 2 == 0 else cut.rsplit("`", 1)[0]).rstrip(" ,;:") + "…"


def action_items(report: OutageReport) -> tuple[tuple[ActionItem, ...], bool]:
    """Return the operator's action items, or the suggested ones; and whether they are suggested."""
    own = stored_items(report.incident.action_items)
    if own:
        return tuple(own), False
    # The fix itself is the first step of the report's first lines; these are the follow-ups.
    where = report.traceback.application_frames
    test = "Add a regression test that reproduces this failure"
    test += f" in {code(where[-1].file)}" if where else ""
    items = [ActionItem(text=_short(test) + ".", priority="P1")]
    prevention = report.knowledge.prevention if report.knowledge else ()
    if report.recovered_alone:
        # What came back by itself, with no deploy, was not the code's doing: no regression test.
        items = []
    for step in prevention[: SUGGESTED_PREVENTION + 1 - len(items)]:
        items.append(ActionItem(text=_short(step), priority=f"P{len(items) + 1}"))
    return tuple(items), True


def lessons(report: OutageReport) -> tuple[str, ...]:
    """Return what this incident teaches, as its evidence shows (markdown, no raw log text)."""
    incident = report.incident
    found = []
    trigger = report.trigger
    if trigger is not None and trigger.live_at and incident.first_seen:
        found.append(
            f"The failure shipped in a deploy that went live at {clock(trigger.live_at)}: a "
            "smoke test of the failing path right after each deploy catches it before users do."
        )
    times = detection(report)
    if times.detect is not None and times.mitigate is None and incident.status != "resolved":
        found.append(
            f"It was detected {times.detect} after the first signal, and nothing has mitigated it "
            "yet: the first step above is the way out."
        )
    if incident.status == "resolved" and incident.resolution == "quiet":
        found.append(
            "It stopped without a fix on record: the cause may still be there, waiting for the "
            "same load or data."
        )
    return tuple(found)
