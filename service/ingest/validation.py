"""Reading a pydantic `ValidationError` report printed without a traceback header.

`2 validation errors for Settings`, then per error its location at column 0 (`database_url`,
`items.0.name`, v1's `items -> 0`) and the problem indented under it (`  Field required [...]`,
`    For further information visit ...`); the assembler keeps those lines with the report line.
"""

from __future__ import annotations

import re

# The count and the model end the line; the model may be cut by a hard wrap (`for Settin` / `gs`).
_REPORT = re.compile(r"\d{1,4} validation errors? for(?: \S{1,120})? *")
_REPORT_TEXT = " validation error"
# One step of a location: a field name, a list index, or a pydantic v2 tag
# (`function-after[f(), str]`).
_STEP = r"[\w\-]{1,100}(?:\[[^\]\n]{0,100}\])?"
_LOCATION = re.compile(rf"{_STEP}(?:(?:\.| -> ){_STEP}){{0,20}} *")
MAX_REPORT_LINES = 120


def opens_report(text: str) -> bool:
    """Return True for a line that ends in `N validation error(s) for Model`."""
    at = text.rfind(_REPORT_TEXT)
    if at < 1:
        return False
    start = text.rfind(" ", 0, at)  # the count's start: the report may follow an exception name
    return _REPORT.fullmatch(text, start + 1 if start >= 0 else 0) is not None


def is_location(text: str) -> bool:
    """Return True for a report's location line (`database_url`, `items.0.name`) at column 0."""
    return (
        len(text) <= 300
        and text[:1] not in ("", " ", "\t")
        and _LOCATION.fullmatch(text) is not None
    )


def is_problem(text: str) -> bool:
    """Return True for a problem line indented under a location (`  Field required [...]`)."""
    return text.startswith("  ") and text[2:].lstrip(" ")[:1] not in ("", "\t")
