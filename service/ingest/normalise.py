"""Make raw log text safe to store and match: lines decoded, control-free, bounded in size.

A line that a log viewer hard-wrapped at `WRAP_WIDTH` columns is joined back (`normalised_lines`).
Invalid UTF-8 becomes U+FFFD, NUL is dropped, ANSI escapes are removed (also colour codes whose
ESC byte was lost on the way, `[31mERROR[0m`), other control characters become U+FFFD, and a line
over the byte limit is cut and marked with how much was dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import regex

REPLACEMENT = "\ufffd"
# A line of exactly this many characters followed by a bare line that goes on mid-word was cut by
# a log viewer or terminal (80 columns is the common default; other widths are not guessed).
WRAP_WIDTH = 80
TRUNCATION_MARK = " …[truncated {} bytes]"

_REGEX_TIMEOUT = 0.25
# Any character that needs work: C0 controls except tab, DEL, the C1 range (8-bit CSI is 0x9b), and
# lone surrogates (a JSON `\ud800` escape decodes to one; it cannot be encoded as UTF-8).
_NEEDS_WORK = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")
# The same in a whole text split at its line feeds (`clean_lines`), after `\r` became `\n`.
_NEEDS_WORK_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# CSI (ESC [ or 8-bit 0x9b) and OSC (ESC ] ... BEL or ST), then any other two-character escape.
# Each branch is a run of disjoint character classes, so matching stays linear.
_ANSI = regex.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[@-Z\\-_]?"
)
# SGR colour codes whose ESC was lost (copied from a browser or a log viewer). Only stripped from a
# line that also holds a reset `[0m`: every colouring library ends a span with one, and that keeps
# `[1m` in ordinary text (a duration, an index) as it is.
_ORPHAN_RESET = "[0m"
_ORPHAN_SGR = re.compile(r"\[[0-9;]{0,24}m")
_ORPHAN_PASSES = 8
# A bare exception line ("ValueError: x"), a PostgreSQL "DETAIL:" or a traceback's own line never
# continues a wrapped line.
_EXCEPTION_START = re.compile(r"(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?::|$)")
_CHAIN_STARTS = ("Traceback", "During handling", "The above exception")
# Tab is kept; NUL is dropped; every other C0/C1 control, DEL and lone surrogate becomes U+FFFD.
_CONTROLS: dict[int, str | None] = {
    code: REPLACEMENT
    for code in (*range(0x20), *range(0x7F, 0xA0), *range(0xD800, 0xE000))
    if code != 0x09
}
_CONTROLS[0x00] = None


def decode_bytes(data: bytes) -> str:
    """Decode bytes as UTF-8, replacing invalid sequences and dropping a leading BOM."""
    text = data.decode("utf-8", errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


def normalise_line(text: str, *, max_bytes: int = 65536) -> str:
    """Strip NUL and ANSI escapes, replace control characters and truncate an over-long line."""
    if _NEEDS_WORK.search(text) is not None:
        text = _clean(text)
    if _ORPHAN_RESET in text:
        text = _strip_orphan_sgr(text)
    if len(text) * 4 <= max_bytes or (
        len(text) <= max_bytes and len(text.encode("utf-8")) <= max_bytes
    ):
        return text
    return _truncate(text, max_bytes)


def normalised_lines(
    text: str, *, max_bytes: int = 65536, headed: Callable[[str], bool]
) -> Iterator[str]:
    """Yield the normalised lines of text, a hard-wrapped line joined back into one.

    Blank lines are skipped; `headed` tells whether a line starts with a log header of its own
    (such a line is never the rest of a wrapped one).
    """
    raws = _line_breaks(text).split("\n")

    def normalise(raw: str) -> str:
        return normalise_line(raw, max_bytes=max_bytes)

    return _joined(raws, normalise, max_bytes=max_bytes, headed=headed)


def clean_lines(
    text: str, *, max_bytes: int = 65536, headed: Callable[[str], bool]
) -> list[str] | None:
    """Return `normalised_lines` of a text that needs no normalising, or None for any other.

    One search of the whole text tells: no control character, lost colour code or line long
    enough to be cut; then only a line of exactly `WRAP_WIDTH` characters needs the line loop.
    """
    text = _line_breaks(text)
    if _NEEDS_WORK_IN_TEXT.search(text) is not None or _ORPHAN_RESET in text:
        return None
    raws = text.split("\n")
    lengths = list(map(len, raws))
    if max(lengths) * 4 > max_bytes:
        return None
    if WRAP_WIDTH not in lengths:
        return [raw for raw in raws if raw]
    return list(_joined(raws, None, max_bytes=max_bytes, headed=headed))


def _line_breaks(text: str) -> str:
    """Return the text without a leading BOM, every line break a line feed."""
    text = text.removeprefix("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _joined(
    raws: list[str],
    normalise: Callable[[str], str] | None,
    *,
    max_bytes: int,
    headed: Callable[[str], bool],
) -> Iterator[str]:
    """Yield the lines, each normalised (None: they need not be), a hard wrap joined back."""
    held = ""
    cut = False  # the last line (or piece) was exactly WRAP_WIDTH characters long
    limit = max_bytes // 4
    for raw in raws:
        if not raw:
            cut = False
            continue
        line = raw if normalise is None else normalise(raw)
        if cut and len(held) < limit and _continues(held, line, headed):
            held += line
        else:
            if held:
                yield held
            held = line
        cut = len(line) == WRAP_WIDTH
    if held:
        yield held


def _continues(held: str, line: str, headed: Callable[[str], bool]) -> bool:
    """Tell whether `line` is the rest of `held`, cut at exactly `WRAP_WIDTH` characters.

    Only when that is safe: the cut line starts at column 0 (a traceback's frames are indented),
    and the rest goes on mid-word (or after the one space the cut fell on), has no header of its
    own, and is no traceback line, exception line or PostgreSQL `DETAIL:`.
    """
    first = line[:1]
    if not (first.isalnum() or first == "_" or (first == " " and line[1:2].isalnum())):
        return False
    if held[:1].isspace() or line.startswith(_CHAIN_STARTS) or _EXCEPTION_START.match(line):
        return False
    return not headed(line)


def normalise_message(text: str, *, max_bytes: int = 65536) -> str:
    """Normalise each line of a multi-line message (a JSON log's text), keeping its newlines."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(normalise_line(line, max_bytes=max_bytes) for line in text.split("\n"))


def _strip_orphan_sgr(text: str) -> str:
    # Removing one code can join the halves of another (`[[0m0m`): repeat, a bounded number of
    # times so that hostile nesting stays linear.
    for _ in range(_ORPHAN_PASSES):
        stripped = _ORPHAN_SGR.sub("", text)
        if stripped == text or _ORPHAN_RESET not in stripped:
            return stripped
        text = stripped
    return text


def _clean(text: str) -> str:
    if "\x1b" in text or "\x9b" in text:
        try:
            text = _ANSI.sub("", text, timeout=_REGEX_TIMEOUT)
        except TimeoutError:
            text = text.replace("\x1b", "").replace("\x9b", "")
    return text.translate(_CONTROLS)


def _truncate(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    total = len(encoded)
    if total <= max_bytes:
        return text
    # The mark is sized for the largest count it could show, so head + mark stays within max_bytes.
    budget = max(0, max_bytes - len(TRUNCATION_MARK.format(total).encode("utf-8")))
    head = encoded[:budget].decode("utf-8", errors="ignore")
    dropped = total - len(head.encode("utf-8"))
    return head + TRUNCATION_MARK.format(dropped)
