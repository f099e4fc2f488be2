"""Fold a quoted event for a report: a traceback keeps its application frames, the frame that
raised and every exception line, each run of library frames becomes one counted line, and
caret lines are left out."""

from __future__ import annotations

import regex

from service.ingest.records import Frame

# Matched against log text: the `regex` module with a timeout, as everywhere log text is read.
_FRAME = regex.compile(r'File "(?P<file>[^"]*)", line (?P<line>\d+)')
_PACKAGE = regex.compile(r"(?:site|dist)-packages/(?P<name>[A-Za-z0-9_.-]+?)(?:[/.]|$)")
_TIMEOUT = 0.5
_CARETS = regex.compile(r"\s+[\^~]+\s*")
MAX_LINES = 20


def fold_event(text: str) -> str:
    """Return the event with its library frames folded, or cut in the middle when still long."""
    # Python 3.11's caret lines (`^^^^`) only point into the line above: left out.
    lines = [line for line in text.splitlines() if not _CARETS.fullmatch(line)]
    folded = _fold_frames(lines)
    if len(folded) <= MAX_LINES:
        return "\n".join(folded)
    head, tail = 3, MAX_LINES - 4
    cut = len(folded) - head - tail
    return "\n".join([*folded[:head], f"  ... {cut} lines cut ...", *folded[-tail:]])


def _frame_at(line: str) -> tuple[int, bool, str] | None:
    """Return (column of `File`, whether it is application code, its package) for a frame line."""
    try:
        match = _FRAME.search(line, timeout=_TIMEOUT)
    except TimeoutError:
        return None
    if match is None:
        return None
    file = match.group("file")
    package = _PACKAGE.search(file.replace("\\", "/"), timeout=_TIMEOUT)
    name = package.group("name") if package else file.rsplit("/", 1)[-1]
    return match.start(), Frame(file, int(match.group("line")), "").is_application, name


def _fold_frames(lines: list[str]) -> list[str]:
    """Group each frame with its code lines; fold every run of two or more library frames that
    is not the last frame before an exception line."""
    out: list[str] = []
    run: list[tuple[str, list[str]]] = []  # library frames waiting: (package, their lines)
    index = 0
    while index < len(lines):
        found = _frame_at(lines[index])
        if found is None:
            _flush(out, run, keep_last=True)
            out.append(lines[index])
            index += 1
            continue
        column, application, package = found
        end = index + 1
        while end < len(lines) and _is_code_line(lines[end], column):
            end += 1
        block = lines[index:end]
        if application:
            _flush(out, run, keep_last=False)
            out.extend(block)
        else:
            run.append((package, block))
        index = end
    _flush(out, run, keep_last=True)
    return out


def _is_code_line(line: str, column: int) -> bool:
    """Return True for the source and caret lines Python prints under a frame."""
    return (
        len(line) > column + 2
        and line[column : column + 2] == "  "
        and bool(line[column:].strip())
        and _frame_at(line) is None
    )


def _flush(out: list[str], run: list[tuple[str, list[str]]], *, keep_last: bool) -> None:
    """Write the waiting library frames: one counted line for the run, and the frame that
    raised (the last before an exception line) in full."""
    if not run:
        return
    last = run.pop() if keep_last else None
    if len(run) == 1:
        out.extend(run[0][1])
    elif run:
        indent = run[0][1][0][: len(run[0][1][0]) - len(run[0][1][0].lstrip())]
        packages = ", ".join(dict.fromkeys(package for package, _ in run))
        out.append(f"{indent}... {len(run)} library frames folded ({packages}) ...")
    if last is not None:
        out.extend(last[1])
    run.clear()
