"""What peeling a line's header layers finds out, and Heroku's naming of streams and instances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True)
class Header:
    """The fields the header layers of one line give, filled outermost first.

    The outermost layer's time, instance and stream win (the platform's clock); the innermost
    level wins. `done` stops the peeling; `layers` counts what was peeled.
    """

    received_at: datetime | None
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


def heroku_identity(app: str, dyno: str) -> tuple[str, str]:
    """Map a Heroku source/dyno pair to (stream, instance).

    `heroku[router]` is the router; other `heroku[...]` lines and `app[api]` (releases, config) are
    the platform talking about the app; everything else under `app[...]` is the app itself.
    """
    if app == "heroku":
        return ("router" if dyno == "router" else "platform"), dyno
    return ("platform" if dyno == "api" else "app"), dyno
