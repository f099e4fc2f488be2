"""The literal prefilter: which lines of a body hold which signatures' keywords, in one pass.

Two implementations give identical results: `HyperscanPrefilter` (every keyword compiled into
one literal database, the body scanned once) and `PythonPrefilter` (`str.find` per keyword).
`build_prefilter` picks hyperscan when it can be imported and compiled, else pure Python.
A line is what lies between two line feeds (a carriage return before one is not part of it);
keywords never contain a line break, so a keyword cannot match across lines.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    import hyperscan

log = logging.getLogger("drainwatch.signatures")

Implementation = Literal["auto", "hyperscan", "python"]
IMPLEMENTATIONS: tuple[Implementation, ...] = ("auto", "hyperscan", "python")
# Surrogates cannot be UTF-8 encoded strictly; passing them through keeps every str scannable.
_ENCODING_ERRORS = "surrogatepass"
_CHUNK_CHARACTERS = 1 << 17
FORBIDDEN_IN_KEYWORDS = ("\n", "\r", "\x00")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A line that holds a keyword: its index, its text, and whose keywords it holds.

    `owners` are positions in the keyword groups the prefilter was built from, ascending.
    """

    line: int
    text: str
    owners: tuple[int, ...]


class Prefilter(Protocol):
    """Finds the lines of a body that hold keywords, and which keyword groups they belong to."""

    @property
    def name(self) -> str:
        """Return the implementation's name: `hyperscan` or `python`."""

    def scan(self, body: str) -> list[Candidate]:
        """Return every line of `body` that holds a keyword, in line order."""

    def owners(self, text: str) -> tuple[int, ...]:
        """Return the groups with a keyword anywhere in `text`, ascending."""


def hyperscan_available() -> bool:
    """Return True when the hyperscan module can be imported on this machine."""
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True


def build_prefilter(
    groups: Sequence[Iterable[str]], *, implementation: Implementation = "auto"
) -> Prefilter:
    """Build a prefilter over keyword groups (one group per signature), choosing its engine.

    `auto` takes hyperscan when it imports and compiles (a CPU without SSSE3 cannot run it),
    else pure Python; `hyperscan` insists on it; `python` forces the fallback.
    """
    keyword_groups = _checked(groups)
    if implementation == "python":
        return PythonPrefilter(keyword_groups)
    try:
        return HyperscanPrefilter(keyword_groups)
    except ImportError:
        if implementation == "hyperscan":
            raise
    except Exception as error:
        if implementation == "hyperscan":
            raise
        log.warning("hyperscan unusable (%s); using the pure-Python prefilter", error)
    return PythonPrefilter(keyword_groups)


def _checked(groups: Sequence[Iterable[str]]) -> tuple[frozenset[str], ...]:
    result = tuple(frozenset(group) for group in groups)
    for group in result:
        for keyword in group:
            # hyperscan's binding reads a literal up to its first NUL; ingest strips NUL anyway.
            if not keyword or any(char in keyword for char in FORBIDDEN_IN_KEYWORDS):
                raise ValueError(
                    f"keyword {keyword!r} must be non-empty, on one line, and hold no NUL"
                )
    return result


def minimal_keywords(keywords: Iterable[str]) -> tuple[str, ...]:
    """Return the keywords that do not contain another keyword, shortest first."""
    kept: list[str] = []
    for keyword in sorted(set(keywords), key=lambda k: (len(k), k)):
        if not any(shorter in keyword for shorter in kept):
            kept.append(keyword)
    return tuple(kept)


class _Owners:
    """Which groups hold each keyword, and the groups a piece of text has a keyword of."""

    def __init__(self, groups: tuple[frozenset[str], ...]) -> None:
        self.groups = groups
        self.keywords = tuple(sorted({keyword for group in groups for keyword in group}))
        self.of_keyword = tuple(
            tuple(index for index, group in enumerate(groups) if keyword in group)
            for keyword in self.keywords
        )
        # Sorted so that the text checks run in a fixed order: results never depend on it,
        # but timings should not vary from run to run.
        self._sorted_groups = tuple(tuple(sorted(group)) for group in groups)

    def of_text(self, text: str) -> tuple[int, ...]:
        return tuple(
            index
            for index, keywords in enumerate(self._sorted_groups)
            if any(keyword in text for keyword in keywords)
        )


def _strip_cr(line: str) -> str:
    return line[:-1] if line.endswith("\r") else line


