"""How signature regexes are compiled, and the probe that rejects catastrophic backtracking.

The loader and the matcher share `compile_pattern`, so a regex behaves the same in both.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import regex

# Events are multi-line tracebacks: `^`/`$` anchor at line boundaries, `.` stays within a line.
FLAGS = regex.MULTILINE
PROBE_LENGTH = 10_000
PROBE_BUDGET_SECONDS = 0.05
# Enough distinct characters to cover any pattern's literals without making the probe slow.
_MAX_PROBE_CHARACTERS = 32
_METACHARACTERS = frozenset("\\^$.|?*+()[]{}")


def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """Compile a signature regex with the flags every signature regex gets."""
    return regex.compile(pattern, FLAGS)


def group_names(compiled: regex.Pattern[str]) -> tuple[str, ...]:
    """Return the named groups of a compiled regex, in order of appearance."""
    names: dict[str, int] = compiled.groupindex
    return tuple(sorted(names, key=names.__getitem__))


def literal_runs(pattern: str) -> list[str]:
    """Return the runs of plain characters in a pattern's source, in order."""
    runs: list[str] = []
    current: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            escaped = False
            if not char.isalnum():
                current.append(char)
            continue
        if char == "\\":
            escaped = True
            continue
        if char in _METACHARACTERS:
            if current:
                runs.append("".join(current))
            current = []
            continue
        current.append(char)
    if current:
        runs.append("".join(current))
    return runs


def _fill(unit: str) -> str:
    """Return `unit` repeated to exactly the probe length."""
    repeats = PROBE_LENGTH // max(len(unit), 1) + 1
    return (unit * repeats)[:PROBE_LENGTH]


def hostile_inputs(pattern: str) -> Iterator[str]:
    """Yield 10 kB lines built from the pattern's own literals, shaped to provoke backtracking."""
    runs = literal_runs(pattern)
    characters = sorted({char for run in runs for char in run} | {"a", " ", "0"})
    characters = characters[:_MAX_PROBE_CHARACTERS]
    for char in characters:
        yield _fill(char)
        # A long run that fails on its very last character forces every backtracking path.
        yield _fill(char)[:-1] + "\x00"
    yield _fill("".join(characters))
    yield _fill("".join(runs) or "a")
    for run, char in itertools.product(runs[:4], ("a", " ", "0", "\n")):
        # A literal prefix followed by a long run is the classic shape that starts a slow path.
        yield _fill(run + char * 64)
    yield _fill("a" * 79 + "\n")


def probe_pattern(compiled: regex.Pattern[str], source: str) -> str | None:
    """Return why the regex is too slow on a hostile line, or None when it is fast enough."""
    for index, text in enumerate(hostile_inputs(source)):
        # One retry absorbs a scheduler hiccup; catastrophic backtracking fails both times.
        if _times_out(compiled, text) and _times_out(compiled, text):
            sample = text[:24].replace("\n", "\\n")
            return (
                f"regex takes over {PROBE_BUDGET_SECONDS * 1000:.0f} ms on a hostile "
                f"{len(text)}-character line (probe {index}: {sample!r}...)"
            )
    return None


def _times_out(compiled: regex.Pattern[str], text: str) -> bool:
    """Return True when searching `text` exceeds the probe budget."""
    try:
        compiled.search(text, timeout=PROBE_BUDGET_SECONDS)
    except TimeoutError:
        return True
    return False
