"""What the spool raises when it cannot take a batch."""

from __future__ import annotations


class SpoolError(Exception):
    """The spool could not take a batch: full, closed, or its file could not be written."""


class SpoolFull(SpoolError):
    """The spool holds its maximum number of bytes; the sender should retry later."""


class SpoolClosed(SpoolError):
    """The spool was closed (the process is shutting down) before the batch was written."""