class PythonPrefilter:
    """The fallback: `str.find` over the whole body for each minimal keyword.

    Measured against one stdlib `re` alternation of every keyword (`bench/engine.py`, "prefilter
    alone"; 1M lines, 167 keywords: 7.0 s against 18.5 s): the alternation tries alternatives at
    almost every position, while each `str.find` pass runs in C between the rare hits.
    """

    __slots__ = ("_minimal", "_owners")

    def __init__(self, groups: Sequence[Iterable[str]]) -> None:
        self._owners = _Owners(_checked(groups))
        # A line holds some keyword exactly when it holds a minimal one: searching those finds
        # every candidate line, and the groups are then told apart on the short line alone.
        self._minimal = minimal_keywords(self._owners.keywords)

    @property
    def name(self) -> str:
        """Return `python`."""
        return "python"

    def owners(self, text: str) -> tuple[int, ...]:
        """Return the groups with a keyword anywhere in `text`, ascending."""
        # Most events hold no keyword: rejecting them on the minimal set first is cheaper.
        if not any(keyword in text for keyword in self._minimal):
            return ()
        return self._owners.of_text(text)

    def scan(self, body: str) -> list[Candidate]:
        """Return every line of `body` that holds a keyword, in line order."""
        starts: set[int] = set()
        find, rfind = body.find, body.rfind
        for keyword in self._minimal:
            at = find(keyword)
            while at >= 0:
                start = rfind("\n", 0, at) + 1
                starts.add(start)
                end = find("\n", at)
                if end < 0:
                    break
                at = find(keyword, end + 1)
        candidates: list[Candidate] = []
        line = 0
        previous = 0
        of_text = self._owners.of_text
        for start in sorted(starts):
            line += body.count("\n", previous, start)
            previous = start
            end = find("\n", start)
            text = _strip_cr(body[start : end if end >= 0 else len(body)])
            candidates.append(Candidate(line, text, of_text(text)))
        return candidates


class HyperscanPrefilter:
    """Every keyword compiled as a literal into one hyperscan block-mode database.

    The body is UTF-8 encoded and scanned once; each match's end offset is mapped to its line
    by counting newlines between consecutive matches (`bytes.count` runs in C), so no table of
    line offsets is built for the millions of lines that hold no keyword.
    """

    __slots__ = ("_database", "_local", "_owners")

    def __init__(self, groups: Sequence[Iterable[str]]) -> None:
        import hyperscan

        self._owners = _Owners(_checked(groups))
        self._local = threading.local()
        self._database: hyperscan.Database | None = None
        keywords = self._owners.keywords
        if keywords:
            database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            database.compile(
                expressions=[keyword.encode("utf-8", _ENCODING_ERRORS) for keyword in keywords],
                ids=list(range(len(keywords))),
                elements=len(keywords),
                flags=0,
                literal=True,
            )
            self._database = database

    @property
    def name(self) -> str:
        """Return `hyperscan`."""
        return "hyperscan"

    def owners(self, text: str) -> tuple[int, ...]:
        """Return the groups with a keyword anywhere in `text`, ascending."""
        found: set[int] = set()
        for _end, keyword in self._matches(text.encode("utf-8", _ENCODING_ERRORS)):
            found.update(self._owners.of_keyword[keyword])
        return tuple(sorted(found))

    def scan(self, body: str) -> list[Candidate]:
        """Return every line of `body` that holds a keyword, in line order."""
        candidates: list[Candidate] = []
        line = position = 0
        # Encoding a chunk at a time bounds the memory a scan takes (a str holding one emoji
        # stores 4 bytes a character, and its encoder allocates for the worst case) and, with
        # chunks that stay in cache, measured faster than encoding the whole body at once.
        while position < len(body):
            cut = body.find("\n", position + _CHUNK_CHARACTERS)
            stop = len(body) if cut < 0 else cut + 1
            chunk = body if position == 0 and stop == len(body) else body[position:stop]
            line = self._scan_chunk(chunk.encode("utf-8", _ENCODING_ERRORS), line, candidates)
            position = stop
        return candidates

    def _scan_chunk(self, data: bytes, first_line: int, out: list[Candidate]) -> int:
        """Append the candidates of whole lines `data`; return the index of the line after it."""
        of_keyword = self._owners.of_keyword
        line = first_line
        start = 0
        end = -1
        owners: set[int] = set()
        for at, keyword in self._matches(data):
            if at > end:
                if owners:
                    out.append(self._candidate(data, line, start, end, owners))
                    owners = set()
                line += data.count(b"\n", start, at)
                start = data.rfind(b"\n", start, at) + 1
                end = data.find(b"\n", at)
                if end < 0:
                    end = len(data)
            owners.update(of_keyword[keyword])
        if owners:
            out.append(self._candidate(data, line, start, end, owners))
        return line + data.count(b"\n", start)

    @staticmethod
    def _candidate(data: bytes, line: int, start: int, end: int, owners: set[int]) -> Candidate:
        text = _strip_cr(data[start:end].decode("utf-8", _ENCODING_ERRORS))
        return Candidate(line, text, tuple(sorted(owners)))

    def _matches(self, data: bytes) -> list[tuple[int, int]]:
        """Return (offset of the last byte, keyword index) of every match, by offset."""
        if self._database is None or not data:
            return []
        found: list[tuple[int, int]] = []
        append = found.append

        def on_match(keyword: int, _start: int, end: int, _flags: int, _context: object) -> None:
            append((end - 1, keyword))

        self._database.scan(data, match_event_handler=on_match, scratch=self._scratch())
        # Block mode reports in end-offset order; sorting an ordered list is one cheap pass
        # and keeps the line mapping correct should an engine ever report out of order.
        found.sort()
        return found

    def _scratch(self) -> hyperscan.Scratch:
        """Return this thread's scratch space: hyperscan scratch must not be shared by threads."""
        scratch: hyperscan.Scratch | None = getattr(self._local, "scratch", None)
        if scratch is None:
            import hyperscan

            scratch = hyperscan.Scratch(self._database)
            self._local.scratch = scratch
        return scratch
