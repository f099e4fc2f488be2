"""Ordered masking rules that turn an exception message into its shape, as error trackers group.

Like Drain3's masking instructions: each named rule replaces what varies between occurrences of
one bug (ids, numbers, values) with a placeholder, in order, so that the same bug raised with a
thousand different ids yields one message. Order matters: a UUID is masked before its hex runs
and digits could be, a timestamp before its numbers, a quoted value before the path inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

# Masks run over log text: bounded input, and a timeout as for every regex that sees log text.
MAX_MESSAGE_CHARACTERS = 500
MASK_TIMEOUT_SECONDS = 0.05
UNMASKABLE = "<unmaskable>"

_HEX = "[0-9a-fA-F]"
_IPV4 = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}"
_IPV6 = (
    r"(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}"
    r"|(?:[0-9a-fA-F]{1,4}:){1,7}:(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,6})?"
    r"|::(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,6})?"
)


@dataclass(frozen=True, slots=True)
class Mask:
    """One named masking rule: every match of `pattern` becomes `replacement`."""

    name: str
    pattern: regex.Pattern[str]
    replacement: str

    def apply(self, text: str) -> str:
        """Return `text` with every match of this rule replaced."""
        result: str = self.pattern.sub(self.replacement, text, timeout=MASK_TIMEOUT_SECONDS)
        return result


def _mask(name: str, pattern: str, replacement: str) -> Mask:
    return Mask(name, regex.compile(pattern), replacement)


MASKS: tuple[Mask, ...] = (
    _mask(
        "uuid",
        rf"(?<![0-9a-zA-Z]){_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}(?![0-9a-zA-Z])",
        "<uuid>",
    ),
    _mask("hex", r"(?<![\w])0[xX][0-9a-fA-F]+(?![\w])", "<hex>"),
    # Long hex ids (request ids, object ids, commit hashes): at least one digit and one letter,
    # so that a long plain number stays a number and a plain word stays a word.
    _mask(
        "id",
        r"(?<![\w])(?=[0-9a-fA-F]*[0-9])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}(?![\w])",
        "<id>",
    ),
    _mask(
        "timestamp",
        r"(?<!\d)\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
        r"(?:Z|[+-]\d{2}:?\d{2})?)?(?!\d)",
        "<ts>",
    ),
    _mask("ip", rf"(?<![\w.:])(?:{_IPV4}|{_IPV6})(?!\w|\.\d|::)", "<ip>"),
    _mask("url", r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+", "<url>"),
    # A quoted value keeps its quotes, so `'<str>'` still reads as a quoted value.
    # The opening quote must not follow a letter, or "can't find 'x'" would lose its middle.
    _mask("single-quoted", r"(?<!\w)'[^'\n]*'(?!\w)", "'<str>'"),
    _mask("double-quoted", r'(?<!\w)"[^"\n]*"(?!\w)', '"<str>"'),
    _mask(
        "path",
        r"(?<![\w/.<>-])(?:[A-Za-z]:\\[^\s:'\"]+|(?:~|\.{1,2})?/[\w.@+-]+(?:/[\w.@+-]*)*)",
        "<path>",
    ),
    _mask("number", r"(?<![\w.<])[-+]?\d+(?:\.\d+)?(?!\.?\d)", "<num>"),
)


def mask_message(text: str, masks: tuple[Mask, ...] = MASKS) -> str:
    """Return the first line of `text` with every rule applied in order, cut to a bounded size."""
    line = text.strip().split("\n", 1)[0].strip()[:MAX_MESSAGE_CHARACTERS]
    try:
        for mask in masks:
            line = mask.apply(line)
    except TimeoutError:
        return UNMASKABLE
    return line
