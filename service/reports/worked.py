"""What went right during an incident, as its log shows it: the chosen variant's own `worked`
lines (a 503 answered instead of a 500) and a recovery that came by itself after some attempts."""

from __future__ import annotations

import re

from service.models import Deploy, Incident
from service.reports.markdown import code
from service.signatures.model import Knowledge

# `[DB_RECOVERED] op=lead_sync after 3 attempts`, `reconnected after 2 retries`.
_ATTEMPTS = re.compile(r"\bafter (\d+) (?:attempts?|retries|retry|tries|try)\b", re.IGNORECASE)
_MAX_QUOTE = 200


def what_worked(
    incident: Incident,
    knowledge: Knowledge | None,
    *,
    resolved_text: str,
    resolved_by: Deploy | None,
) -> tuple[str, ...]:
    """Return the sentences that say what the log shows went right, in markdown."""
    lines = list(knowledge.worked) if knowledge is not None else []
    if incident.status != "resolved" or incident.resolution != "recovered" or resolved_by:
        return tuple(lines)
    match = _ATTEMPTS.search(resolved_text)
    if match is not None:
        count = int(match.group(1))
        attempts = "attempt" if count == 1 else "attempts"
        lines.append(
            f"The retry worked: it came back by itself after {count} {attempts} "
            f"({code(resolved_text[:_MAX_QUOTE])}), with no deploy or restart."
        )
    return tuple(lines)
