"""Which groups of literals occur in a line, case-insensitively, in one pass where possible.

Redaction's gate: with a hundred secret triggers, a `str.__contains__` per trigger costs more than
everything else done to an ordinary line, while one hyperscan scan costs about one `str.lower`.
Hyperscan is used when it imports and compiles; the pure-Python fallback gives the same answers.
`lines_with` answers for a whole batch of lines in one scan, which is what intake asks: most
lines hold no literal at all, and one scan of the batch costs about what one line's scan does.
(`service.signatures.prefilter` does this for whole bodies; ingest may not import from it.)
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

log = logging.getLogger("drainwatch.ingest")

_ENCODING_ERRORS = "surrogatepass"


class JoinedLines:
    """Lines joined by line feeds as UTF-8 bytes, and which line a byte offset falls in.

    Each line is encoded on its own: one str of a whole batch would take 4 bytes a character
    as soon as one line holds an emoji.
    """

    __slots__ = ("_ends", "data", "lines")

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = lines
        encoded = [line.encode("utf-8", _ENCODING_ERRORS) for line in lines]
        self.data = b"\n".join(encoded)
        # The offset just past each line's line feed.
        self._ends = list(accumulate(len(line) + 1 for line in encoded))

    def line_ending_at(self, end: int) -> int:
        """Return the line holding the byte just before offset `end` (a match's end)."""
        return bisect.bisect_left(self._ends, end)

    def line_starting_at(self, start: int) -> int:
        """Return the line holding the byte at offset `start`."""
        return bisect.bisect_right(self._ends, start)


class LiteralGate:
    """Tell which groups have a literal in a piece of text, ignoring ASCII case."""

    __slots__ = ("_batch_database", "_database", "_groups", "_local", "_of_literal")

    def __init__(self, groups: Sequence[Sequence[str]], *, hyperscan: bool = True) -> None:
        self._groups = tuple(tuple(literal.lower() for literal in group) for group in groups)
        literals = sorted({literal for group in self._groups for literal in group})
        self._of_literal = tuple(
            tuple(index for index, group in enumerate(self._groups) if literal in group)
            for literal in literals
        )
        self._local = threading.local()
        self._database = _compile(literals, single=True) if hyperscan else None
        # For a batch, every occurrence is reported (one per literal and scan would miss lines).
        self._batch_database = _compile(literals, single=False) if self._database else None

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
            scratch=self._scratch("scratch", self._database),
        )
        return tuple(sorted(found))

    def lines_with(self, joined: JoinedLines) -> set[int]:
        """Return the indices of the lines that hold any literal of any group.

        Exactly the lines for which `groups_in` is not empty: a literal never holds a line
        feed, so scanning the lines joined by one finds the same literals, line by line.
        """
        if self._batch_database is None:
            return {index for index, line in enumerate(joined.lines) if self.groups_in(line)}
        ends: list[int] = []

        def on_match(_literal: int, _start: int, end: int, _flags: int, _context: object) -> None:
            ends.append(end)

        scratch = self._scratch("batch_scratch", self._batch_database)
        self._batch_database.scan(joined.data, match_event_handler=on_match, scratch=scratch)
        return {joined.line_ending_at(end) for end in ends}

    def groups_by_line(self, joined: JoinedLines) -> dict[int, set[int]]:
        """Return, for each line that holds a literal, the indices of the groups it has one of."""
        if self._batch_database is None:
            found = ((index, self.groups_in(line)) for index, line in enumerate(joined.lines))
            return {index: set(groups) for index, groups in found if groups}
        by_line: dict[int, set[int]] = {}
        of_literal = self._of_literal

        def on_match(literal: int, _start: int, end: int, _flags: int, _context: object) -> None:
            by_line.setdefault(joined.line_ending_at(end), set()).update(of_literal[literal])

        scratch = self._scratch("batch_scratch", self._batch_database)
        self._batch_database.scan(joined.data, match_event_handler=on_match, scratch=scratch)
        return by_line

    def _scratch(self, name: str, database: Any) -> Any:
        # Hyperscan scratch space must not be shared between threads.
        scratch = getattr(self._local, name, None)
        if scratch is None:
            import hyperscan

            scratch = hyperscan.Scratch(database)
            setattr(self._local, name, scratch)
        return scratch


def _compile(literals: Sequence[str], *, single: bool) -> Any:
    try:
        import hyperscan
    except ImportError:
        return None
    if not literals:
        return None
    try:
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        flags = hyperscan.HS_FLAG_CASELESS
        if single:
            flags |= hyperscan.HS_FLAG_SINGLEMATCH
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


class PatternGate:
    """Tell which lines of a batch hold a match of one regular expression, ignoring ASCII case.

    Only with hyperscan (`lines_with` answers None without it): a narrower gate than a
    literal's, for a rule whose trigger word is common in prose (`token`) but whose match
    needs more after it. The pattern must not match a line feed.
    """

    __slots__ = ("_database", "_local")

    def __init__(self, pattern: str) -> None:
        self._local = threading.local()
        self._database = _compile_pattern(pattern)

    def lines_with(self, joined: JoinedLines) -> set[int] | None:
        """Return the indices of the lines with a match, or None when hyperscan is missing."""
        if self._database is None:
            return None
        ends: list[int] = []

        def on_match(_id: int, _start: int, end: int, _flags: int, _context: object) -> None:
            ends.append(end)

        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            import hyperscan

            scratch = self._local.scratch = hyperscan.Scratch(self._database)
        self._database.scan(joined.data, match_event_handler=on_match, scratch=scratch)
        return {joined.line_ending_at(end) for end in ends}


def _compile_pattern(pattern: str) -> Any:
    try:
        import hyperscan
    except ImportError:
        return None
    try:
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        database.compile(
            expressions=[pattern.encode("ascii")],
            ids=[0],
            elements=1,
            flags=[hyperscan.HS_FLAG_CASELESS],
        )
    except Exception as error:  # a CPU without SSSE3 cannot run hyperscan
        log.warning("hyperscan unusable for a secret gate (%s); using the literals alone", error)
        return None
    return database
