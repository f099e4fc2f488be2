"""Filters that keep hostile log text inert inside markdown: fences, inline code, escaped text."""

from __future__ import annotations

import re

# Inline markup anywhere: backslash, code, emphasis (`_` only where it can open or close one:
# `DB_DOWN` stays as written), links and images, strikethrough.
_INLINE = re.compile(r"[\\`*\[\]~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# Block markup at the start of the text: a heading, a quote, a list item, a numbered item.
_BLOCK_START = re.compile(r"^(\s*)(?:(#)|([-+])(?=\s|$)|(\d+)([.)]))")
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
    """Return `text` as plain markdown text: no emphasis, links, images, headings or HTML.

    Only what markdown would act on is escaped, so the raw text reads as written (`start-up`,
    `(pcls)`, `DB_DOWN`) and renders back to exactly the text.
    """
    text = _NEWLINES.sub(" ", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _INLINE.sub(lambda m: "\\" + m.group(0), text)
    return _BLOCK_START.sub(_escape_block, text)


def _escape_block(match: re.Match[str]) -> str:
    indent, heading, bullet, number, dot = match.groups()
    if heading:
        return f"{indent}\\#"
    if bullet:
        return f"{indent}\\{bullet}"
    return f"{indent}{number}\\{dot}"


def prose(text: str) -> str:
    """Return log-derived text for a sentence of prose (the same as `escape`, which leaves
    punctuation that markdown would not act on as it reads: `compute-time`, `try=1/5`)."""
    return escape(text)


def cell(text: str) -> str:
    """Return `text` escaped for one markdown table cell."""
    return escape(text).replace("|", "&#124;")
