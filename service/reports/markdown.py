"""Filters that keep hostile log text inert inside markdown: fences, inline code, escaped text."""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")
_BACKTICKS = re.compile(r"`+")
_NEWLINES = re.compile(r"[\r\n]+")


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def fence(text: str, language: str = "text") -> str:
    """Return `text` as a fenced code block whose fence no line of the text can close."""
    ticks = "`" * max(3, _longest_backtick_run(text) + 1)
    return f"{ticks}{language}\n{text.rstrip()}\n{ticks}"


def code(text: str) -> str:
    """Return `text` as one inline code span, safe whatever backticks it holds."""
    text = _NEWLINES.sub(" ", text)
    ticks = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def escape(text: str) -> str:
    """Return `text` as plain markdown text: no emphasis, links, images, headings or HTML."""
    text = _NEWLINES.sub(" ", text)
    text = _SPECIAL.sub(r"\\\1", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def prose(text: str) -> str:
    """Return log-derived text for a sentence of prose: no HTML, no link or image, no code span
    opened; other punctuation stays as it reads (`compute-time`, `try=1/5`)."""
    text = _NEWLINES.sub(" ", text)
    for char, escaped in (("\\", "\\\\"), ("`", "\\`"), ("[", "\\["), ("]", "\\]")):
        text = text.replace(char, escaped)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def cell(text: str) -> str:
    """Return `text` escaped for one markdown table cell."""
    return escape(text).replace("\\|", "&#124;")
