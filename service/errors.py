"""The errors drainwatch answers with.

DrainwatchError
├── ApiError            an HTTP answer {"error": CODE, "detail": "..."} with its status
└── InputError          a file or stream that could not be read (the CLI exits non-zero)
"""

from __future__ import annotations


class DrainwatchError(Exception):
    """The root of drainwatch's own errors."""


class ApiError(DrainwatchError):
    """An HTTP error answer: status, machine-readable code, and a sentence for people."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}


class InputError(DrainwatchError):
    """Input the CLI was asked to read could not be read."""
