"""What peeling a line's header layers finds out, and Heroku's naming of streams and instances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.ingest.timestamps import bsd_time


@dataclass(slots=True)
class Header:
    """The fields the header layers of one line give, filled outermost first.

    The outermost layer's time, instance and stream win (the platform's clock); the innermost
    level wins. `done` stops the peeling; `layers` counts what was peeled. `reference` is the
    stream's previous time, which dates a year-less time (else `received_at` does).
    """

    received_at: datetime | None
    reference: datetime | None = None
    time: datetime | None = None
    instance: str = ""
    stream: str = ""
    level: str = ""
    json_level: str = ""
    done: bool = False
    layers: int = 0
    wrapped: bool = False

    def place(self, time: datetime | None, instance: str = "", stream: str = "") -> None:
        """Take time, instance and stream where an outer layer has not set them already."""
        if self.time is None:
            self.time = time
        if not self.instance:
            self.instance = instance
        if not self.stream:
            self.stream = stream

    def year_less(self, month: str, day: str, clock: tuple[str, str, str]) -> datetime | None:
        """Date a year-less time by the stream's previous time or the receive time."""
        reference = self.reference or self.received_at
        return bsd_time(month, day, clock, reference, now=self.received_at)


def heroku_identity(app: str, dyno: str) -> tuple[str, str]:
    """Map a Heroku source/dyno pair to (stream, instance).

    `heroku[router]` is the router; other `heroku[...]` lines and `app[api]` (releases, config) are
    the platform talking about the app; everything else under `app[...]` is the app itself.
    """
    if app == "heroku":
        return ("router" if dyno == "router" else "platform"), dyno
    return ("platform" if dyno == "api" else "app"), dyno
