"""Prometheus label-set strings (`{app="api", job="render"}`), as Loki's protobuf push carries a
stream's labels: written by Go's `labels.Labels.String()`, read back by PromQL's `ParseMetric`.
"""

from __future__ import annotations

import re

# The Prometheus label-set string of a protobuf stream, as Go's `labels.Labels.String()` writes it
# (`{app="api", job="render"}`, values quoted by `strconv.Quote`) and PromQL's `ParseMetric` reads
# it back. Each pattern is one character class: matched in linear time, without backtracking.
_SPACE = re.compile(r"[ \t\r\n]*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN = re.compile(r'[^"\\\n]*')
_HEX = frozenset("0123456789abcdefABCDEF")
_OCTAL = frozenset("01234567")
_SIMPLE_ESCAPES = dict(zip('abfnrtv\\"', '\a\b\f\n\r\t\v\\"', strict=True))
_RUNE_WIDTHS = {"u": 4, "U": 8}


def parse_label_set(text: str) -> dict[str, str] | None:
    """Parse a Prometheus label-set string (`{app="api", job="render"}`); None if malformed.

    Values are double-quoted with Go's escapes (`\\"`, `\\\\`, `\\n`, `\\t`, `\\xNN`, `\\u00e9`...);
    names are identifiers or, as Prometheus 3 writes UTF-8 names, quoted. A trailing comma and an
    empty set are allowed; a repeated name is not. Empty values are dropped, as Loki drops them.
    """
    labels: dict[str, str] = {}
    position = _skip_space(text, 0)
    if not text.startswith("{", position):
        return None
    position = _skip_space(text, position + 1)
    while not text.startswith("}", position):
        name, position = _label_name(text, position)
        position = _skip_space(text, position)
        if not name or name in labels or not text.startswith("=", position):
            return None
        value, position = _quoted(text, _skip_space(text, position + 1))
        if value is None:
            return None
        labels[name] = value
        position = _skip_space(text, position)
        if text.startswith(",", position):
            position = _skip_space(text, position + 1)
        elif not text.startswith("}", position):
            return None
    if _skip_space(text, position + 1) != len(text):
        return None
    return {name: value for name, value in labels.items() if value}


def _skip_space(text: str, position: int) -> int:
    match = _SPACE.match(text, position)
    return position if match is None else match.end()


def _label_name(text: str, position: int) -> tuple[str | None, int]:
    """Read a label name at `position`: an identifier or a quoted string."""
    if text.startswith('"', position):
        return _quoted(text, position)
    match = _NAME.match(text, position)
    return (None, position) if match is None else (match.group(), match.end())


def _quoted(text: str, position: int) -> tuple[str | None, int]:
    """Read a double-quoted Go string literal at `position`; return it and the position after it.

    `\\x` and octal escapes are bytes (several may spell one UTF-8 character); an invalid byte
    sequence reads as U+FFFD.
    """
    if not text.startswith('"', position):
        return None, position
    parts: list[str] = []
    pending = bytearray()  # bytes of \x and octal escapes, decoded together
    position += 1
    while True:
        plain = _PLAIN.match(text, position)
        if plain is not None and plain.end() > position:
            parts.append(_flush(pending) + plain.group())
            position = plain.end()
        char = text[position : position + 1]
        if char == '"':
            parts.append(_flush(pending))
            return "".join(parts), position + 1
        if char != "\\":  # the end of the text, or a raw newline
            return None, position
        escape = text[position + 1 : position + 2]
        if escape in _SIMPLE_ESCAPES:
            parts.append(_flush(pending) + _SIMPLE_ESCAPES[escape])
            position += 2
        elif escape == "x" or (escape and escape in _OCTAL):
            byte = _escaped_byte(text[position + 1 : position + 4])
            if byte is None:
                return None, position
            pending.append(byte)
            position += 4
        elif escape in _RUNE_WIDTHS:
            end = position + 2 + _RUNE_WIDTHS[escape]
            rune = _escaped_rune(text[position + 2 : end], _RUNE_WIDTHS[escape])
            if rune is None:
                return None, position
            parts.append(_flush(pending) + rune)
            position = end
        else:
            return None, position


def _flush(pending: bytearray) -> str:
    """Decode and empty the pending escaped bytes."""
    if not pending:
        return ""
    text = pending.decode("utf-8", errors="replace")
    pending.clear()
    return text


def _escaped_byte(escape: str) -> int | None:
    """Return the byte of `xNN` (two hex digits) or `NNN` (three octal digits, up to 377)."""
    if len(escape) != 3:
        return None
    if escape[0] == "x":
        return int(escape[1:], 16) if set(escape[1:]) <= _HEX else None
    if not set(escape) <= _OCTAL:
        return None
    value = int(escape, 8)
    return value if value <= 0xFF else None


def _escaped_rune(digits: str, width: int) -> str | None:
    """Return the character of `\\uNNNN` or `\\UNNNNNNNN`; None for a surrogate or past U+10FFFF."""
    if len(digits) != width or not set(digits) <= _HEX:
        return None
    code = int(digits, 16)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)
