"""Severity from evidence: the signature gives a failure's usual level; what the log shows of
its impact (requests failed, instances hit) raises it, or states it lower, with the reasons."""

from __future__ import annotations

from dataclasses import dataclass

from service.models import Incident
from service.reports.impact import Impact
from service.signatures.model import SEVERITIES, Severity

# Requests needed before a share of failures counts as evidence either way.
MIN_REQUESTS = 10
MOST_FAILED = 0.5
MANY_FAILED = 0.25


@dataclass(frozen=True)
class Assessment:
    """The level a report states, the signature's usual level, and why they differ or agree."""

    level: Severity
    usual: Severity
    reasons: tuple[str, ...]

    @property
    def change(self) -> str:
        """Return `raised`, `lowered` or an empty string."""
        rank = SEVERITIES.index
        if rank(self.level) < rank(self.usual):
            return "raised"
        return "lowered" if rank(self.level) > rank(self.usual) else ""

    def sentence(self) -> str:
        """Return the level and its reasons as one sentence (markdown, no log text)."""
        if self.change:
            head = f"{self.level}, {self.change} from the signature's usual {self.usual}"
        else:
            head = f"{self.level}, the signature's usual level"
        return f"{head}: {'; '.join(self.reasons)}."


def _step(level: Severity, steps: int) -> Severity:
    index = min(max(SEVERITIES.index(level) - steps, 0), len(SEVERITIES) - 1)
    return SEVERITIES[index]


def assess(incident: Incident, impact: Impact, *, instances: int, alone: bool) -> Assessment:
    """Return the incident's severity as its evidence shows it, with the reasons.

    `alone`: a one-line failure with no other incident in its outage; only then can a single
    hit with no traffic be stated lower (a crash at start-up answers no request either, but
    brings other incidents with it).
    """
    fallback: Severity = "high"
    usual = next((level for level in SEVERITIES if level == incident.severity), fallback)
    requests, failed = impact.requests, impact.failed
    share = failed / requests if requests else 0.0
    counted = f"{failed} of {requests} requests failed ({100.0 * share:.1f} %)"
    if requests >= MIN_REQUESTS and share >= MOST_FAILED:
        if failed == requests:
            return Assessment("critical", usual, (f"all {requests} requests in its window failed",))
        return Assessment("critical", usual, (f"{counted}: most users were affected",))
    raises: list[str] = []
    if requests >= MIN_REQUESTS and share >= MANY_FAILED:
        raises.append(counted)
    if instances > 1:
        raises.append(f"it hit {instances} instances, not one")
    if raises:
        return Assessment(_step(usual, 1), usual, tuple(raises))
    if alone and incident.occurrences == 1 and requests == 0:
        reason = "a single hit and no request in its window: the log shows no one affected"
        return Assessment(_step(usual, -1), usual, (reason,))
    if requests >= MIN_REQUESTS and failed == 0:
        reason = f"{requests} requests in its window, none failed"
        return Assessment(_step(usual, -1), usual, (reason,))
    if requests:
        return Assessment(usual, usual, (counted,))
    noun = "hit" if incident.occurrences == 1 else "hits"
    hits = f"{incident.occurrences} {noun} and no request logged in its window"
    return Assessment(usual, usual, (f"{hits}: impact on users is not in the log",))
