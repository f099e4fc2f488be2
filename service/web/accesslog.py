"""Keep credentials out of the access log: an ingest token may come as `?token=` in the URL."""

from __future__ import annotations

import logging

from service.ingest.redact import UNSCANNABLE, redact_url

ACCESS_LOGGER = "uvicorn.access"


class RedactingFilter(logging.Filter):
    """Redact every string argument of a log record (uvicorn logs the request target as one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace credentials in the record's arguments; always let the record through."""
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        return True


def _redacted(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return redact_url(value)
    except TimeoutError:
        return UNSCANNABLE


def install_access_log_filter() -> None:
    """Add the redacting filter to uvicorn's access logger, once."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, RedactingFilter) for existing in logger.filters):
        logger.addFilter(RedactingFilter())
