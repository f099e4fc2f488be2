"""Times on the pages: a relative age ("12 min ago") in a `<time datetime>` element whose title
holds the UTC time, so the person on call reads how long ago and can hover for when."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import pass_context
from markupsafe import Markup, escape

from service.reports.timefmt import clock, stamp

_STEPS = ((86400 * 365, "y"), (86400 * 30, "mo"), (86400, "d"), (3600, "h"), (60, "min"))


def age(then: datetime, now: datetime) -> str:
    """Return how long before `now` `then` was: `just now`, `12 min ago`, `3 h ago`, `in 2 d`."""
    seconds = int((_aware(now) - _aware(then)).total_seconds())
    ahead, seconds = seconds < 0, abs(seconds)
    if seconds < 60:
        return "just now" if not ahead else "in under a minute"
    for size, unit in _STEPS:
        if seconds >= size:
            count = f"{seconds // size} {unit}"
            return f"in {count}" if ahead else f"{count} ago"
    raise AssertionError("unreachable: a minute or more matches the last step")


def time_element(
    value: datetime | str | None, now: datetime | None, *, show: str = "age"
) -> Markup:
    """Return `<time datetime=... title="UTC stamp">` showing the age, the stamp or the clock."""
    if value is None or value == "":
        return Markup('<span class="muted">never</span>')
    when = _aware(datetime.fromisoformat(value) if isinstance(value, str) else value)
    full = stamp(when)
    relative = age(when, now) if now is not None else ""
    shown = {"age": relative or full, "stamp": full, "clock": clock(when)}[show]
    hover = full if show == "age" else f"{full}, {relative}" if relative else full
    machine = escape(when.isoformat())
    return Markup(  # noqa: S704 - every value is escaped, and all of them are times
        f'<time datetime="{machine}" title="{escape(hover)}">{escape(shown)}</time>'
    )


@pass_context
def ago_filter(context: Any, value: datetime | str | None) -> Markup:
    """Jinja filter: the age relative to the page's `now`, the UTC time on hover."""
    return time_element(value, context.get("now"))


@pass_context
def at_filter(context: Any, value: datetime | str | None) -> Markup:
    """Jinja filter: the UTC time, with its age on hover."""
    return time_element(value, context.get("now"), show="stamp")


@pass_context
def at_clock_filter(context: Any, value: datetime | str | None) -> Markup:
    """Jinja filter: the UTC clock time (HH:MM:SS), the full time and its age on hover."""
    return time_element(value, context.get("now"), show="clock")


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
