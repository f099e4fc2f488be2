"""The logfmt header: `time=... level=...` (logrus, go-kit, Grafana, Prometheus) before the rest.

Only a time field at the start of the line is read, so no number inside a message becomes a time.
The pattern is applied with .match (anchored) and has no nested repetition.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from service.ingest.layer import Header
from service.ingest.timestamps import field_time

STARTS = ("time=", "ts=", "t=", "level=", "lvl=")
_LOGFMT = re.compile(
    r"(?:(?:level|lvl)=(\w{1,12}) )?(?:time|ts|t)=(\"[^\"\n]{1,40}\"|[^\"\s]{1,40})"
    r"(?: (?:level|lvl)=(\w{1,12}))?(?= |$) ?"
)


def logfmt(text: str, header: Header, levels: Mapping[str, str]) -> str | None:
    """Peel a logfmt line's leading time (and level) fields; None when they hold no time."""
    match = _LOGFMT.match(text)
    if match is None:
        return None
    time = field_time(match.group(2).strip('"'))
    if time is None:
        return None
    header.place(time)
    word = match.group(1) or match.group(3)
    if word:
        header.level = levels.get(word.upper(), "")
    header.done = True
    return text[match.end() :]
