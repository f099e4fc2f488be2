"""How signature regexes are compiled, searched within a CPU budget, and probed for catastrophic
backtracking.

The loader and the matcher share `compile_pattern` and `search_within`, so a regex behaves the
same in both.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import regex

# Events are multi-line tracebacks: `^`/`$` anchor at line boundaries, `.` stays within a line.
FLAGS = regex.MULTILINE
PROBE_LENGTH = 10_000
PROBE_BUDGET_SECONDS = 0.05
# Enough distinct characters to cover any pattern's literals without making the probe slow.
_MAX_PROBE_CHARACTERS = 32
_METACHARACTERS = frozenset("\\^$.|?*+()[]{}")
# Literal runs combined pairwise into probes: the first few carry a pattern's anchors.
_PAIRED_RUNS = 6
# A search that ran out of time is measured again this many times with this thread's CPU clock.
_MEASURED_TRIES = 2


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
    paired = runs[:_PAIRED_RUNS]
    for first, later in itertools.combinations(range(len(paired)), 2):
        # A prefix, then a long repetition of what a later (quantified) group matches, then a
        # character nothing expects: `ZQ(b|bb)+$` on "ZQbbbb...\0" tries every way to split it.
        yield (paired[first] + _fill(paired[later]))[: PROBE_LENGTH - 1] + "\x00"


def probe_pattern(compiled: regex.Pattern[str], source: str) -> str | None:
    """Return why the regex is too slow on a hostile line, or None when it is fast enough."""
    for index, text in enumerate(hostile_inputs(source)):
        try:
            search_within(compiled, text, PROBE_BUDGET_SECONDS)
        except TimeoutError:
            sample = text[:24].replace("\n", "\\n")
            return (
                f"regex takes over {PROBE_BUDGET_SECONDS * 1000:.0f} ms of CPU time on a hostile "
                f"{len(text)}-character line (probe {index}: {sample!r}...)"
            )
    return None


def search_within(
    compiled: regex.Pattern[str], text: str, budget: float
) -> regex.Match[str] | None:
    """Search `text`; raise TimeoutError only when this thread spent `budget` seconds of CPU on it.

    The regex module's own timeout runs on a clock that also advances while the process waits
    for the CPU or other threads run: on a busy or paused host an ordinary line can overrun it.
    Such a search is tried again on this thread's CPU clock (`time.thread_time`); catastrophic
    backtracking spends the budget every time, a pause does not. When every try overran the
    clock without spending the CPU (a host too busy to tell), the search counts as no match
    rather than blaming the regex. The first try is not measured, so a search that finishes in
    time costs nothing more.
    """
    try:
        return compiled.search(text, timeout=budget)
    except TimeoutError:
        pass
    spent = 0.0
    for _ in range(_MEASURED_TRIES):
        started = time.thread_time()
        try:
            return compiled.search(text, timeout=budget)
        except TimeoutError:
            took = time.thread_time() - started
        spent += took
        # Half the budget: the regex module's clock may count other threads' CPU time too.
        if took >= budget / 2 or spent >= budget:
            raise TimeoutError(f"regex search spent {spent * 1000:.0f} ms of CPU time") from None
    return None
