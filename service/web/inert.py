"""Invisible characters made visible on the pages: bidi controls (which reorder what follows
them, a U+202E can make `exe.txt` read `txt.exe`), zero-width characters (which hide a difference
between two names) and C0 controls left in log text. Each is shown as a visible mark
(`⟪U+202E⟫`, `␛`), so what the page shows is what the log holds."""

from __future__ import annotations

from typing import Any

import regex

_INVISIBLE = regex.compile(r"[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_CONTROL = regex.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _mark(found: Any) -> str:
    return f"⟪U+{ord(found.group()):04X}⟫"


def _symbol(found: Any) -> str:
    code = ord(found.group())
    return "\u2421" if code == 0x7F else chr(0x2400 + code)


def reveal(value: Any) -> Any:
    """Return `value` with invisible and control characters shown as marks (strings only)."""
    if not isinstance(value, str):
        return value
    if (
        _INVISIBLE.search(value, timeout=1.0) is None
        and _CONTROL.search(value, timeout=1.0) is None
    ):
        return value
    # A Markup value stays Markup: the marks hold no character HTML gives a meaning to.
    shown = _INVISIBLE.sub(_mark, value, timeout=1.0)
    shown = _CONTROL.sub(_symbol, shown, timeout=1.0)
    return type(value)(shown) if type(value) is not str else shown
