"""Which groups of literals occur in a line, case-insensitively, in one pass where possible.

Redaction's gate: with a hundred secret triggers, a `str.__contains__` per trigger costs more than
everything else done to an ordinary line, while one hyperscan scan costs about one `str.lower`.
Hyperscan is used when it imports and compiles; the pure-Python fallback gives the same answers.
(`service.signatures.prefilter` does this for whole bodies; ingest may not import from it.)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("drainwatch.ingest")

_ENCODING_ERRORS = "surrogatepass"


class LiteralGate:
    """Tell which groups have a literal in a piece of text, ignoring ASCII case."""

    __slots__ = ("_database", "_groups", "_local", "_of_literal")

    def __init__(self, groups: Sequence[Sequence[str]], *, hyperscan: bool = True) -> None:
        self._groups = tuple(tuple(literal.lower() for literal in group) for group in groups)
        literals = sorted({literal for group in self._groups for literal in group})
        self._of_literal = tuple(
            tuple(index for index, group in enumerate(self._groups) if literal in group)
            for literal in literals
        )
        self._local = threading.local()
        self._database = _compile(literals) if hyperscan else None

    @property
    def name(self) -> str:
        """Return the implementation in use: `hyperscan` or `python`."""
        return "python" if self._database is None else "hyperscan"

    def groups_in(self, text: str) -> tuple[int, ...]:
        """Return the indices of the groups with a literal in `text`, ascending."""
        if self._database is None:
            lowered = text.lower()
            return tuple(
                index
                for index, group in enumerate(self._groups)
                if any(map(lowered.__contains__, group))
            )
        found: set[int] = set()
        of_literal = self._of_literal

        def on_match(literal: int, _start: int, _end: int, _flags: int, _context: object) -> None:
            found.update(of_literal[literal])

        self._database.scan(
            text.encode("utf-8", _ENCODING_ERRORS),
            match_event_handler=on_match,
            scratch=self._scratch(),
        )
        return tuple(sorted(found))

    def _scratch(self) -> Any:
        # Hyperscan scratch space must not be shared between threads.
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            import hyperscan

            scratch = hyperscan.Scratch(self._database)
            self._local.scratch = scratch
        return scratch


def _compile(literals: Sequence[str]) -> Any:
    try:
        import hyperscan
    except ImportError:
        return None
    if not literals:
        return None
    try:
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        flags = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH
        database.compile(
            expressions=[literal.encode("utf-8", _ENCODING_ERRORS) for literal in literals],
            ids=list(range(len(literals))),
            elements=len(literals),
            flags=[flags] * len(literals),
            literal=True,
        )
    except Exception as error:  # a CPU without SSSE3 cannot run hyperscan
        log.warning("hyperscan unusable for the secret triggers (%s); using str.find", error)
        return None
    return database
