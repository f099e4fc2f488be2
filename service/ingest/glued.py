"""Splitting a line that holds several of Render's own log lines, their newlines lost.

A deploy log copied from a page that dropped its newlines reads `==> Running build command
'...'...==> Build failed==> Running pre-deploy command...==> Pre-deploy failed`. Each `==> ` that
starts one of Render's messages (a capital letter after it) begins a line again, and each part is
matched as an event of its own, so the step that failed and the error before it are both seen.
"""

from __future__ import annotations

import re
from itertools import pairwise

from service.ingest.records import Event

MARKER = "==> "
_STARTS = re.compile(r"==> (?=[A-Z])")
# One `A ==> B` is an arrow in a message; a line with two or more of Render's markers is its log.
_MIN_MARKERS = 2
_MAX_PARTS = 200


def split_glued(event: Event) -> tuple[Event, ...]:
    """Return the event's parts, one per Render line glued into it, or the event alone."""
    text = event.text
    if text.find(MARKER, 1) < 0 or "\n" in text:
        return (event,)
    starts = [match.start() for match in _STARTS.finditer(text)][:_MAX_PARTS]
    if len(starts) < _MIN_MARKERS:
        return (event,)
    bounds = [0, *(start for start in starts if start > 0), len(text)]
    parts = (text[begin:end].strip() for begin, end in pairwise(bounds))
    return tuple(Event(records=event.records, unwrapped=part) for part in parts if part)
