"""How drainwatch's own log lines look: one shape for every process of `serve`, which
`drainwatch scan` reads back."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str = "info") -> None:
    """Send drainwatch's own log lines (the processor's [DB_DOWN]/[DB_RECOVERED] among them) to
    stderr with their time and level, in a shape `drainwatch scan` reads back."""
    logger = logging.getLogger("drainwatch")
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
        logger.propagate = False
