"""Signature text as a report shows it: the steps of a fix (a numbered item, or a paragraph
after a code sample, starts one), the first whole and the rest named; a root cause with its
generic paragraphs, the same in every report of the signature, condensed."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Signature files are trusted text (never log text), so stdlib `re` is fine here.
_NUMBERED = re.compile(r"^\d+\.\s+")
_SENTENCE_END = re.compile(r"(?<=[.:;])\s")
# Lines of fix text a report shows whole before it only names the remaining steps.
SHOWN_LINES = 10


@dataclass(frozen=True)
class FixExcerpt:
    """The fix as a report shows it: the first steps whole, the others by their first sentence."""

    shown: str
    named: tuple[str, ...]
    # The first step's code sample is left out (too long): the signature file has it.
    code_left_out: bool = False


NO_FIX = FixExcerpt("", ())


def split_steps(fix: str) -> list[list[str]]:
    """Return the fix's steps, each as its lines (the blank lines after it kept)."""
    steps: list[list[str]] = []
    fenced = has_code = False
    after_blank = True
    for line in fix.strip().splitlines():
        bare = line.strip()
        starts = (
            not fenced
            and bool(bare)
            and (_NUMBERED.match(line) is not None or (after_blank and has_code))
        )
        if starts or not steps:
            steps.append([])
            has_code = False
        steps[-1].append(line)
        if bare.startswith("```"):
            fenced = not fenced
            has_code = True
        after_blank = not bare and not fenced
    return [step for step in steps if any(s.strip() for s in step)]


def _trimmed(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def step_sentence(step: list[str]) -> str:
    """Return the first sentence of a step's prose, its number left out."""
    prose: list[str] = []
    for line in step:
        if not line.strip() or line.strip().startswith("```"):
            break
        prose.append(line.strip())
    text = _NUMBERED.sub("", " ".join(prose))
    if text.startswith("**") and "**" in text[2:]:
        return text[: text.index("**", 2) + 2]
    parts = _SENTENCE_END.split(text, maxsplit=1)
    balanced = parts[0].count("`") % 2 == 0 and parts[0].count("**") % 2 == 0
    return (parts[0] if balanced else text).rstrip(":;")


def first_step(fix: str) -> str:
    """Return the fix's first step in one line of prose (the first paragraph that is no code)."""
    for step in split_steps(fix):
        prose = []
        for line in step:
            if not line.strip() or line.strip().startswith("```"):
                break
            prose.append(line.strip())
        if prose:
            text = _NUMBERED.sub("", " ".join(prose))
            # "Rewrite the query and await it:" introduces its code; as a line of its own it ends.
            return text[:-1] + "." if text.endswith(":") else text
    return ""


def fix_excerpt(fix: str, budget: int = SHOWN_LINES) -> FixExcerpt:
    """Return the first steps that fit in `budget` lines and name the rest; a first step too long
    to fit is shown by its prose, its code sample left to the signature."""
    steps = split_steps(fix)
    shown: list[list[str]] = []
    used = 0
    for step in steps:
        if used + len(_trimmed(step)) > budget:
            break
        shown.append(step)
        used += len(step)
    if not shown and steps:
        prose = _prose(steps[0])
        return FixExcerpt("\n".join(prose), _named(steps[1:]), True)
    named = _named(steps[len(shown) :])
    return FixExcerpt("\n".join(line for step in shown for line in step).strip(), named)


def after_first_step(excerpt: FixExcerpt, fix: str) -> FixExcerpt:
    """Return the excerpt without its opening paragraph when that is the first step the report's
    first lines already give, word for word."""
    step = first_step(fix)
    head, _, rest = excerpt.shown.partition("\n\n")
    if step and " ".join(head.split()) == step:
        return FixExcerpt(rest.strip(), excerpt.named, excerpt.code_left_out)
    return excerpt


def _named(steps: list[list[str]]) -> tuple[str, ...]:
    """Return the first sentences of steps, without their closing stop; code-only steps left out."""
    return tuple(s.rstrip(".") for s in map(step_sentence, steps) if s)


def _prose(step: list[str]) -> list[str]:
    """Return a step's lines up to its first code sample, without trailing blank lines."""
    prose: list[str] = []
    for line in step:
        if line.strip().startswith("```"):
            break
        prose.append(line)
    return _trimmed(prose)


_ITEM = re.compile(r"^(?:\d+\.|[-*])\s+")


def condense(filled: str, raw: str) -> tuple[str, bool]:
    """Return a root-cause text as a report shows it, and whether anything was left out.

    Its first paragraph and every paragraph the evidence filled in (it differs from the
    signature's own `raw` text) stay whole; a generic list keeps each item's first sentence;
    other generic paragraphs, the same in every report of the signature, are left out.
    """
    if "```" in filled:
        return filled.strip(), False
    generic = {" ".join(p.split()) for p in raw.strip().split("\n\n")}
    kept: list[str] = []
    left_out = False
    for index, paragraph in enumerate(filled.strip().split("\n\n")):
        if index == 0 or " ".join(paragraph.split()) not in generic:
            kept.append(paragraph)
            continue
        items = _items(paragraph)
        if items:
            kept.append("\n".join(items))
        left_out = True
    return "\n\n".join(kept), left_out


def _items(paragraph: str) -> list[str]:
    """Return a list paragraph's items, each as its marker and first sentence; [] for prose."""
    lines = paragraph.splitlines()
    if not lines or not _ITEM.match(lines[0]):
        return []
    items: list[list[str]] = []
    for line in lines:
        if _ITEM.match(line):
            items.append([line])
        elif items:
            items[-1].append(line)
    shortened = []
    for item in items:
        marker = _ITEM.match(item[0])
        assert marker is not None
        sentence = step_sentence([item[0][marker.end() :], *item[1:]])
        shortened.append(f"{marker.group(0).strip()} {sentence}")
    return shortened
